// Public keys for JWT signatures: parsing a JSON Web Key Set (RFC 7517) into OpenSSL keys,
// and checking RS256 (RSASSA-PKCS1-v1_5 with SHA-256) and ES256 (ECDSA P-256 with SHA-256)
// signatures with them. Only signing keys are kept: "use" other than "sig", unknown "kty",
// curves other than P-256, RSA moduli under 2048 bits and keys whose "alg" names another
// algorithm are skipped (and logged).
//
// Threading: a PublicKey is immutable after parsing and may be used from many threads at once
// (OpenSSL 3 allows concurrent verification with one EVP_PKEY).
#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace citadel::gateway::jwt {

enum class KeyType { kRsa, kEc };  // RS256 and ES256 keys

struct PublicKey {
    std::string kid;  // empty when the JWK has none
    KeyType type = KeyType::kRsa;
    std::shared_ptr<EVP_PKEY> pkey;
};

// The usable keys of a JWKS document; an error when the JSON is not a key set or holds no
// usable key. `source` names the document in messages (a file path).
Result<std::vector<PublicKey>> parse_jwks(std::string_view json, const std::string& source);

// `signature` is the raw JWS signature: the RSA signature, or r||s (64 bytes) for ES256.
bool verify_rs256(const PublicKey& key, std::string_view signed_data, std::string_view signature);
bool verify_es256(const PublicKey& key, std::string_view signed_data, std::string_view signature);

}  // namespace citadel::gateway::jwt
