// AES-256-GCM for the audit log's text fields (prompt, completion), on OpenSSL's libcrypto.
//
// A sealed field is nonce(12) || ciphertext || tag(16), raw bytes (the log stores it base64).
// Every call draws a fresh random 96-bit nonce, so one key must not seal more than about 2^32
// fields (NIST SP 800-38D's bound for random nonces): rotate the key well before that.
// The associated data (AAD) is authenticated, not stored: opening with any other AAD fails.
//
// Thread-safe (stateless; every call builds and frees its own cipher context).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/status.h"

namespace citadel::gateway {

inline constexpr size_t kAuditKeyBytes = 32;
inline constexpr size_t kAuditNonceBytes = 12;
inline constexpr size_t kAuditTagBytes = 16;

// Reads a key file: exactly 32 raw bytes, or 64 hex characters with an optional trailing
// newline. Warns when the file is readable by group or others.
Result<std::string> load_audit_key(const std::string& path);

// key32: kAuditKeyBytes raw bytes (checked: anything else aborts, a bug in the caller).
std::string seal_audit_text(std::string_view key32, std::string_view plaintext,
                            std::string_view aad);
// Fails when `sealed` is too short, was altered, or was sealed with another key or AAD.
Result<std::string> open_audit_text(std::string_view key32, std::string_view sealed,
                                    std::string_view aad);

}  // namespace citadel::gateway
