// Who is asking: the identity every gateway filter works with. Produced by authentication
// (an API key from the key store, a JWT, a client certificate, or nobody under --no-auth) and
// read by authorization, limits, guards and the audit log. Never holds a secret.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace citadel::gateway {

// Ordered: a higher role may do everything a lower one may.
//   viewer: list models, read /metrics when allowed; no inference.
//   user:   viewer + inference on its allowed models.
//   admin:  user + /admin/* (keys, usage).
enum class Role { kViewer = 0, kUser = 1, kAdmin = 2 };

std::optional<Role> parse_role(std::string_view name);  // "admin" | "user" | "viewer"
const char* role_name(Role role);

// Per-identity limits; 0 means unlimited.
struct KeyLimits {
    int64_t rpm = 0;             // requests per minute
    int64_t tpm = 0;             // tokens per minute (prompt + completion, charged as they stream)
    int64_t max_concurrent = 0;  // requests in flight at once
    int64_t daily_tokens = 0;    // tokens per UTC day
};

struct Identity {
    // Stable and non-secret; the key for limits, usage and audit records:
    // "key:<key id>", "jwt:<issuer>/<sub>", "mtls:<subject CN>", or "anonymous" (--no-auth).
    std::string id;
    std::string name;  // key name, JWT subject, certificate subject
    Role role = Role::kViewer;
    std::vector<std::string> models;  // glob patterns ('*', '?'); empty: every model
    KeyLimits limits;
};

// '*' matches any run of characters (also empty), '?' one character; everything else literally.
bool glob_match(std::string_view pattern, std::string_view text);
// True when `models` is empty or one of its patterns matches `model`.
bool model_allowed(const Identity& identity, std::string_view model);

}  // namespace citadel::gateway
