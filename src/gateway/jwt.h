// Bearer JWTs (RFC 7519, compact JWS) as an alternative to API keys: signature check (HS256
// with a shared secret file; RS256 / ES256 with a JWKS file), the time, issuer and audience
// claims, and the mapping of the token to an Identity ("jwt:<iss>/<sub>", role, models).
//
// Safety rules: the header's `alg` must be one the configuration provides keys for and must
// match the selected key's type (an RSA public key is never used as an HMAC secret); `none`
// is always refused; tokens over 8 KiB are refused before parsing. verify()'s error messages
// are short, fixed phrases (with at most a sanitised echo of the token's own alg / kid / role)
// and are safe to send to the client.
//
// Threading: verify() is const and thread-safe. reload() may run concurrently with verify();
// it swaps in a new immutable key set, and calls already under way finish with the old one.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "gateway/identity.h"

namespace citadel::gateway {

struct JwtConfig {
    // HS256 when set (secret = file contents minus one trailing newline; at least 32 bytes).
    std::string hs256_secret_file;
    std::string jwks_file;                // RS256 / ES256 public keys (JWKS JSON) when set
    std::string issuer;                   // required `iss` when non-empty
    std::string audience;                 // required in `aud` (string or array) when non-empty
    std::string role_claim = "role";      // string or array of strings; highest known role wins
    std::string models_claim = "models";  // array of globs, or one space/comma separated string
    std::optional<Role> default_role;     // when the token has no role claim; nullopt = refuse
    int leeway_s = 60;                    // clock skew allowed for exp, nbf and iat
    KeyLimits limits;                     // limits given to every JWT identity
};

class JwtVerifier {
  public:
    // Loads the secret and/or JWKS; errors name the file and what is wrong with it.
    static Result<std::unique_ptr<JwtVerifier>> create(JwtConfig config);
    ~JwtVerifier();

    // On failure the message is one of: "token too large", "malformed token",
    // "unsupported critical header", "unsupported algorithm 'X'", "unknown key id 'k'",
    // "token has no key id (kid)", "bad signature", "token expired", "token not yet valid",
    // "wrong issuer", "wrong audience", "missing claim 'exp'|'sub'", "invalid claim 'c'",
    // "no role in token", "unknown role 'x'", "token allows no models".
    Result<Identity> verify(std::string_view token, int64_t now_unix) const;

    // Re-reads the secret / JWKS files (on SIGHUP); on error keeps the current keys.
    Status reload();

    struct Keys;  // the loaded key material (immutable once built)

  private:
    explicit JwtVerifier(JwtConfig config, std::shared_ptr<const Keys> keys);
    std::shared_ptr<const Keys> keys() const;
    Result<Identity> identity_from_claims(std::string_view payload_b64, int64_t now_unix) const;

    const JwtConfig config_;
    mutable std::mutex keys_mutex_;  // guards keys_ (the pointer, not the pointee)
    std::shared_ptr<const Keys> keys_;
};

// Three non-empty base64url parts separated by dots (API keys, `ck_...`, have no dots).
bool looks_like_jwt(std::string_view bearer);

}  // namespace citadel::gateway
