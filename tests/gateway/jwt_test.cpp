#include "gateway/jwt.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "gateway/jwt_test_util.h"

namespace citadel::gateway {
namespace {

using namespace citadel::gateway::testing;  // NOLINT: test helpers

constexpr int64_t kNow = 1'750'000'000;
const std::string kIssuer = "https://issuer.example";
const std::string kSecret = "0123456789abcdef0123456789abcdef-hs256";

class TempDir {
  public:
    TempDir() {
        std::string pattern = (std::filesystem::temp_directory_path() / "citadel-jwt-XXXXXX");
        CITADEL_CHECK(mkdtemp(pattern.data()) != nullptr);
        path_ = pattern;
    }
    ~TempDir() { std::filesystem::remove_all(path_); }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

  private:
    std::filesystem::path path_;
};

class Jwt : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        rsa_ = generate_rsa_2048();
        ec_ = generate_p256();
        ec2_ = generate_p256();
    }
    static void TearDownTestSuite() {
        rsa_.reset();
        ec_.reset();
        ec2_.reset();
    }

    void SetUp() override {
        write_file(secret_path_, kSecret + "\n");
        const json enc_key = [] {
            json k = ec_jwk(ec2_.get(), "enc-1");
            k["use"] = "enc";
            return k;
        }();
        const json oct_key = {{"kty", "oct"}, {"kid", "oct-1"}, {"k", "c2VjcmV0"}};
        const json okp_key = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", "AAAA"}};
        write_file(jwks_path_, jwks({rsa_jwk(rsa_.get(), "rsa-1"), ec_jwk(ec_.get(), "ec-1"),
                                     enc_key, oct_key, okp_key}));
    }

    JwtConfig config(bool with_secret = true, bool with_jwks = true) const {
        JwtConfig c;
        if (with_secret) c.hs256_secret_file = secret_path_;
        if (with_jwks) c.jwks_file = jwks_path_;
        c.issuer = kIssuer;
        c.audience = "citadel";
        c.limits.rpm = 30;
        c.limits.daily_tokens = 1000;
        return c;
    }

    static std::unique_ptr<JwtVerifier> make(const JwtConfig& c) {
        auto verifier = JwtVerifier::create(c);
        EXPECT_TRUE(verifier.ok()) << verifier.error();
        return verifier.ok() ? std::move(verifier).value() : nullptr;
    }

    static json claims() {
        return {{"iss", kIssuer}, {"aud", "citadel"}, {"sub", "alice"},     {"exp", kNow + 600},
                {"iat", kNow},    {"role", "user"},   {"models", {"qwen*"}}};
    }

    static Signer hs() { return {"HS256", "", kSecret, nullptr}; }
    static Signer rs() { return {"RS256", "rsa-1", "", rsa_.get()}; }
    static Signer es() { return {"ES256", "ec-1", "", ec_.get()}; }

    // "ok" or the error message, for compact assertions.
    static std::string outcome(const JwtVerifier& v, const std::string& token, int64_t now = kNow) {
        auto identity = v.verify(token, now);
        return identity.ok() ? "ok" : identity.error();
    }

    static std::string with_claim(const std::string& name, const json& value) {
        json c = claims();
        c[name] = value;
        return make_token(hs(), c);
    }
    static std::string without_claim(const std::string& name) {
        json c = claims();
        c.erase(name);
        return make_token(hs(), c);
    }

    static inline Pkey rsa_, ec_, ec2_;
    TempDir dir_;
    const std::string secret_path_ = dir_.file("hs256.secret");
    const std::string jwks_path_ = dir_.file("jwks.json");
};

TEST_F(Jwt, AcceptsHs256Rs256AndEs256) {
    auto v = make(config());
    ASSERT_TRUE(v);
    for (const Signer& signer : {hs(), rs(), es()}) {
        auto identity = v->verify(make_token(signer, claims()), kNow);
        ASSERT_TRUE(identity.ok()) << signer.alg << ": " << identity.error();
        EXPECT_EQ(identity->id, "jwt:https://issuer.example/alice");
        EXPECT_EQ(identity->name, "alice");
        EXPECT_EQ(identity->role, Role::kUser);
        EXPECT_EQ(identity->models, std::vector<std::string>{"qwen*"});
        EXPECT_EQ(identity->limits.rpm, 30);
        EXPECT_EQ(identity->limits.daily_tokens, 1000);
    }
}

