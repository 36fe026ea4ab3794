#include "gateway/gateway.h"

#include <chrono>
#include <set>

#include "core/log.h"
#include "gateway/accountant.h"
#include "gateway/audit_log.h"
#include "gateway/classifier.h"
#include "gateway/clock.h"
#include "gateway/injection.h"
#include "gateway/jwt.h"
#include "gateway/key_store.h"
#include "gateway/limiter.h"
#include "gateway/model_gate.h"
#include "gateway/request_scope.h"

namespace citadel::gateway {
namespace {

Denial unauthorized(std::string message, std::string code) {
    Denial d;
    d.status = 401;
    d.message = std::move(message);
    d.code = std::move(code);
    d.headers = {{"WWW-Authenticate", "Bearer"}};
    return d;
}

Denial forbidden(std::string message, std::string code, std::string param = {}) {
    Denial d;
    d.status = 403;
    d.message = std::move(message);
    d.type = "permission_error";
    d.code = std::move(code);
    d.param = std::move(param);
    return d;
}

Denial refused_input(std::string message, std::string code) {
    Denial d;
    d.status = 400;
    d.message = std::move(message);
    d.code = std::move(code);
    d.param = "messages";
    return d;
}

Identity from_key(const KeyVerdict& v) {
    return identity_of(v.record);
}

std::variant<Identity, Denial> check_key(KeyStore& keys, const std::string& bearer, int64_t now) {
    const KeyVerdict v = keys.verify(bearer, now);
    switch (v.check) {
        case KeyCheck::kOk:
            return from_key(v);
        case KeyCheck::kRevoked:
            return unauthorized("This API key has been revoked.", "revoked_api_key");
        case KeyCheck::kExpired:
            return unauthorized("This API key has expired.", "expired_api_key");
        case KeyCheck::kMalformed:
        case KeyCheck::kUnknown:
            break;
    }
    return unauthorized("Incorrect API key provided.", "invalid_api_key");
}

const char* needed_role(Access access) {
    switch (access) {
        case Access::kAdmin:
            return "admin";
        case Access::kUser:
            return "user";
        default:
            return "viewer";
    }
}

std::string join(const std::set<std::string>& items) {
    std::string out;
    for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
    return out;
}

bool any_pii(const GuardsConfig& g) {
    auto on = [](const PiiPolicy& p) {
        return p.input != PiiMode::kOff || p.output != PiiMode::kOff;
    };
    if (on(g.pii)) return true;
    for (const auto& [k, p] : g.pii_by_model) {
        if (on(p)) return true;
    }
    for (const auto& [k, p] : g.pii_by_identity) {
        if (on(p)) return true;
    }
    return false;
}

}  // namespace

std::string bearer_of(const std::string* authorization, const std::string* x_api_key) {
    if (authorization) {
        std::string_view v = *authorization;
        if (v.size() > 7 && (v.substr(0, 7) == "Bearer " || v.substr(0, 7) == "bearer ")) {
            v.remove_prefix(7);
            while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
            while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
            return std::string(v);
        }
    }
    return x_api_key ? *x_api_key : std::string();
}

Gateway::Gateway(GatewayConfig config) : config_(std::move(config)) {}

Gateway::~Gateway() {
    accountant_.reset();  // applies pending charges while the limiter still exists
}

Result<std::unique_ptr<Gateway>> Gateway::create(GatewayConfig config) {
    std::unique_ptr<Gateway> g(new Gateway(std::move(config)));
    CITADEL_TRY(g->build());
    return g;
}

Status Gateway::build() {
    if (!config_.keys_db.empty()) {
        Result<std::unique_ptr<KeyStore>> k = KeyStore::open(config_.keys_db);
        if (!k) return Status::error("key store: " + k.error());
        keys_ = std::move(*k);
    }
    if (config_.jwt) {
        Result<std::unique_ptr<JwtVerifier>> j = JwtVerifier::create(*config_.jwt);
        if (!j) return Status::error("JWT: " + j.error());
        jwt_ = std::move(*j);
    }
    if (config_.redis) {
        Result<std::unique_ptr<Limiter>> l = make_redis_limiter(*config_.redis);
        if (!l) return Status::error("--redis: " + l.error());
        limiter_ = std::move(*l);
    } else {
        limiter_ = make_local_limiter();
    }
    model_gate_ = std::make_unique<ModelGate>(config_.model_concurrency);
    const GuardsConfig& g = config_.guards;
    if (any_pii(g) || !g.pii_patterns.empty()) {
        auto p = PiiScanner::create(g.pii_types, g.pii_patterns);
        if (!p) return Status::error("PII: " + p.error());
        pii_ = std::move(*p);
    }
    if (g.injection) {
        if (g.injection_rules_file.empty()) {
            injection_ = InjectionGuard::builtin();
        } else {
            auto r = InjectionGuard::load_file(g.injection_rules_file);
            if (!r) return Status::error("injection rules: " + r.error());
            injection_ = std::move(*r);
        }
    }
    if (g.classifier) {
        auto c = Classifier::create(*g.classifier);
        if (!c) return Status::error("classifier: " + c.error());
        classifier_ = std::move(*c);
    }
    if (config_.audit) {
        auto a = AuditLog::open(*config_.audit);
        if (!a) return Status::error("audit log: " + a.error());
        audit_ = std::move(*a);
    }
    accountant_ = std::make_unique<Accountant>(*limiter_);
    return ok_status();
}

std::variant<Identity, Denial> Gateway::authenticate(const Credentials& c, int64_t now) const {
    if (!config_.auth) {
        Identity anonymous;
        anonymous.id = anonymous.name = "anonymous";
        anonymous.role = Role::kUser;
        return anonymous;
    }
    if (c.bearer.empty() && !c.client_cert_subject.empty()) {
        auto it = config_.mtls_identities.find(c.client_cert_subject);
        if (it != config_.mtls_identities.end()) return it->second;
        return unauthorized(
            "The client certificate '" + c.client_cert_subject + "' is not mapped to an identity.",
            "unknown_client_certificate");
    }
    if (c.bearer.empty()) {
        return unauthorized(
            "You didn't provide an API key. Send it as 'Authorization: Bearer YOUR_KEY'.",
            "missing_api_key");
    }
    if (c.bearer.size() > 16384)
        return unauthorized("The credential is too long.", "invalid_api_key");
    if (jwt_ && looks_like_jwt(c.bearer)) {
        Result<Identity> id = jwt_->verify(c.bearer, now);
        if (!id) return unauthorized("Invalid token: " + id.error() + ".", "invalid_token");
        return std::move(*id);
    }
    if (keys_) return check_key(*keys_, c.bearer, now);
    return unauthorized("Incorrect API key provided.", "invalid_api_key");
}

std::optional<Denial> Gateway::authorize(const Identity& id, Access access) const {
    Role needed = Role::kViewer;
    if (access == Access::kUser) needed = Role::kUser;
    if (access == Access::kAdmin) needed = Role::kAdmin;
    if (id.role >= needed) return std::nullopt;
    if (!config_.auth && access == Access::kAdmin) {
        return forbidden("Admin routes need authentication; this server runs with --no-auth.",
                         "insufficient_role");
    }
    return forbidden("This route needs the '" + std::string(needed_role(access)) + "' role; '" +
                         id.name + "' has the '" + role_name(id.role) + "' role.",
                     "insufficient_role");
}

std::optional<Denial> Gateway::authorize_model(const Identity& id, const std::string& model) const {
    if (model_allowed(id, model)) return std::nullopt;
    return forbidden("'" + id.name + "' may not use the model '" + model + "'.",
                     "model_not_allowed", "model");
}

// The limiter's name for a limit as a short metric label.
static std::string limit_label(const std::string& limit) {
    if (limit == "requests per minute") return "rpm";
    if (limit == "tokens per minute") return "tpm";
    if (limit == "concurrent requests") return "concurrency";
    if (limit == "daily token quota") return "daily_tokens";
    return "other";
}

std::optional<Denial> Gateway::admit(RequestScope& scope, const std::string& model) {
    const Identity& id = scope.identity();
    if (!model_gate_->try_acquire(model)) {
        Denial d;
        d.status = 429;
        d.message = "The model '" + model + "' is at its concurrency limit; retry shortly.";
        d.type = "rate_limit_error";
        d.code = "model_concurrency_limit";
        d.limit = "model_concurrency";
        d.headers = {{"Retry-After", "1"}};
        return d;
    }
    const Admission a = limiter_->admit(id.id, id.limits, unix_now_ms());
    if (!a.ok()) {
        model_gate_->release(model);
        Denial d;
        d.status = a.status;
        d.type = a.status == 429 ? "rate_limit_error" : "server_error";
        d.code = a.status != 429                  ? "rate_limiter_unavailable"
                 : a.limit == "daily token quota" ? "insufficient_quota"
                                                  : "rate_limit_exceeded";
        d.message = a.status == 429 ? "Rate limit reached for '" + id.name + "': " + a.limit +
                                          ". Retry after " + std::to_string(a.retry_after_s) + "s."
                                    : "The rate limiter is unavailable; retry shortly.";
        d.limit = a.status == 429 ? limit_label(a.limit) : std::string();
        d.headers = a.headers;
        d.headers.emplace_back("Retry-After", std::to_string(std::max(1, a.retry_after_s)));
        return d;
    }
    scope.hold_limits(id.limits, model);
    scope.set_rate_headers(a.headers);
    return std::nullopt;
}

PiiPolicy Gateway::pii_policy(const RequestScope& scope) const {
    const GuardsConfig& g = config_.guards;
    PiiPolicy p = g.pii;
    const std::string model = scope.model();
    for (const auto& [glob, policy] : g.pii_by_model) {
        if (glob_match(glob, model)) {
            p = policy;
            break;
        }
    }
    if (scope.authenticated()) {
        const Identity& id = scope.identity();
        auto it = g.pii_by_identity.find(id.name);
        if (it == g.pii_by_identity.end()) it = g.pii_by_identity.find(id.id);
        if (it != g.pii_by_identity.end()) p = it->second;
    }
    return p;
}

InputVerdict Gateway::guard_input(RequestScope& scope, const std::vector<std::string*>& texts,
                                  const std::vector<const std::string*>& untrusted) const {
    InputVerdict v;
    if (injection_) {
        std::string blocked_by;
        for (const std::string* t : untrusted) {
            for (const InjectionHit& hit : injection_->check(*t)) {
                const bool block = hit.action == GuardAction::kBlock;
                scope.note_guard(std::string("injection:") + (block ? "block:" : "flag:") +
                                 hit.rule_id);
                if (block && blocked_by.empty()) blocked_by = hit.rule_id;
            }
        }
        if (!blocked_by.empty()) {
            v.denial =
                refused_input("The request was blocked by the prompt-injection guard (rule '" +
                                  blocked_by + "').",
                              "prompt_injection_detected");
            return v;
        }
    }
    const PiiPolicy policy = pii_policy(scope);
    if (!pii_ || policy.input == PiiMode::kOff) return v;
    std::set<std::string> types;
    for (std::string* t : texts) {
        std::vector<PiiMatch> found;
        std::string redacted = pii_->redact(*t, &found);
        if (found.empty()) continue;
        for (const PiiMatch& m : found) types.insert(m.type);
        if (policy.input == PiiMode::kRedact) *t = std::move(redacted);
    }
    for (const std::string& type : types)
        scope.note_guard(std::string("pii.input:") + pii_mode_name(policy.input) + ":" + type);
    if (policy.input == PiiMode::kBlock && !types.empty()) {
        v.denial = refused_input(
            "The request contains personal data (" + join(types) + ") and is blocked by policy.",
            "pii_detected");
    }
    return v;
}

std::pair<std::shared_ptr<const PiiScanner>, PiiMode> Gateway::output_guard(
    const RequestScope& scope) const {
    const PiiPolicy policy = pii_policy(scope);
    if (!pii_ || policy.output == PiiMode::kOff) return {nullptr, PiiMode::kOff};
    return {pii_, policy.output};
}

std::string Gateway::reload() {
    if (!jwt_) return {};
    Status s = jwt_->reload();
    return s.ok() ? std::string() : "JWT keys: " + s.message();
}

}  // namespace citadel::gateway
