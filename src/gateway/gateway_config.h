// Everything the gateway is configured with, as plain values. `citadel serve` fills it from
// its flags and the `gateway:` section of its YAML file; Gateway::create() turns it into the
// running filters (and refuses contradictory or unsafe settings with a message naming them).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "gateway/audit_log.h"
#include "gateway/classifier.h"
#include "gateway/identity.h"
#include "gateway/jwt.h"
#include "gateway/pii.h"
#include "gateway/redis_limiter.h"

namespace citadel::gateway {

// PII handling for one direction pair; later entries of GuardsConfig override earlier ones.
struct PiiPolicy {
    PiiMode input = PiiMode::kOff;
    PiiMode output = PiiMode::kOff;
};

struct GuardsConfig {
    PiiPolicy pii;                                     // the default for every request
    std::map<std::string, PiiPolicy> pii_by_model;     // model glob -> policy
    std::map<std::string, PiiPolicy> pii_by_identity;  // key name or identity id -> policy
    std::vector<std::string> pii_types;                // built-in types enabled (empty: all)
    std::vector<PiiPattern> pii_patterns;              // user-defined patterns
    bool injection = true;                             // the prompt-injection guard
    std::string injection_rules_file;                  // empty: the built-in rules
    std::optional<ClassifierOptions> classifier;       // the external content classifier
};

struct GatewayConfig {
    // Identity.
    bool auth = true;              // false: --no-auth (every request is "anonymous", role user)
    std::string keys_db;           // SQLite key store; empty: no API keys
    std::optional<JwtConfig> jwt;  // bearer JWTs
    std::map<std::string, Identity> mtls_identities;  // client certificate CN -> identity
    bool public_metrics = false;                      // /metrics without a credential
    // Limits.
    std::optional<RedisLimiterOptions> redis;      // shared counters; none: in-process
    std::map<std::string, int> model_concurrency;  // model glob -> requests in flight at most
    // Guards.
    GuardsConfig guards;
    // Audit.
    std::optional<AuditOptions> audit;
};

}  // namespace citadel::gateway
