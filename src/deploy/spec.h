// What `citadel deploy` generates from: one DeploySpec, filled by the CLI (flags, and the
// resources that `citadel plan` computes), checked by validate_spec(), then handed to one
// generator per target. Every generator is a pure function of the spec, so the same flags
// give the same bytes (the project's own deploy/ folder is checked that way).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace citadel::deploy {

// A model to serve: NAME and the GGUF file's name. Containers see it as /models/FILE, the
// systemd unit as <models dir>/FILE.
struct ModelRef {
    std::string name;
    std::string file_name;
    uint64_t size_bytes = 0;  // 0: unknown (the file is not on this machine)
};

// One replica's share of the machine (the numbers Kubernetes requests and limits).
struct Resources {
    uint64_t memory_request_bytes = 0;
    uint64_t memory_limit_bytes = 0;
    int cpu_millis = 2000;  // requested CPU, 1000 = one core
    int gpus = 0;           // nvidia.com/gpu per replica
    std::string gpu_name;   // e.g. "nvidia-h100" (informational; from --gpu)
    std::string formula;    // how the numbers were derived, quoted in the README
};

struct Autoscaling {
    int min_replicas = 1;
    int max_replicas = 3;
    int target_waiting_per_pod = 4;  // average citadel:num_requests_waiting per pod
    int target_cpu_percent = 80;
};

struct DeploySpec {
    std::string name = "citadel";  // object names, compose project, systemd unit, job label
    std::string image = "citadel:0.1.0";
    std::vector<ModelRef> models;
    int replicas = 1;
    int port = 8080;
    bool tls = false;
    Resources resources;
    Autoscaling autoscaling;
    uint64_t models_volume_bytes = 0;       // 0: the model files' total + 10 %
    int shutdown_timeout_s = 30;            // serve --shutdown-timeout
    std::vector<std::string> egress_cidrs;  // NetworkPolicy: upstreams the pods may reach
    std::string binary_path = "/usr/local/bin/citadel";  // systemd ExecStart
    std::string state_dir = "/var/lib/citadel";          // systemd: models/ and data/ inside
    std::string command;  // the canonical command line, quoted in generated headers
    // The serving shape the resources were planned for (0: serve's defaults).
    int ctx = 0;            // serve --ctx
    int seqs = 0;           // serve --max-seqs
    uint64_t kv_bytes = 0;  // serve --kv-mem (per model)
};

// serve --kv-mem for the planned KV cache, in whole MiB ("" when none was planned).
std::string kv_mem_arg(const DeploySpec& spec);

// The name a Kubernetes object, compose project or unit may carry: DNS-1123 label.
Status validate_name(const std::string& what, const std::string& name);

// Every field in range and consistent; the message names the flag to fix.
Status validate_spec(const DeploySpec& spec);

// "4Gi", "4GiB", "4G" (powers of 1024), "1536Mi", "512M" or plain bytes; no machine cap
// (the target machine is not this one). The error names the text.
Result<uint64_t> parse_bytes(const std::string& text);
// "2", "1.5" (cores) or "500m" (millicores) -> millicores.
Result<int> parse_cpu_millis(const std::string& text);

// "5Gi", "1536Mi" or plain bytes: a Kubernetes quantity for a byte count.
std::string k8s_quantity(uint64_t bytes);
// "2" or "1500m": a Kubernetes CPU quantity.
std::string k8s_cpu(int millis);
// Storage for the models volume: models_volume_bytes if set, else the files' total plus
// 10 %, rounded up to GiB (min 1Gi).
std::string models_volume_size(const DeploySpec& spec);

// Arguments of `citadel serve` inside a container or unit: models under `models_dir`, the
// data dir, the JWT secret file and (with TLS) the certificate and key files.
struct ServePaths {
    std::string models_dir;
    std::string data_dir;
    std::string jwt_secret_file;
    std::string tls_cert_file;
    std::string tls_key_file;
};
std::vector<std::string> serve_args(const DeploySpec& spec, const ServePaths& paths);

// The header comment of every generated text file (each line starts with `prefix`).
std::string generated_header(const DeploySpec& spec, const std::string& prefix);

}  // namespace citadel::deploy
