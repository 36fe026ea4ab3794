// Small cryptographic helpers on OpenSSL's libcrypto, shared by the key store, JWT
// verification and the audit log: hashes, HMAC, secure random bytes, constant-time compare,
// base64 / base64url. Thread-safe (stateless).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace citadel::gateway::crypto {

std::string sha256(std::string_view data);                             // 32 raw bytes
std::string sha256_hex(std::string_view data);                         // 64 lower-case hex chars
std::string hmac_sha256(std::string_view key, std::string_view data);  // 32 raw bytes
std::string random_bytes(size_t n);                                    // from the OS CSPRNG
// Equal lengths and equal bytes, in time that depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

std::string to_hex(std::string_view bytes);
std::optional<std::string> from_hex(std::string_view hex);

std::string base64_encode(std::string_view bytes);     // standard alphabet, padded
std::string base64url_encode(std::string_view bytes);  // URL alphabet, no padding
// Accept padded or unpadded input; nullopt on any character outside the alphabet.
std::optional<std::string> base64_decode(std::string_view text);
std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace citadel::gateway::crypto
