#include "gateway/jwt.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "core/log.h"
#include "gateway/crypto.h"
#include "gateway/jwks.h"

namespace citadel::gateway {

struct JwtVerifier::Keys {
    std::optional<std::string> hs256_secret;
    std::vector<jwt::PublicKey> public_keys;

    bool has(jwt::KeyType type) const {
        return std::any_of(public_keys.begin(), public_keys.end(),
                           [type](const jwt::PublicKey& key) { return key.type == type; });
    }
};

namespace {

using json = nlohmann::json;
using Keys = JwtVerifier::Keys;

constexpr size_t kMaxTokenBytes = 8192;
constexpr size_t kMinHs256SecretBytes = 32;
constexpr size_t kMaxKeyFileBytes = 1 << 20;
constexpr size_t kMaxEcho = 64;
constexpr int64_t kTimeLimit = int64_t(1) << 50;  // claims are clamped here: no overflow later

// Token text quoted back in an error: printable ASCII only, at most 64 characters.
std::string echo(std::string_view text) {
    std::string out;
    for (char c : text.substr(0, kMaxEcho)) out += (c >= 0x20 && c < 0x7f && c != '\'') ? c : '?';
    if (text.size() > kMaxEcho) out += "...";
    return out;
}

Status malformed() {
    return Status::error("malformed token");
}

Result<std::string> read_key_file(const std::string& path, const char* what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return Status::error(std::string("cannot read ") + what + " '" + path +
                             "': " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    if (text.str().size() > kMaxKeyFileBytes) {
        return Status::error(std::string(what) + " '" + path + "' is over 1 MiB");
    }
    return text.str();
}

Result<std::string> load_hs256_secret(const std::string& path) {
    auto secret = read_key_file(path, "HS256 secret file");
    if (!secret.ok()) return secret.status();
    std::string& s = *secret;
    if (s.ends_with("\r\n")) {
        s.resize(s.size() - 2);
    } else if (s.ends_with('\n')) {
        s.pop_back();
    }
    if (s.size() < kMinHs256SecretBytes) {
        return Status::error("HS256 secret file '" + path + "' holds " + std::to_string(s.size()) +
                             " bytes; at least 32 are needed");
    }
    return std::move(s);
}

Result<std::shared_ptr<const Keys>> load_keys(const JwtConfig& config) {
    auto keys = std::make_shared<Keys>();
    if (!config.hs256_secret_file.empty()) {
        auto secret = load_hs256_secret(config.hs256_secret_file);
        if (!secret.ok()) return secret.status();
        keys->hs256_secret = std::move(*secret);
    }
    if (!config.jwks_file.empty()) {
        auto text = read_key_file(config.jwks_file, "JWKS file");
        if (!text.ok()) return text.status();
        auto parsed = jwt::parse_jwks(*text, config.jwks_file);
        if (!parsed.ok()) return parsed.status();
        keys->public_keys = std::move(*parsed);
    }
    return std::shared_ptr<const Keys>(std::move(keys));
}

// The three parts of a compact JWS, with the header decoded.
struct Jws {
    std::string_view signing_input;  // "<header>.<payload>", what the signature covers
    std::string_view payload_b64;
    json header;
    std::string alg;
    std::string signature;  // raw bytes
};

std::optional<json> decode_object(std::string_view b64) {
    const auto text = crypto::base64url_decode(b64);
    if (!text) return std::nullopt;
    json object = json::parse(*text, nullptr, false);
    if (!object.is_object()) return std::nullopt;
    return object;
}

Result<Jws> split_jws(std::string_view token) {
    const size_t first = token.find('.');
    const size_t second = first == token.npos ? token.npos : token.find('.', first + 1);
    if (second == token.npos || token.find('.', second + 1) != token.npos) return malformed();
    Jws jws;
    jws.signing_input = token.substr(0, second);
    jws.payload_b64 = token.substr(first + 1, second - first - 1);
    auto header = decode_object(token.substr(0, first));
    auto signature = crypto::base64url_decode(token.substr(second + 1));
    if (!header || !signature || jws.payload_b64.empty()) return malformed();
    const auto alg = header->find("alg");
    if (alg == header->end() || !alg->is_string()) return malformed();
    if (header->contains("crit")) return Status::error("unsupported critical header");
    jws.alg = alg->get<std::string>();
    jws.header = std::move(*header);
    jws.signature = std::move(*signature);
    return jws;
}

// With a kid: the key of that id and type. Without: the only key of the type, if just one.
Result<const jwt::PublicKey*> select_key(const Keys& keys, jwt::KeyType type, const json& header) {
    const auto kid = header.find("kid");
    if (kid != header.end()) {
        if (!kid->is_string()) return malformed();
        const std::string& wanted = kid->get_ref<const std::string&>();
        for (const auto& key : keys.public_keys) {
            if (key.type == type && key.kid == wanted) return &key;
        }
        return Status::error("unknown key id '" + echo(wanted) + "'");
    }
    const jwt::PublicKey* only = nullptr;
    for (const auto& key : keys.public_keys) {
        if (key.type != type) continue;
        if (only) return Status::error("token has no key id (kid)");
        only = &key;
    }
    return only;  // not null: the caller checked keys.has(type)
}

// The algorithm decides which kind of key is used; a key of another kind is never tried.
Status check_signature(const Jws& jws, const Keys& keys) {
    bool good = false;
    if (jws.alg == "HS256" && keys.hs256_secret) {
        const std::string expected = crypto::hmac_sha256(*keys.hs256_secret, jws.signing_input);
        good = crypto::constant_time_equal(expected, jws.signature);
    } else if (jws.alg == "RS256" && keys.has(jwt::KeyType::kRsa)) {
        auto key = select_key(keys, jwt::KeyType::kRsa, jws.header);
        if (!key.ok()) return key.status();
        good = jwt::verify_rs256(**key, jws.signing_input, jws.signature);
    } else if (jws.alg == "ES256" && keys.has(jwt::KeyType::kEc)) {
        auto key = select_key(keys, jwt::KeyType::kEc, jws.header);
        if (!key.ok()) return key.status();
        good = jwt::verify_es256(**key, jws.signing_input, jws.signature);
    } else {
        return Status::error("unsupported algorithm '" + echo(jws.alg) + "'");  // "none" too
    }
    return good ? ok_status() : Status::error("bad signature");
}

// ---- claims ----

// A top-level claim, or else a nested one when `name` is a dotted path ("realm_access.roles").
const json* find_claim(const json& claims, const std::string& name) {
    if (const auto it = claims.find(name); it != claims.end()) return &*it;
    if (name.find('.') == name.npos) return nullptr;
    const json* node = &claims;
    for (size_t start = 0;;) {
        const size_t dot = name.find('.', start);
        if (!node->is_object()) return nullptr;
        const auto it = node->find(name.substr(start, dot == name.npos ? dot : dot - start));
        if (it == node->end()) return nullptr;
        node = &*it;
        if (dot == name.npos) return node;
        start = dot + 1;
    }
}

// A NumericDate claim: nullopt when absent; an error when present but not a number.
Result<std::optional<int64_t>> time_claim(const json& claims, const char* name) {
    const auto it = claims.find(name);
    if (it == claims.end()) return std::optional<int64_t>();
    double value = 0;
    if (it->is_number_unsigned()) {
        value = double(std::min<uint64_t>(it->get<uint64_t>(), uint64_t(kTimeLimit)));
    } else if (it->is_number()) {
        value = it->get<double>();
    } else {
        return Status::error(std::string("invalid claim '") + name + "'");
    }
    if (std::isnan(value)) return Status::error(std::string("invalid claim '") + name + "'");
    value = std::clamp(std::floor(value), -double(kTimeLimit), double(kTimeLimit));
    return std::optional<int64_t>(int64_t(value));
}

Status check_times(const json& claims, int64_t now, int64_t leeway) {
    auto exp = time_claim(claims, "exp");
    auto nbf = time_claim(claims, "nbf");
    auto iat = time_claim(claims, "iat");
    for (const auto* claim : {&exp, &nbf, &iat}) {
        if (!claim->ok()) return claim->status();
    }
    if (!*exp) return Status::error("missing claim 'exp'");
    if (now >= **exp + leeway) return Status::error("token expired");
    if (*nbf && now + leeway < **nbf) return Status::error("token not yet valid");
    if (*iat && now + leeway < **iat) return Status::error("token not yet valid");
    return ok_status();
}

bool has_audience(const json& claims, const std::string& audience) {
    const auto aud = claims.find("aud");
    if (aud == claims.end()) return false;
    if (aud->is_string()) return *aud == audience;
    if (!aud->is_array()) return false;
    return std::any_of(aud->begin(), aud->end(),
                       [&](const json& item) { return item.is_string() && item == audience; });
}

// A string claim; "" when absent; an error when present but not a printable string.
Result<std::string> text_claim(const json& claims, const char* name) {
    const auto it = claims.find(name);
    if (it == claims.end()) return std::string();
    if (!it->is_string()) return Status::error(std::string("invalid claim '") + name + "'");
    const std::string& text = it->get_ref<const std::string&>();
    const bool printable = std::none_of(
        text.begin(), text.end(), [](char c) { return (unsigned char)c < 0x20 || c == 0x7f; });
    if (!printable) return Status::error(std::string("invalid claim '") + name + "'");
    return text;
}

// Strings of a claim that is a string or an array of strings; error for any other shape.
Result<std::vector<std::string>> string_list(const json* claim, const std::string& name) {
    std::vector<std::string> values;
    if (!claim || claim->is_null()) return values;
    if (claim->is_string()) {
        values.push_back(claim->get<std::string>());
        return values;
    }
    if (!claim->is_array()) return Status::error("invalid claim '" + name + "'");
    for (const json& item : *claim) {
        if (!item.is_string()) return Status::error("invalid claim '" + name + "'");
        values.push_back(item.get<std::string>());
    }
    return values;
}

Result<Role> role_from(const json& claims, const JwtConfig& config) {
    auto names = string_list(find_claim(claims, config.role_claim), config.role_claim);
    if (!names.ok()) return names.status();
    std::erase(*names, std::string());
    if (names->empty()) {
        if (config.default_role) return *config.default_role;
        return Status::error("no role in token");
    }
    std::optional<Role> best;
    for (const auto& name : *names) {
        const auto role = parse_role(name);
        if (role && (!best || *role > *best)) best = role;
    }
    if (!best) return Status::error("unknown role '" + echo(names->front()) + "'");
    return *best;
}

// Absent: every model (an empty list). Present but naming nothing: refused, since an empty
// list would mean every model.
Result<std::vector<std::string>> models_from(const json& claims, const JwtConfig& config) {
    const json* claim = find_claim(claims, config.models_claim);
    if (!claim || claim->is_null()) return std::vector<std::string>();
    auto values = string_list(claim, config.models_claim);
    if (!values.ok()) return values.status();
    std::vector<std::string> patterns;
    for (const auto& value : *values) {
        const bool one_string = claim->is_string();
        size_t start = 0;
        while (start <= value.size()) {
            size_t end = one_string ? value.find_first_of(" ,", start) : value.npos;
            if (end == value.npos) end = value.size();
            if (end > start) patterns.push_back(value.substr(start, end - start));
            start = end + 1;
        }
    }
    if (patterns.empty()) return Status::error("token allows no models");
    return patterns;
}

}  // namespace

Result<std::unique_ptr<JwtVerifier>> JwtVerifier::create(JwtConfig config) {
    if (config.hs256_secret_file.empty() && config.jwks_file.empty()) {
        return Status::error("JWT verification needs an HS256 secret file or a JWKS file");
    }
    if (config.leeway_s < 0) return Status::error("JWT leeway must not be negative");
    if (config.role_claim.empty() || config.models_claim.empty()) {
        return Status::error("JWT role and models claim names must not be empty");
    }
    auto keys = load_keys(config);
    if (!keys.ok()) return keys.status();
    return std::unique_ptr<JwtVerifier>(new JwtVerifier(std::move(config), std::move(*keys)));
}

JwtVerifier::JwtVerifier(JwtConfig config, std::shared_ptr<const Keys> keys)
    : config_(std::move(config)), keys_(std::move(keys)) {}

JwtVerifier::~JwtVerifier() = default;

std::shared_ptr<const JwtVerifier::Keys> JwtVerifier::keys() const {
    std::lock_guard lock(keys_mutex_);
    return keys_;
}

Status JwtVerifier::reload() {
    auto keys = load_keys(config_);
    if (!keys.ok()) return Status::error(keys.error() + "; keeping the previous keys");
    std::lock_guard lock(keys_mutex_);
    keys_ = std::move(*keys);
    return ok_status();
}

Result<Identity> JwtVerifier::verify(std::string_view token, int64_t now_unix) const {
    if (token.size() > kMaxTokenBytes) return Status::error("token too large");
    auto jws = split_jws(token);
    if (!jws.ok()) return jws.status();
    CITADEL_TRY(check_signature(*jws, *keys()));
    return identity_from_claims(jws->payload_b64, now_unix);
}

// Only reached with a good signature: nothing about the claims is revealed to forgers.
Result<Identity> JwtVerifier::identity_from_claims(std::string_view payload_b64,
                                                   int64_t now_unix) const {
    const auto claims = decode_object(payload_b64);
    if (!claims) return malformed();
    CITADEL_TRY(check_times(*claims, now_unix, config_.leeway_s));
    auto iss = text_claim(*claims, "iss");
    auto sub = text_claim(*claims, "sub");
    if (!iss.ok()) return iss.status();
    if (!sub.ok()) return sub.status();
    if (!config_.issuer.empty() && *iss != config_.issuer) return Status::error("wrong issuer");
    if (!config_.audience.empty() && !has_audience(*claims, config_.audience)) {
        return Status::error("wrong audience");
    }
    if (sub->empty()) return Status::error("missing claim 'sub'");
    auto role = role_from(*claims, config_);
    if (!role.ok()) return role.status();
    auto models = models_from(*claims, config_);
    if (!models.ok()) return models.status();
    Identity identity;
    identity.id = iss->empty() ? "jwt:" + *sub : "jwt:" + *iss + "/" + *sub;
    identity.name = *sub;
    identity.role = *role;
    identity.models = std::move(*models);
    identity.limits = config_.limits;
    return identity;
}

bool looks_like_jwt(std::string_view bearer) {
    int dots = 0;
    size_t part_length = 0;
    for (char c : bearer) {
        if (c == '.') {
            if (part_length == 0) return false;
            ++dots;
            part_length = 0;
        } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '-' || c == '_') {
            ++part_length;
        } else {
            return false;
        }
    }
    return dots == 2 && part_length > 0;
}

}  // namespace citadel::gateway
