#include "cli/gateway_options.h"

#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>

#include "cli/serve_config.h"

namespace citadel::cli {
namespace {

using gateway::PiiMode;
using gateway::PiiPolicy;

std::string at(const std::string& path, const YAML::Node& n) {
    return path + ":" + std::to_string(n.Mark().line + 1);
}

Result<PiiMode> mode_of(const std::string& text, const std::string& what) {
    auto m = gateway::parse_pii_mode(text);
    if (!m) return Status::error(what + ": '" + text + "' is not one of off, redact, block, log");
    return *m;
}

Result<int64_t> count_of(const YAML::Node& n, const std::string& what) {
    try {
        const int64_t v = n.as<int64_t>();
        if (v < 0) return Status::error(what + " must not be negative");
        return v;
    } catch (const YAML::Exception&) {
        return Status::error(what + " must be a whole number");
    }
}

// {input: redact, output: block} over `base`.
Result<PiiPolicy> pii_policy(const YAML::Node& n, const std::string& what, PiiPolicy base) {
    if (!n.IsMap()) return Status::error(what + " must be {input: MODE, output: MODE}");
    for (const auto& kv : n) {
        const std::string k = kv.first.Scalar();
        if (k != "input" && k != "output")
            return Status::error(what + ": unknown key '" + k + "' (valid: input, output)");
        Result<PiiMode> m = mode_of(kv.second.Scalar(), what + "." + k);
        if (!m) return m.status();
        (k == "input" ? base.input : base.output) = *m;
    }
    return base;
}

// rpm, tpm, max-concurrent, daily-tokens.
Status apply_limit(gateway::KeyLimits& l, const std::string& k, const YAML::Node& v,
                   const std::string& what) {
    int64_t* field = k == "rpm"              ? &l.rpm
                     : k == "tpm"            ? &l.tpm
                     : k == "max-concurrent" ? &l.max_concurrent
                     : k == "daily-tokens"   ? &l.daily_tokens
                                             : nullptr;
    if (!field) return Status::error(what + ": unknown key '" + k + "'");
    Result<int64_t> n = count_of(v, what + "." + k);
    if (!n) return n.status();
    *field = *n;
    return ok_status();
}

Result<gateway::Identity> mtls_identity(const std::string& cn, const YAML::Node& n,
                                        const std::string& what) {
    gateway::Identity id;
    id.id = "mtls:" + cn;
    id.name = cn;
    id.role = gateway::Role::kUser;
    if (!n.IsMap()) return Status::error(what + " must be {role, models, rpm, ...}");
    for (const auto& kv : n) {
        const std::string k = kv.first.Scalar();
        if (k == "role") {
            auto r = gateway::parse_role(kv.second.Scalar());
            if (!r) return Status::error(what + ".role must be admin, user or viewer");
            id.role = *r;
        } else if (k == "models") {
            for (const auto& m : kv.second) id.models.push_back(m.Scalar());
        } else {
            CITADEL_TRY(apply_limit(id.limits, k, kv.second, what));
        }
    }
    return id;
}

Status apply_pii_section(gateway::GuardsConfig& g, const YAML::Node& n, const std::string& path) {
    for (const auto& kv : n) {
        const std::string k = kv.first.Scalar();
        const std::string what = at(path, kv.second) + ": gateway.pii." + k;
        if (k == "models" || k == "keys") {
            auto& target = k == "models" ? g.pii_by_model : g.pii_by_identity;
            for (const auto& e : kv.second) {
                Result<PiiPolicy> p = pii_policy(e.second, what + "." + e.first.Scalar(), g.pii);
                if (!p) return p.status();
                target[e.first.Scalar()] = *p;
            }
        } else if (k == "patterns") {
            for (const auto& e : kv.second) {
                gateway::PiiPattern p;
                if (!e["name"] || !e["regex"])
                    return Status::error(what + ": each pattern needs name and regex");
                p.name = e["name"].Scalar();
                p.regex = e["regex"].Scalar();
                if (e["max-length"]) {
                    Result<int64_t> n = count_of(e["max-length"], what + ".max-length");
                    if (!n) return n.status();
                    p.max_length = size_t(*n);
                }
                g.pii_patterns.push_back(std::move(p));
            }
        } else {
            return Status::error(what + ": unknown key (valid: models, keys, patterns)");
        }
    }
    return ok_status();
}

Status apply_yaml_section(gateway::GatewayConfig& c, const std::string& path) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
        return Status::error("config file " + path + ": " + e.what());
    }
    const YAML::Node section = root.IsMap() ? root["gateway"] : YAML::Node();
    if (!section) return ok_status();
    if (!section.IsMap()) return Status::error(at(path, section) + ": gateway must be a map");
    for (const auto& kv : section) {
        const std::string k = kv.first.Scalar();
        const std::string what = at(path, kv.second) + ": gateway." + k;
        if (k == "pii") {
            CITADEL_TRY(apply_pii_section(c.guards, kv.second, path));
        } else if (k == "mtls-identities") {
            for (const auto& e : kv.second) {
                auto id = mtls_identity(e.first.Scalar(), e.second, what + "." + e.first.Scalar());
                if (!id) return id.status();
                c.mtls_identities[e.first.Scalar()] = std::move(*id);
            }
        } else if (k == "jwt-limits") {
            if (!c.jwt)
                return Status::error(what +
                                     ": no JWT is configured (--jwt-secret-file or --jwt-jwks)");
            for (const auto& e : kv.second)
                CITADEL_TRY(apply_limit(c.jwt->limits, e.first.Scalar(), e.second, what));
        } else {
            return Status::error(what + ": unknown key (valid: pii, mtls-identities, jwt-limits)");
        }
    }
    return ok_status();
}

