// docker-compose: the image run read-only as the non-root user with every capability
// dropped; models bind-mounted read-only from ./models, the data dir (key store, audit log)
// on a named volume, the JWT secret and TLS files as compose secrets from ./secrets/.
#include "deploy/targets.h"

namespace citadel::deploy {
namespace {

// Docker's units are powers of 1024: "5g", "1536m", or bytes.
std::string compose_bytes(uint64_t bytes) {
    constexpr uint64_t kMiB = uint64_t(1) << 20;
    if (bytes != 0 && bytes % (kMiB << 10) == 0) return std::to_string(bytes / (kMiB << 10)) + "g";
    if (bytes != 0 && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "m";
    return std::to_string(bytes) + "b";
}

std::string compose_cpus(int millis) {
    std::string s = std::to_string(millis / 1000);
    if (millis % 1000) {
        std::string frac = std::to_string(1000 + millis % 1000).substr(1);
        while (frac.back() == '0') frac.pop_back();
        s += "." + frac;
    }
    return s;
}

Json command(const DeploySpec& spec) {
    Json args = Json::array();
    for (const std::string& a : serve_args(spec, {.models_dir = "/models",
                                                 .data_dir = "/data",
                                                 .jwt_secret_file = "/run/secrets/jwt_secret",
                                                 .tls_cert_file = "/run/secrets/tls_cert",
                                                 .tls_key_file = "/run/secrets/tls_key"}))
        args.push_back(a);
    return args;
}

// One host port per replica: P, P+1, ... (compose gives each container one of the range).
std::string published_ports(const DeploySpec& spec) {
    const std::string p = std::to_string(spec.port);
    if (spec.replicas == 1) return p + ":" + p;
    return p + "-" + std::to_string(spec.port + spec.replicas - 1) + ":" + p;
}

Json deploy_section(const DeploySpec& spec) {
    const Resources& r = spec.resources;
    Json reservations = {{"cpus", compose_cpus(r.cpu_millis)},
                         {"memory", compose_bytes(r.memory_request_bytes)}};
    if (r.gpus > 0)
        reservations["devices"] = Json::array(
            {{{"driver", "nvidia"}, {"count", r.gpus}, {"capabilities", Json::array({"gpu"})}}});
    return {{"replicas", spec.replicas},
            {"resources",
             {{"limits", {{"memory", compose_bytes(r.memory_limit_bytes)}}},
              {"reservations", reservations}}}};
}

Json service(const DeploySpec& spec) {
    const std::string url = std::string(spec.tls ? "https" : "http") +
                            "://127.0.0.1:" + std::to_string(spec.port) + "/health";
    Json secrets = Json::array({"jwt_secret"});
    if (spec.tls) {
        secrets.push_back("tls_cert");
        secrets.push_back("tls_key");
    }
    return {{"image", spec.image},
            {"command", command(spec)},
            {"ports", Json::array({published_ports(spec)})},
            {"volumes", Json::array({"./models:/models:ro", "data:/data"})},
            {"secrets", secrets},
            {"user", std::to_string(k8s::kUid) + ":" + std::to_string(k8s::kUid)},
            {"read_only", true},
            {"tmpfs", Json::array({"/tmp"})},
            {"cap_drop", Json::array({"ALL"})},
            {"security_opt", Json::array({"no-new-privileges:true"})},
            {"restart", "unless-stopped"},
            {"stop_grace_period", std::to_string(spec.shutdown_timeout_s + 10) + "s"},
            {"healthcheck",
             {{"test", Json::array({"CMD", "curl", spec.tls ? "-fsSk" : "-fsS", url})},
              {"interval", "30s"},
              {"timeout", "5s"},
              {"retries", 3},
              {"start_period", "60s"}}},
            {"deploy", deploy_section(spec)}};
}

Json compose(const DeploySpec& spec) {
    Json secrets = {{"jwt_secret", {{"file", "./secrets/jwt-secret"}}}};
    if (spec.tls) {
        secrets["tls_cert"] = {{"file", "./secrets/tls.crt"}};
        secrets["tls_key"] = {{"file", "./secrets/tls.key"}};
    }
    return {{"name", spec.name},
            {"services", {{"citadel", service(spec)}}},
            {"volumes", {{"data", Json::object()}}},
            {"secrets", secrets}};
}

constexpr const char* kComposeNote =
    "# Before `docker compose up -d` in this folder: build the image (Dockerfile), put the\n"
    "# GGUF files in ./models, and write ./secrets/jwt-secret (openssl rand -hex 32)\n"
    "# readable by uid 10001 (and ./secrets/tls.crt, tls.key with TLS). See README.md.\n";

}  // namespace

std::vector<GeneratedFile> compose_files(const DeploySpec& spec) {
    return {{"compose/docker-compose.yml",
             generated_header(spec, "# ") + kComposeNote + to_yaml(compose(spec))}};
}

}  // namespace citadel::deploy
