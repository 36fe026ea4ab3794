// serve's gateway options: identity (--keys-db, --jwt-*, --no-auth), limits (--redis,
// --model-concurrency), guards (--pii-*, --injection-*, --classifier-*), audit (--audit-*) and
// TLS (--tls-*). Structured settings that do not fit a flag live in the YAML file's
// `gateway:` section (per-model and per-key PII policies, custom PII patterns, client
// certificate identities, JWT limits); see docs/GATEWAY.md.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "gateway/gateway_config.h"
#include "server/http_server.h"

namespace citadel::cli {

struct GatewayArgs {
    std::string data_dir = "citadel-data";
    bool no_auth = false;
    bool insecure_allow_no_auth = false;
    std::string keys_db;  // default: DATA_DIR/keys.db
    std::string jwt_secret_file, jwt_jwks, jwt_issuer, jwt_audience;
    std::string jwt_role_claim = "role", jwt_models_claim = "models", jwt_default_role;
    bool public_metrics = false;
    std::string redis;
    bool redis_fail_open = false;
    std::vector<std::string> model_concurrency;  // NAME=N
    std::string pii_input = "off", pii_output = "off";
    std::vector<std::string> pii_types;
    std::string injection_rules;
    bool no_injection_guard = false;
    std::string classifier_url, classifier_timeout = "1s", classifier_stages = "input";
    bool classifier_fail_open = false;
    std::string audit_log;  // default: DATA_DIR/audit.jsonl
    bool no_audit = false, audit_text = false;
    std::string audit_key;
    std::string tls_cert, tls_key, tls_client_ca;
    bool tls_require_client_cert = false, tls13_only = false;
};

void add_gateway_options(CLI::App& cmd, GatewayArgs& a);

// The gateway's configuration from the flags and the `gateway:` section of `yaml_path` (may
// be empty). Refuses --no-auth on a non-loopback `host` without --insecure-allow-no-auth.
Result<gateway::GatewayConfig> gateway_config(const GatewayArgs& a, const std::string& yaml_path,
                                              const std::string& host);

server::TlsOptions tls_options(const GatewayArgs& a);

bool is_loopback(const std::string& host);

}  // namespace citadel::cli
