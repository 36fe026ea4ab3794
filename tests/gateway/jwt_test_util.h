// Test helpers for JWT verification: fresh RSA-2048 and P-256 key pairs (OpenSSL), their JWKs,
// JWKS files and PEM text, and a signer that produces compact JWS tokens (HS256, RS256,
// ES256, or an unsigned "none" token). Header-only; every function is thread-safe.
#pragma once

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "gateway/crypto.h"

namespace citadel::gateway::testing {

using Pkey = std::shared_ptr<EVP_PKEY>;
using nlohmann::json;

inline Pkey generate_rsa_2048() {
    EVP_PKEY* key = EVP_RSA_gen(2048);
    CITADEL_CHECK(key != nullptr);
    return Pkey(key, EVP_PKEY_free);
}

inline Pkey generate_p256() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    CITADEL_CHECK(key != nullptr);
    return Pkey(key, EVP_PKEY_free);
}

// A big-number parameter of a key as big-endian bytes, left-padded to `width` when non-zero.
inline std::string bn_param(EVP_PKEY* key, const char* name, int width = 0) {
    BIGNUM* bn = nullptr;
    CITADEL_CHECK(EVP_PKEY_get_bn_param(key, name, &bn) == 1);
    std::string out(size_t(width ? width : BN_num_bytes(bn)), '\0');
    CITADEL_CHECK(BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), int(out.size())) >=
                  0);
    BN_free(bn);
    return out;
}

inline json rsa_jwk(EVP_PKEY* key, const std::string& kid) {
    json jwk = {{"kty", "RSA"},
                {"use", "sig"},
                {"alg", "RS256"},
                {"n", crypto::base64url_encode(bn_param(key, OSSL_PKEY_PARAM_RSA_N))},
                {"e", crypto::base64url_encode(bn_param(key, OSSL_PKEY_PARAM_RSA_E))}};
    if (!kid.empty()) jwk["kid"] = kid;
    return jwk;
}

inline json ec_jwk(EVP_PKEY* key, const std::string& kid) {
    json jwk = {{"kty", "EC"},
                {"crv", "P-256"},
                {"x", crypto::base64url_encode(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
                {"y", crypto::base64url_encode(bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
    if (!kid.empty()) jwk["kid"] = kid;
    return jwk;
}

inline std::string jwks(const std::vector<json>& keys) {
    return json{{"keys", keys}}.dump();
}

inline std::string public_pem(EVP_PKEY* key) {
    BIO* bio = BIO_new(BIO_s_mem());
    CITADEL_CHECK(bio && PEM_write_bio_PUBKEY(bio, key) == 1);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    std::string pem(data, size_t(size));
    BIO_free(bio);
    return pem;
}

inline void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    CITADEL_CHECK(out.good());
}

inline std::string digest_sign(EVP_PKEY* key, const std::string& data) {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t size = 0;
    CITADEL_CHECK(EVP_DigestSignInit_ex(ctx, nullptr, "SHA256", nullptr, nullptr, key, nullptr) ==
                  1);
    const auto* in = reinterpret_cast<const unsigned char*>(data.data());
    CITADEL_CHECK(EVP_DigestSign(ctx, nullptr, &size, in, data.size()) == 1);
    std::string signature(size, '\0');
    CITADEL_CHECK(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(signature.data()), &size, in,
                                 data.size()) == 1);
    EVP_MD_CTX_free(ctx);
    signature.resize(size);
    return signature;
}

// OpenSSL's DER ECDSA signature -> the JWS form r||s (32 bytes each).
inline std::string ecdsa_raw(const std::string& der) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, long(der.size()));
    CITADEL_CHECK(sig != nullptr);
    std::string raw(64, '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    CITADEL_CHECK(BN_bn2binpad(ECDSA_SIG_get0_r(sig), out, 32) == 32);
    CITADEL_CHECK(BN_bn2binpad(ECDSA_SIG_get0_s(sig), out + 32, 32) == 32);
    ECDSA_SIG_free(sig);
    return raw;
}

struct Signer {
    std::string alg;          // "HS256", "RS256", "ES256", or anything else for an empty signature
    std::string kid;          // put in the header when not empty
    std::string hmac_key;     // HS256
    EVP_PKEY* key = nullptr;  // RS256 / ES256 private key
};

inline std::string signature_for(const Signer& signer, const std::string& signing_input) {
    if (signer.alg == "HS256") return crypto::hmac_sha256(signer.hmac_key, signing_input);
    if (signer.alg == "RS256") return digest_sign(signer.key, signing_input);
    if (signer.alg == "ES256") return ecdsa_raw(digest_sign(signer.key, signing_input));
    return "";
}

// `header` may add or override members ("alg" set there wins over signer.alg in the header,
// while the signature is still made with signer.alg).
inline std::string make_token(const Signer& signer, const json& payload,
                              json header = json::object()) {
    json full = {{"alg", signer.alg}, {"typ", "JWT"}};
    if (!signer.kid.empty()) full["kid"] = signer.kid;
    full.update(header);
    const std::string signing_input =
        crypto::base64url_encode(full.dump()) + "." + crypto::base64url_encode(payload.dump());
    return signing_input + "." + crypto::base64url_encode(signature_for(signer, signing_input));
}

}  // namespace citadel::gateway::testing