TEST_F(Jwt, RefusesMalformedTokens) {
    auto v = make(config());
    ASSERT_TRUE(v);
    const std::string good = make_token(hs(), claims());
    const std::string not_json = crypto::base64url_encode("hello");
    const std::string no_alg = crypto::base64url_encode(R"({"typ":"JWT"})");
    for (const std::string& token :
         {std::string(), std::string("abc"), std::string("a.b"), good + ".x",
          std::string("!!.!!.!!"), not_json + good.substr(good.find('.')),
          no_alg + good.substr(good.find('.')),
          good.substr(0, good.find('.') + 1) + good.substr(good.rfind('.'))}) {
        EXPECT_EQ(outcome(*v, token), "malformed token") << token;
    }
    // A well-signed token whose payload is not a JSON object.
    const std::string input = good.substr(0, good.find('.')) + "." + not_json;
    const std::string signed_garbage =
        input + "." + crypto::base64url_encode(crypto::hmac_sha256(kSecret, input));
    EXPECT_EQ(outcome(*v, signed_garbage), "malformed token");
    EXPECT_EQ(outcome(*v, make_token(hs(), claims(), {{"crit", {"exp"}}})),
              "unsupported critical header");
}

TEST_F(Jwt, RefusesUnsupportedAlgorithmsAndNone) {
    auto v = make(config());
    ASSERT_TRUE(v);
    EXPECT_EQ(outcome(*v, make_token(hs(), claims(), {{"alg", "HS512"}})),
              "unsupported algorithm 'HS512'");
    Signer none{"none", "", "", nullptr};
    const std::string unsigned_token = make_token(none, claims());
    ASSERT_EQ(unsigned_token.back(), '.');
    EXPECT_EQ(outcome(*v, unsigned_token), "unsupported algorithm 'none'");
    EXPECT_EQ(outcome(*v, make_token(hs(), claims(), {{"alg", "none"}})),
              "unsupported algorithm 'none'");
    EXPECT_EQ(outcome(*v, make_token(hs(), claims(), {{"alg", "NONE"}})),
              "unsupported algorithm 'NONE'");
    auto hs_only = make(config(true, false));
    ASSERT_TRUE(hs_only);
    EXPECT_EQ(outcome(*hs_only, make_token(rs(), claims())), "unsupported algorithm 'RS256'");
    EXPECT_EQ(outcome(*v, make_token(hs(), claims(), {{"alg", std::string(100, '\n')}})),
              "unsupported algorithm '" + std::string(64, '?') + "...'");
}

TEST_F(Jwt, SelectsKeysByKidOrByTheOnlyKeyOfTheType) {
    auto v = make(config());
    ASSERT_TRUE(v);
    Signer unknown = rs();
    unknown.kid = "nope";
    EXPECT_EQ(outcome(*v, make_token(unknown, claims())), "unknown key id 'nope'");
    Signer wrong_type = rs();
    wrong_type.kid = "ec-1";  // exists, but is an EC key
    EXPECT_EQ(outcome(*v, make_token(wrong_type, claims())), "unknown key id 'ec-1'");
    Signer enc = es();
    enc.kid = "enc-1";  // "use": "enc" keys are ignored
    enc.key = ec2_.get();
    EXPECT_EQ(outcome(*v, make_token(enc, claims())), "unknown key id 'enc-1'");
    EXPECT_EQ(outcome(*v, make_token(rs(), claims(), {{"kid", 7}})), "malformed token");

    Signer no_kid = rs();
    no_kid.kid.clear();
    EXPECT_EQ(outcome(*v, make_token(no_kid, claims())), "ok");  // the one RSA key

    write_file(jwks_path_, jwks({ec_jwk(ec_.get(), "a"), ec_jwk(ec2_.get(), "b")}));
    auto two_ec = make(config(false, true));
    ASSERT_TRUE(two_ec);
    Signer es_no_kid = es();
    es_no_kid.kid.clear();
    EXPECT_EQ(outcome(*two_ec, make_token(es_no_kid, claims())), "token has no key id (kid)");
    es_no_kid.kid = "a";
    EXPECT_EQ(outcome(*two_ec, make_token(es_no_kid, claims())), "ok");
}

