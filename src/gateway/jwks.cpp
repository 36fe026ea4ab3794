#include "gateway/jwks.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "core/log.h"
#include "gateway/crypto.h"

namespace citadel::gateway::jwt {
namespace {

using json = nlohmann::json;

constexpr int kMinRsaBits = 2048;
constexpr size_t kP256CoordinateBytes = 32;

struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
struct BnFree {
    void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct ParamBldFree {
    void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamFree {
    void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct MdCtxFree {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct EcdsaSigFree {
    void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using Bignum = std::unique_ptr<BIGNUM, BnFree>;

const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

// A base64url string member of a JWK, decoded; nullopt when absent, not a string or not
// base64url.
std::optional<std::string> member_bytes(const json& jwk, const char* name) {
    const auto it = jwk.find(name);
    if (it == jwk.end() || !it->is_string()) return std::nullopt;
    return crypto::base64url_decode(it->get_ref<const std::string&>());
}

std::string member_text(const json& jwk, const char* name) {
    const auto it = jwk.find(name);
    return it != jwk.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Builds a public key of `type_name` ("RSA", "EC") from OSSL_PARAMs and checks it.
std::shared_ptr<EVP_PKEY> key_from_params(const char* type_name, OSSL_PARAM* params) {
    PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type_name, nullptr));
    EVP_PKEY* pkey = nullptr;
    if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        ERR_clear_error();
        return nullptr;
    }
    std::shared_ptr<EVP_PKEY> key(pkey, EVP_PKEY_free);
    PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
        ERR_clear_error();
        return nullptr;
    }
    return key;
}

// nullptr plus a reason in `why` when the JWK cannot be used.
std::shared_ptr<EVP_PKEY> rsa_key(const json& jwk, std::string& why) {
    const auto n = member_bytes(jwk, "n");
    const auto e = member_bytes(jwk, "e");
    if (!n || !e || n->empty() || e->empty()) {
        why = "'n' or 'e' missing or not base64url";
        return nullptr;
    }
    Bignum bn_n(BN_bin2bn(bytes(*n), int(n->size()), nullptr));
    Bignum bn_e(BN_bin2bn(bytes(*e), int(e->size()), nullptr));
    std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
    if (!bn_n || !bn_e || !bld ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
        !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
        why = "out of memory";
        return nullptr;
    }
    std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld.get()));
    auto key = params ? key_from_params("RSA", params.get()) : nullptr;
    if (!key) {
        why = "not a valid RSA public key";
        return nullptr;
    }
    if (EVP_PKEY_get_bits(key.get()) < kMinRsaBits) {
        why = "RSA modulus under 2048 bits";
        return nullptr;
    }
    return key;
}

std::shared_ptr<EVP_PKEY> ec_key(const json& jwk, std::string& why) {
    if (member_text(jwk, "crv") != "P-256") {
        why = "curve '" + member_text(jwk, "crv") + "' (only P-256 is supported)";
        return nullptr;
    }
    const auto x = member_bytes(jwk, "x");
    const auto y = member_bytes(jwk, "y");
    if (!x || !y || x->size() != kP256CoordinateBytes || y->size() != kP256CoordinateBytes) {
        why = "'x' or 'y' missing or not 32 bytes of base64url";
        return nullptr;
    }
    std::string point = "\x04" + *x + *y;  // uncompressed SEC1 point
    char group[] = "prime256v1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
        OSSL_PARAM_construct_end()};
    auto key = key_from_params("EC", params);
    if (!key) why = "not a point on P-256";
    return key;
}

// One JWK -> a usable signing key, or nullopt with the reason it was skipped.
std::optional<PublicKey> parse_jwk(const json& jwk, std::string& why) {
    if (!jwk.is_object()) {
        why = "not a JSON object";
        return std::nullopt;
    }
    const std::string kty = member_text(jwk, "kty");
    const std::string use = member_text(jwk, "use");
    const std::string alg = member_text(jwk, "alg");
    if (!use.empty() && use != "sig") {
        why = "\"use\": \"" + use + "\" (not a signing key)";
        return std::nullopt;
    }
    PublicKey key;
    key.kid = member_text(jwk, "kid");
    if (kty == "RSA" && (alg.empty() || alg == "RS256")) {
        key.type = KeyType::kRsa;
        key.pkey = rsa_key(jwk, why);
    } else if (kty == "EC" && (alg.empty() || alg == "ES256")) {
        key.type = KeyType::kEc;
        key.pkey = ec_key(jwk, why);
    } else {
        why = "\"kty\": \"" + kty + "\", \"alg\": \"" + alg + "\" (RS256 and ES256 are supported)";
        return std::nullopt;
    }
    if (!key.pkey) return std::nullopt;
    return key;
}

// The DER encoding OpenSSL expects of an ECDSA signature, from the JWS form r||s.
std::optional<std::string> ecdsa_der(std::string_view raw) {
    if (raw.size() != 2 * kP256CoordinateBytes) return std::nullopt;
    std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(bytes(raw), int(kP256CoordinateBytes), nullptr);
    BIGNUM* s =
        BN_bin2bn(bytes(raw.substr(kP256CoordinateBytes)), int(kP256CoordinateBytes), nullptr);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
        BN_free(r);
        BN_free(s);
        return std::nullopt;
    }
    unsigned char* der = nullptr;
    const int size = i2d_ECDSA_SIG(sig.get(), &der);
    if (size <= 0) return std::nullopt;
    std::string out(reinterpret_cast<char*>(der), size_t(size));
    OPENSSL_free(der);
    return out;
}

// A failed check leaves entries on OpenSSL's per-thread error queue; they are cleared so they
// cannot be mistaken later for errors of unrelated calls (such as TLS I/O on this thread).
bool digest_verify(EVP_PKEY* pkey, std::string_view data, std::string_view signature) {
    std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
    const bool good = ctx &&
                      EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, pkey,
                                              nullptr) == 1 &&
                      EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(), bytes(data),
                                       data.size()) == 1;
    if (!good) ERR_clear_error();
    return good;
}

}  // namespace

Result<std::vector<PublicKey>> parse_jwks(std::string_view text, const std::string& source) {
    const json document = json::parse(text, nullptr, false);
    if (!document.is_object() || !document.contains("keys") || !document["keys"].is_array()) {
        return Status::error("JWKS '" + source +
                             "' is not a JSON Web Key Set (expected {\"keys\": [...]})");
    }
    std::vector<PublicKey> keys;
    size_t index = 0;
    for (const json& jwk : document["keys"]) {
        std::string why;
        if (auto key = parse_jwk(jwk, why)) {
            keys.push_back(std::move(*key));
        } else {
            CITADEL_LOG_INFO("JWKS '%s': key %zu ('%s') skipped: %s", source.c_str(), index,
                             jwk.is_object() ? member_text(jwk, "kid").c_str() : "", why.c_str());
        }
        ++index;
    }
    if (keys.empty()) {
        return Status::error("JWKS '" + source + "' has no usable RS256 or ES256 signing key");
    }
    return keys;
}

bool verify_rs256(const PublicKey& key, std::string_view signed_data, std::string_view signature) {
    if (key.type != KeyType::kRsa ||
        signature.size() != size_t(EVP_PKEY_get_size(key.pkey.get()))) {
        return false;
    }
    return digest_verify(key.pkey.get(), signed_data, signature);
}

bool verify_es256(const PublicKey& key, std::string_view signed_data, std::string_view signature) {
    if (key.type != KeyType::kEc) return false;
    const auto der = ecdsa_der(signature);
    return der && digest_verify(key.pkey.get(), signed_data, *der);
}

}  // namespace citadel::gateway::jwt