Status ensure_dir(const std::string& dir) {
    std::error_code ec;
    if (std::filesystem::is_directory(dir, ec)) return ok_status();
    if (!std::filesystem::create_directories(dir, ec))
        return Status::error("cannot create data directory " + dir + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
    return ok_status();
}

Result<std::optional<gateway::JwtConfig>> jwt_config(const GatewayArgs& a) {
    if (a.jwt_secret_file.empty() && a.jwt_jwks.empty()) return std::optional<gateway::JwtConfig>();
    gateway::JwtConfig j;
    j.hs256_secret_file = a.jwt_secret_file;
    j.jwks_file = a.jwt_jwks;
    j.issuer = a.jwt_issuer;
    j.audience = a.jwt_audience;
    j.role_claim = a.jwt_role_claim;
    j.models_claim = a.jwt_models_claim;
    if (!a.jwt_default_role.empty()) {
        j.default_role = gateway::parse_role(a.jwt_default_role);
        if (!j.default_role)
            return Status::error("--jwt-default-role must be admin, user or viewer");
    }
    return std::optional<gateway::JwtConfig>(std::move(j));
}

Result<std::optional<gateway::ClassifierOptions>> classifier_config(const GatewayArgs& a) {
    if (a.classifier_url.empty()) return std::optional<gateway::ClassifierOptions>();
    gateway::ClassifierOptions o;
    o.url = a.classifier_url;
    Result<int64_t> ms = parse_duration_ms(a.classifier_timeout);
    if (!ms) return Status::error("--classifier-timeout: " + ms.error());
    o.timeout_ms = int(std::min<int64_t>(*ms, 600000));
    o.fail_open = a.classifier_fail_open;
    o.check_input = a.classifier_stages.find("input") != std::string::npos;
    o.check_output = a.classifier_stages.find("output") != std::string::npos;
    for (std::string_view rest = a.classifier_stages; !rest.empty();) {
        const size_t comma = rest.find(',');
        const std::string_view stage = rest.substr(0, comma);
        if (stage != "input" && stage != "output")
            return Status::error("--classifier-stages: '" + std::string(stage) +
                                 "' is not input or output");
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    return std::optional<gateway::ClassifierOptions>(o);
}

Status model_caps(const GatewayArgs& a, gateway::GatewayConfig& c) {
    for (const std::string& s : a.model_concurrency) {
        const size_t eq = s.rfind('=');
        int n = 0;
        try {
            n = eq == std::string::npos ? 0 : std::stoi(s.substr(eq + 1));
        } catch (const std::exception&) {
            n = 0;
        }
        if (eq == std::string::npos || eq == 0 || n <= 0)
            return Status::error("--model-concurrency '" + s + "': expected MODEL=N with N >= 1");
        c.model_concurrency[s.substr(0, eq)] = n;
    }
    return ok_status();
}

}  // namespace

bool is_loopback(const std::string& host) {
    return host == "localhost" || host == "::1" || host == "[::1]" || host.starts_with("127.");
}

void add_gateway_options(CLI::App& c, GatewayArgs& a) {
    c.add_option("--data-dir", a.data_dir, "Where the key store and audit log live by default")
        ->default_str(a.data_dir);
    c.add_flag("--no-auth", a.no_auth, "Serve without credentials (loopback addresses only)");
    c.add_flag("--insecure-allow-no-auth", a.insecure_allow_no_auth,
               "Allow --no-auth on a non-loopback address");
    c.add_option("--keys-db", a.keys_db, "API key store (SQLite; default DATA_DIR/keys.db)");
    c.add_option("--jwt-secret-file", a.jwt_secret_file,
                 "Accept HS256 JWTs signed with this secret");
    c.add_option("--jwt-jwks", a.jwt_jwks, "Accept RS256/ES256 JWTs signed by these keys (JWKS)");
    c.add_option("--jwt-issuer", a.jwt_issuer, "Required JWT issuer (iss)");
    c.add_option("--jwt-audience", a.jwt_audience, "Required JWT audience (aud)");
    c.add_option("--jwt-role-claim", a.jwt_role_claim, "JWT claim with the role")
        ->default_str("role");
    c.add_option("--jwt-models-claim", a.jwt_models_claim, "JWT claim with the allowed models")
        ->default_str("models");
    c.add_option("--jwt-default-role", a.jwt_default_role, "Role of a JWT without a role claim");
    c.add_flag("--public-metrics", a.public_metrics, "Serve /metrics without a credential");
    c.add_option("--redis", a.redis, "Share rate-limit counters through Redis (redis://host:port)");
    c.add_flag("--redis-fail-open", a.redis_fail_open, "Admit requests while Redis is unreachable");
    c.add_option("--model-concurrency", a.model_concurrency,
                 "MODEL=N: at most N requests in flight on models matching MODEL (repeatable)");
    c.add_option("--pii-input", a.pii_input, "PII in prompts: off, redact, block, log")
        ->default_str("off");
    c.add_option("--pii-output", a.pii_output, "PII in replies: off, redact, block, log")
        ->default_str("off");
    c.add_option(
        "--pii-types", a.pii_types,
        "PII types to look for (default all: ID_NUMBER PHONE BANK_CARD PASSPORT EMAIL IPV4)");
    c.add_option("--injection-rules", a.injection_rules, "Prompt-injection rules file (YAML)");
    c.add_flag("--no-injection-guard", a.no_injection_guard, "Turn the prompt-injection guard off");
    c.add_option("--classifier-url", a.classifier_url,
                 "Content classifier (http://host:port/path)");
    c.add_option("--classifier-timeout", a.classifier_timeout, "Classifier time limit")
        ->default_str("1s");
    c.add_option("--classifier-stages", a.classifier_stages, "input, output, or input,output")
        ->default_str("input");
    c.add_flag("--classifier-fail-open", a.classifier_fail_open,
               "Allow requests when the classifier cannot be asked");
    c.add_option("--audit-log", a.audit_log,
                 "Audit log (JSON lines; default DATA_DIR/audit.jsonl)");
    c.add_flag("--no-audit", a.no_audit, "Write no audit log");
    c.add_flag("--audit-text", a.audit_text, "Record prompt and completion text in the audit log");
    c.add_option("--audit-key", a.audit_key, "Encrypt recorded text with this AES-256 key file");
    c.add_option("--tls-cert", a.tls_cert, "TLS certificate chain (PEM); enables HTTPS");
    c.add_option("--tls-key", a.tls_key, "TLS private key (PEM)");
    c.add_option("--tls-client-ca", a.tls_client_ca, "Verify client certificates against this CA");
    c.add_flag("--tls-require-client-cert", a.tls_require_client_cert,
               "Refuse clients without one");
    c.add_flag("--tls13-only", a.tls13_only, "TLS 1.3 only (default: 1.2 and 1.3)");
}

Result<gateway::GatewayConfig> gateway_config(const GatewayArgs& a, const std::string& yaml_path,
                                              const std::string& host) {
    gateway::GatewayConfig c;
    c.auth = !a.no_auth;
    if (a.no_auth && !is_loopback(host) && !a.insecure_allow_no_auth) {
        return Status::error("--no-auth on " + host +
                             " would serve every model to anyone who can reach it; bind to "
                             "127.0.0.1, or add --insecure-allow-no-auth if you mean it");
    }
    const bool need_dir = (c.auth && a.keys_db.empty()) || (!a.no_audit && a.audit_log.empty());
    if (need_dir) CITADEL_TRY(ensure_dir(a.data_dir));
    if (c.auth) c.keys_db = a.keys_db.empty() ? a.data_dir + "/keys.db" : a.keys_db;
    Result<std::optional<gateway::JwtConfig>> jwt = jwt_config(a);
    if (!jwt) return jwt.status();
    c.jwt = std::move(*jwt);
    c.public_metrics = a.public_metrics;
    if (!a.redis.empty()) {
        gateway::RedisLimiterOptions r;
        r.url = a.redis;
        r.fail_open = a.redis_fail_open;
        c.redis = r;
    }
    CITADEL_TRY(model_caps(a, c));
    Result<PiiMode> in = mode_of(a.pii_input, "--pii-input");
    if (!in) return in.status();
    Result<PiiMode> out = mode_of(a.pii_output, "--pii-output");
    if (!out) return out.status();
    c.guards.pii = {.input = *in, .output = *out};
    c.guards.pii_types = a.pii_types;
    c.guards.injection = !a.no_injection_guard;
    c.guards.injection_rules_file = a.injection_rules;
    Result<std::optional<gateway::ClassifierOptions>> cl = classifier_config(a);
    if (!cl) return cl.status();
    c.guards.classifier = *cl;
    if (!a.no_audit) {
        gateway::AuditOptions o;
        o.path = a.audit_log.empty() ? a.data_dir + "/audit.jsonl" : a.audit_log;
        o.record_text = a.audit_text;
        o.text_key_file = a.audit_key;
        c.audit = o;
    } else if (a.audit_text || !a.audit_key.empty()) {
        return Status::error("--audit-text / --audit-key need the audit log (drop --no-audit)");
    }
    if (!a.audit_key.empty() && !a.audit_text)
        return Status::error("--audit-key encrypts recorded text: add --audit-text");
    if (!yaml_path.empty()) CITADEL_TRY(apply_yaml_section(c, yaml_path));
    return c;
}

server::TlsOptions tls_options(const GatewayArgs& a) {
    server::TlsOptions t;
    t.cert_file = a.tls_cert;
    t.key_file = a.tls_key;
    t.client_ca_file = a.tls_client_ca;
    t.require_client_cert = a.tls_require_client_cert;
    t.tls13_only = a.tls13_only;
    return t;
}

}  // namespace citadel::cli