TEST_F(Jwt, RefusesBadSignaturesAndTamperedPayloads) {
    auto v = make(config());
    ASSERT_TRUE(v);
    Signer other_key = es();
    other_key.key = ec2_.get();  // signed by a key that is not ec-1
    EXPECT_EQ(outcome(*v, make_token(other_key, claims())), "bad signature");
    Signer other_secret = hs();
    other_secret.hmac_key = kSecret + "x";
    EXPECT_EQ(outcome(*v, make_token(other_secret, claims())), "bad signature");

    json raised = claims();
    raised["role"] = "admin";
    for (const Signer& signer : {hs(), rs(), es()}) {
        const std::string token = make_token(signer, claims());
        const std::string forged = make_token(signer, raised);
        const size_t a = token.find('.'), b = token.rfind('.');
        const size_t fa = forged.find('.'), fb = forged.rfind('.');
        const std::string tampered =
            token.substr(0, a) + forged.substr(fa, fb - fa) + token.substr(b);
        EXPECT_EQ(outcome(*v, tampered), "bad signature") << signer.alg;
        EXPECT_EQ(outcome(*v, token.substr(0, token.size() - 4)), "bad signature") << signer.alg;
        EXPECT_EQ(outcome(*v, token.substr(0, b + 1)), "bad signature") << signer.alg;
    }
}

// The classic attack: an HS256 token whose HMAC key is the server's RSA public key (as PEM
// or as the JWK text) must never verify.
TEST_F(Jwt, AlgorithmConfusionFails) {
    Signer pem_as_secret{"HS256", "rsa-1", public_pem(rsa_.get()), nullptr};
    Signer jwk_as_secret{"HS256", "rsa-1", rsa_jwk(rsa_.get(), "rsa-1").dump(), nullptr};
    auto jwks_only = make(config(false, true));
    auto both = make(config(true, true));
    ASSERT_TRUE(jwks_only && both);
    for (const Signer& attack : {pem_as_secret, jwk_as_secret}) {
        EXPECT_EQ(outcome(*jwks_only, make_token(attack, claims())),
                  "unsupported algorithm 'HS256'");
        EXPECT_EQ(outcome(*both, make_token(attack, claims())), "bad signature");
    }
    // An RSA signature presented as ES256 with the RSA key's kid.
    EXPECT_EQ(outcome(*both, make_token(rs(), claims(), {{"alg", "ES256"}})),
              "unknown key id 'rsa-1'");
}

TEST_F(Jwt, TimeClaimsWithLeewayEdges) {
    auto v = make(config());
    ASSERT_TRUE(v);
    EXPECT_EQ(outcome(*v, with_claim("exp", kNow - 59)), "ok");
    EXPECT_EQ(outcome(*v, with_claim("exp", kNow - 60)), "token expired");
    EXPECT_EQ(outcome(*v, with_claim("exp", double(kNow) + 0.5)), "ok");
    EXPECT_EQ(outcome(*v, without_claim("exp")), "missing claim 'exp'");
    EXPECT_EQ(outcome(*v, with_claim("exp", "tomorrow")), "invalid claim 'exp'");
    EXPECT_EQ(outcome(*v, with_claim("exp", 18446744073709551615ull)), "ok");
    EXPECT_EQ(outcome(*v, with_claim("nbf", kNow + 60)), "ok");
    EXPECT_EQ(outcome(*v, with_claim("nbf", kNow + 61)), "token not yet valid");
    EXPECT_EQ(outcome(*v, with_claim("iat", kNow + 60)), "ok");
    EXPECT_EQ(outcome(*v, with_claim("iat", kNow + 61)), "token not yet valid");
    EXPECT_EQ(outcome(*v, with_claim("nbf", -9.9e300)), "ok");

    JwtConfig strict = config();
    strict.leeway_s = 0;
    auto s = make(strict);
    ASSERT_TRUE(s);
    EXPECT_EQ(outcome(*s, with_claim("exp", kNow + 1)), "ok");
    EXPECT_EQ(outcome(*s, with_claim("exp", kNow)), "token expired");
    EXPECT_EQ(outcome(*s, with_claim("nbf", kNow)), "ok");
    EXPECT_EQ(outcome(*s, with_claim("nbf", kNow + 1)), "token not yet valid");
}

TEST_F(Jwt, IssuerAudienceAndSubject) {
    auto v = make(config());
    ASSERT_TRUE(v);
    EXPECT_EQ(outcome(*v, with_claim("iss", "https://evil.example")), "wrong issuer");
    EXPECT_EQ(outcome(*v, without_claim("iss")), "wrong issuer");
    EXPECT_EQ(outcome(*v, with_claim("aud", json::array({"other", "citadel"}))), "ok");
    EXPECT_EQ(outcome(*v, with_claim("aud", json::array({"other"}))), "wrong audience");
    EXPECT_EQ(outcome(*v, with_claim("aud", "other")), "wrong audience");
    EXPECT_EQ(outcome(*v, without_claim("aud")), "wrong audience");
    EXPECT_EQ(outcome(*v, without_claim("sub")), "missing claim 'sub'");
    EXPECT_EQ(outcome(*v, with_claim("sub", "")), "missing claim 'sub'");
    EXPECT_EQ(outcome(*v, with_claim("sub", "bob\nadmin")), "invalid claim 'sub'");
    EXPECT_EQ(outcome(*v, with_claim("sub", 42)), "invalid claim 'sub'");

    JwtConfig open = config();
    open.issuer.clear();
    open.audience.clear();
    auto o = make(open);
    ASSERT_TRUE(o);
    json bare = claims();
    bare.erase("iss");
    bare.erase("aud");
    auto identity = o->verify(make_token(hs(), bare), kNow);
    ASSERT_TRUE(identity.ok()) << identity.error();
    EXPECT_EQ(identity->id, "jwt:alice");
}

TEST_F(Jwt, RolesFromTheConfiguredClaim) {
    auto v = make(config());
    ASSERT_TRUE(v);
    EXPECT_EQ(outcome(*v, without_claim("role")), "no role in token");
    EXPECT_EQ(outcome(*v, with_claim("role", json::array())), "no role in token");
    EXPECT_EQ(outcome(*v, with_claim("role", "superuser")), "unknown role 'superuser'");
    EXPECT_EQ(outcome(*v, with_claim("role", 3)), "invalid claim 'role'");
    auto highest =
        v->verify(with_claim("role", json::array({"viewer", "x", "admin", "user"})), kNow);
    ASSERT_TRUE(highest.ok()) << highest.error();
    EXPECT_EQ(highest->role, Role::kAdmin);

    JwtConfig defaulted = config();
    defaulted.default_role = Role::kViewer;
    defaulted.role_claim = "realm_access.roles";  // nested, Keycloak style
    auto d = make(defaulted);
    ASSERT_TRUE(d);
    auto viewer = d->verify(without_claim("role"), kNow);
    ASSERT_TRUE(viewer.ok()) << viewer.error();
    EXPECT_EQ(viewer->role, Role::kViewer);
    auto nested = d->verify(with_claim("realm_access", {{"roles", {"offline", "admin"}}}), kNow);
    ASSERT_TRUE(nested.ok()) << nested.error();
    EXPECT_EQ(nested->role, Role::kAdmin);
}

TEST_F(Jwt, ModelsFromTheConfiguredClaim) {
    auto v = make(config());
    ASSERT_TRUE(v);
    auto spaced = v->verify(with_claim("models", "qwen* llama-3*,phi-?"), kNow);
    ASSERT_TRUE(spaced.ok()) << spaced.error();
    EXPECT_EQ(spaced->models, (std::vector<std::string>{"qwen*", "llama-3*", "phi-?"}));
    auto all = v->verify(without_claim("models"), kNow);
    ASSERT_TRUE(all.ok()) << all.error();
    EXPECT_TRUE(all->models.empty());
    EXPECT_EQ(outcome(*v, with_claim("models", json::array())), "token allows no models");
    EXPECT_EQ(outcome(*v, with_claim("models", " , ")), "token allows no models");
    EXPECT_EQ(outcome(*v, with_claim("models", {{"a", 1}})), "invalid claim 'models'");
}

TEST_F(Jwt, RefusesTokensOver8KiB) {
    auto v = make(config());
    ASSERT_TRUE(v);
    json big = claims();
    big["pad"] = std::string(5000, 'x');
    const std::string fits = make_token(hs(), big);
    ASSERT_LE(fits.size(), 8192u);
    EXPECT_EQ(outcome(*v, fits), "ok");
    big["pad"] = std::string(6200, 'x');
    const std::string too_big = make_token(hs(), big);
    ASSERT_GT(too_big.size(), 8192u);
    EXPECT_EQ(outcome(*v, too_big), "token too large");
}

TEST_F(Jwt, CreateNamesWhatIsWrong) {
    auto nothing = JwtVerifier::create(JwtConfig{});
    EXPECT_FALSE(nothing.ok());
    write_file(secret_path_, "too short\n");
    auto short_secret = JwtVerifier::create(config(true, false));
    ASSERT_FALSE(short_secret.ok());
    EXPECT_NE(short_secret.error().find("holds 9 bytes"), std::string::npos)
        << short_secret.error();
    JwtConfig missing = config(false, true);
    missing.jwks_file = dir_.file("absent.json");
    auto absent = JwtVerifier::create(missing);
    ASSERT_FALSE(absent.ok());
    EXPECT_NE(absent.error().find("absent.json"), std::string::npos) << absent.error();
    write_file(jwks_path_, jwks({{{"kty", "oct"}, {"k", "c2VjcmV0"}},
                                 {{"kty", "RSA"}, {"use", "enc"}, {"n", "AQAB"}, {"e", "AQAB"}}}));
    auto unusable = JwtVerifier::create(config(false, true));
    ASSERT_FALSE(unusable.ok());
    EXPECT_NE(unusable.error().find("no usable"), std::string::npos) << unusable.error();
    write_file(jwks_path_, "{\"keys\": [");
    EXPECT_FALSE(JwtVerifier::create(config(false, true)).ok());
}

TEST_F(Jwt, ReloadPicksUpRotatedKeysAndKeepsOldOnesOnABrokenFile) {
    write_file(jwks_path_, jwks({rsa_jwk(rsa_.get(), "rsa-1")}));
    auto v = make(config());
    ASSERT_TRUE(v);
    Signer next{"ES256", "ec-2", "", ec2_.get()};
    EXPECT_EQ(outcome(*v, make_token(rs(), claims())), "ok");
    EXPECT_EQ(outcome(*v, make_token(next, claims())), "unsupported algorithm 'ES256'");

    write_file(jwks_path_, jwks({ec_jwk(ec2_.get(), "ec-2")}));
    const std::string new_secret = kSecret + "-rotated";
    write_file(secret_path_, new_secret);
    EXPECT_EQ(outcome(*v, make_token(next, claims())), "unsupported algorithm 'ES256'");
    ASSERT_TRUE(v->reload().ok());
    EXPECT_EQ(outcome(*v, make_token(next, claims())), "ok");
    EXPECT_EQ(outcome(*v, make_token(rs(), claims())), "unsupported algorithm 'RS256'");
    EXPECT_EQ(outcome(*v, make_token(hs(), claims())), "bad signature");
    Signer rotated_hs = hs();
    rotated_hs.hmac_key = new_secret;
    EXPECT_EQ(outcome(*v, make_token(rotated_hs, claims())), "ok");

    write_file(jwks_path_, "{ not json");
    const Status broken = v->reload();
    ASSERT_FALSE(broken.ok());
    EXPECT_NE(broken.message().find("keeping the previous keys"), std::string::npos);
    EXPECT_EQ(outcome(*v, make_token(next, claims())), "ok");
    EXPECT_EQ(outcome(*v, make_token(rotated_hs, claims())), "ok");
}

TEST_F(Jwt, VerifiesWhileReloadingFromSeveralThreads) {
    auto v = make(config());
    ASSERT_TRUE(v);
    const std::vector<std::string> tokens = {make_token(hs(), claims()), make_token(rs(), claims()),
                                             make_token(es(), claims())};
    std::atomic<int> failures{0};
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 100; ++i) {
                if (!v->verify(tokens[size_t(i + t) % tokens.size()], kNow).ok()) ++failures;
            }
        });
    }
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(v->reload().ok());
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(failures.load(), 0);
}

TEST(LooksLikeJwt, ThreeBase64UrlParts) {
    EXPECT_TRUE(looks_like_jwt("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln-_"));
    EXPECT_TRUE(looks_like_jwt("a.b.c"));
    EXPECT_FALSE(looks_like_jwt("ck_abcdefghijkl_" + std::string(43, 'A')));
    EXPECT_FALSE(looks_like_jwt("a.b"));
    EXPECT_FALSE(looks_like_jwt("a..c"));
    EXPECT_FALSE(looks_like_jwt("a.b."));
    EXPECT_FALSE(looks_like_jwt("a.b.c.d"));
    EXPECT_FALSE(looks_like_jwt("a.b.c="));
    EXPECT_FALSE(looks_like_jwt(""));
}

}  // namespace
}  // namespace citadel::gateway
