// citadel deploy: writes what running Citadel somewhere takes (container image, compose,
// Kubernetes manifests, Helm chart, systemd unit, Prometheus rules, Grafana dashboard) for
// the given models, replicas and resources. The generators live in src/deploy/.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "cli/common.h"
#include "cli/verbs.h"
#include "deploy/generate.h"
#include "deploy/spec.h"
#include "plan/plan.h"

namespace citadel::cli {
namespace {

struct DeployArgs {
    std::string targets;
    std::vector<std::string> models;  // NAME=FILE or FILE
    int replicas = 1;
    std::string gpu;
    int gpus = -1;  // -1: 1 with --gpu, else 0
    std::string out;
    bool force = false;
    std::string name = "citadel";
    std::string image = "citadel:0.1.0";
    int port = 8080;
    bool tls = false;
    std::string memory, cpus;
    std::string models_volume;
    int min_replicas = 0, max_replicas = 0;  // 0: --replicas and 3 x --replicas
    int hpa_waiting = 4, hpa_cpu = 80;
    std::vector<std::string> egress;
    int shutdown_timeout_s = 30;
    std::string systemd_binary = "/usr/local/bin/citadel";
    std::string systemd_state_dir = "/var/lib/citadel";
    // What the resources are planned for (citadel plan).
    int ctx = 8192;
    int seqs = 8;
    std::string plan_model;  // a preset or config.json, for model files not on this machine
    std::string quant;       // with plan_model: the quantization ("" = the preset's f16)
};

struct ModelFile {
    deploy::ModelRef ref;
    std::string path;  // on this machine, for sizing (may not exist)
};

Result<ModelFile> parse_model(const std::string& arg) {
    const size_t eq = arg.find('=');
    const std::string path = eq == std::string::npos ? arg : arg.substr(eq + 1);
    const std::filesystem::path p(path);
    if (path.empty() || p.filename().empty())
        return Status::error("--model '" + arg + "': expected NAME=FILE.gguf or FILE.gguf");
    for (char c : arg) {
        if ((unsigned char)c < 0x20 || c == 0x7f)
            return Status::error("--model: the argument holds a control character");
    }
    ModelFile m{.ref = {.name = eq == std::string::npos ? p.stem().string() : arg.substr(0, eq),
                        .file_name = p.filename().string()},
                .path = path};
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec))
        m.ref.size_bytes = std::filesystem::file_size(p, ec);
    return m;
}

// `citadel plan`'s name for a GPU kind ("nvidia-h100" -> "h100").
std::string plan_gpu(const std::string& gpu) {
    return gpu.starts_with("nvidia-") ? gpu.substr(7) : gpu;
}

// One replica's resources, from `citadel plan` (plan::replica_resources) for each model at
// --ctx × --seqs: a model file on this machine, else --plan-model (a preset or config.json).
// One replica serves every model: memory adds up, CPUs and GPUs take the largest need.
Result<deploy::Resources> plan_resources(const DeployArgs& a, const std::vector<ModelFile>& models,
                                         uint64_t& kv_bytes) {
    deploy::Resources r;
    r.gpu_name = a.gpu;
    r.gpus = a.gpus >= 0 ? a.gpus : (a.gpu.empty() ? 0 : 1);
    if (!a.memory.empty() && !a.cpus.empty()) return r;  // both given: nothing to plan
    double cpus = 0;
    int gpus = 0;
    for (const ModelFile& m : models) {
        const bool here = m.ref.size_bytes > 0;
        if (!here && a.plan_model.empty())
            return Status::error("model file " + m.path +
                                 " is not on this machine, so its resources cannot be planned: "
                                 "give --plan-model PRESET|config.json (see citadel plan "
                                 "--list-presets), or --memory and --cpus");
        const std::string source = here ? m.path : a.plan_model;
        Result<plan::ReplicaResources> p =
            plan::replica_resources(source, here ? "" : a.quant, a.ctx, a.seqs, plan_gpu(a.gpu));
        if (!p) return Status::error("planning model '" + m.ref.name + "': " + p.error());
        r.memory_request_bytes += p->memory_request_bytes;
        r.memory_limit_bytes += p->memory_limit_bytes;
        cpus = std::max(cpus, p->cpu_request);
        gpus = std::max(gpus, p->gpus);
        kv_bytes = std::max(kv_bytes, p->kv_bytes);
        r.formula += (r.formula.empty() ? "" : "; ") + m.ref.name + ": " + p->formula;
    }
    constexpr uint64_t kMiB = uint64_t(1) << 20;  // whole MiB read better in manifests
    r.memory_request_bytes = (r.memory_request_bytes + kMiB - 1) / kMiB * kMiB;
    r.memory_limit_bytes = (r.memory_limit_bytes + kMiB - 1) / kMiB * kMiB;
    r.cpu_millis = int(std::lround(cpus * 1000));
    if (a.gpus < 0 && !a.gpu.empty()) r.gpus = gpus;
    return r;
}

// Flags the user's numbers override the plan with.
Status apply_overrides(const DeployArgs& a, deploy::Resources& r) {
    if (!a.memory.empty()) {
        Result<uint64_t> bytes = deploy::parse_bytes(a.memory);
        if (!bytes) return Status::error("--memory: " + bytes.error());
        r.memory_request_bytes = *bytes;
        r.memory_limit_bytes = *bytes + *bytes / 4;
        r.formula = "memory request = --memory " + a.memory + ", limit = request x 1.25";
    }
    if (!a.cpus.empty()) {
        Result<int> millis = deploy::parse_cpu_millis(a.cpus);
        if (!millis) return Status::error("--cpus: " + millis.error());
        r.cpu_millis = *millis;
        r.formula += r.formula.empty() ? "" : "; ";
        r.formula += "CPU = --cpus " + a.cpus;
    }
    return ok_status();
}

// The command line again, flags in a fixed order and only those given, without --out and
// --force: generated files quote it, so the same flags give the same bytes anywhere.
std::string canonical_command(const DeployArgs& a, const DeployArgs& defaults) {
    std::ostringstream s;
    s << "citadel deploy --target " << a.targets;
    for (const std::string& m : a.models) s << " --model " << m;
    s << " --replicas " << a.replicas;
    auto text = [&](const char* flag, const std::string& v, const std::string& d) {
        if (v != d) s << " " << flag << " " << v;
    };
    auto number = [&](const char* flag, int v, int d) {
        if (v != d) s << " " << flag << " " << v;
    };
    text("--gpu", a.gpu, defaults.gpu);
    number("--gpus", a.gpus, defaults.gpus);
    text("--name", a.name, defaults.name);
    text("--image", a.image, defaults.image);
    number("--port", a.port, defaults.port);
    if (a.tls) s << " --tls";
    number("--ctx", a.ctx, defaults.ctx);
    number("--seqs", a.seqs, defaults.seqs);
    text("--plan-model", a.plan_model, defaults.plan_model);
    text("--quant", a.quant, defaults.quant);
    text("--memory", a.memory, defaults.memory);
    text("--cpus", a.cpus, defaults.cpus);
    text("--models-volume", a.models_volume, defaults.models_volume);
    number("--min-replicas", a.min_replicas, defaults.min_replicas);
    number("--max-replicas", a.max_replicas, defaults.max_replicas);
    number("--hpa-waiting", a.hpa_waiting, defaults.hpa_waiting);
    number("--hpa-cpu", a.hpa_cpu, defaults.hpa_cpu);
    for (const std::string& e : a.egress) s << " --egress " << e;
    number("--shutdown-timeout", a.shutdown_timeout_s, defaults.shutdown_timeout_s);
    text("--systemd-binary", a.systemd_binary, defaults.systemd_binary);
    text("--systemd-state-dir", a.systemd_state_dir, defaults.systemd_state_dir);
    return s.str();
}

Result<deploy::DeploySpec> make_spec(const DeployArgs& a) {
    deploy::DeploySpec spec;
    std::vector<ModelFile> models;
    for (const std::string& m : a.models) {
        Result<ModelFile> f = parse_model(m);
        if (!f) return f.status();
        spec.models.push_back(f->ref);
        models.push_back(std::move(*f));
    }
    spec.name = a.name;
    spec.image = a.image;
    spec.replicas = a.replicas;
    spec.port = a.port;
    spec.tls = a.tls;
    spec.autoscaling = {.min_replicas = a.min_replicas > 0 ? a.min_replicas : a.replicas,
                        .max_replicas = a.max_replicas > 0 ? a.max_replicas : 3 * a.replicas,
                        .target_waiting_per_pod = a.hpa_waiting,
                        .target_cpu_percent = a.hpa_cpu};
    if (!a.models_volume.empty()) {
        Result<uint64_t> bytes = deploy::parse_bytes(a.models_volume);
        if (!bytes) return Status::error("--models-volume: " + bytes.error());
        spec.models_volume_bytes = *bytes;
    }
    spec.shutdown_timeout_s = a.shutdown_timeout_s;
    spec.egress_cidrs = a.egress;
    spec.binary_path = a.systemd_binary;
    spec.state_dir = a.systemd_state_dir;
    spec.command = canonical_command(a, DeployArgs{});
    // Every other flag is checked before planning (with stand-in resources), so a mistake is
    // named even when the plan could not be made.
    spec.resources = {.memory_request_bytes = uint64_t(1) << 30,
                      .memory_limit_bytes = uint64_t(1) << 30,
                      .cpu_millis = 1000,
                      .gpu_name = a.gpu};
    CITADEL_TRY(apply_overrides(a, spec.resources));
    CITADEL_TRY(deploy::validate_spec(spec));
    Result<deploy::Resources> planned = plan_resources(a, models, spec.kv_bytes);
    if (!planned) return planned.status();
    spec.resources = std::move(*planned);
    CITADEL_TRY(apply_overrides(a, spec.resources));
    spec.ctx = spec.kv_bytes > 0 ? a.ctx : 0;
    spec.seqs = spec.kv_bytes > 0 ? a.seqs : 0;
    CITADEL_TRY(deploy::validate_spec(spec));
    return spec;
}

int run(const DeployArgs& a) {
    Result<std::vector<deploy::Target>> targets = deploy::parse_targets(a.targets);
    if (!targets) return fail(targets.error());
    Result<deploy::DeploySpec> spec = make_spec(a);
    if (!spec) return fail(spec.error());
    for (const deploy::ModelRef& m : spec->models) {
        if (m.size_bytes == 0)
            std::fprintf(stderr,
                         "citadel: note: model file %s is not on this machine; planned "
                         "from --plan-model or sized by --memory\n",
                         m.file_name.c_str());
    }
    const std::vector<deploy::GeneratedFile> files = deploy::generate(*spec, *targets);
    Status written = deploy::write_files(a.out, files, a.force);
    if (!written.ok()) return fail(written.message());
    for (const deploy::GeneratedFile& f : files)
        std::printf("%s/%s\n", a.out.c_str(), f.path.c_str());
    std::fprintf(stderr, "citadel: wrote %zu files; see %s/README.md\n", files.size(),
                 a.out.c_str());
    return 0;
}

void add_options(CLI::App& c, DeployArgs& a) {
    c.add_option("--target", a.targets,
                 "compose, kubernetes, helm, systemd (comma separated) or all")
        ->required();
    c.add_option("-m,--model", a.models, "Model to serve: NAME=FILE.gguf or FILE.gguf (repeatable)")
        ->required();
    c.add_option("--replicas", a.replicas, "Replicas (compose, Kubernetes, Helm)")->default_val(1);
    c.add_option("--gpu", a.gpu,
                 "GPU kind per replica, e.g. nvidia-h100 (requests nvidia.com/gpu)");
    c.add_option("--gpus", a.gpus, "GPUs per replica (default: 1 with --gpu, else 0)")
        ->check(CLI::Range(0, 16));
    c.add_option("--out", a.out, "Folder to write (created; must be empty unless --force)")
        ->required();
    c.add_flag("--force", a.force, "Overwrite the generated files in a non-empty --out");
    c.add_option("--name", a.name, "Name of the objects, compose project and unit")
        ->default_str(a.name);
    c.add_option("--image", a.image, "Container image")->default_str(a.image);
    c.add_option("--port", a.port, "Port citadel serves on")->default_val(a.port);
    c.add_flag("--tls", a.tls, "Serve HTTPS (certificate and key from a Secret / credentials)");
    c.add_option("--memory", a.memory,
                 "Memory request per replica (limit: x1.25); default: planned");
    c.add_option("--ctx", a.ctx, "Context per sequence the replica is planned for (serve --ctx)")
        ->check(CLI::Range(128, 1 << 22))
        ->default_val(a.ctx);
    c.add_option("--seqs", a.seqs, "Concurrent sequences per replica (serve --max-seqs)")
        ->check(CLI::Range(1, 4096))
        ->default_val(a.seqs);
    c.add_option("--plan-model", a.plan_model,
                 "Plan resources as this preset or config.json when a model file is not here");
    c.add_option("--quant", a.quant, "With --plan-model: the quantization (q4_k_m, q8_0, f16...)");
    c.add_option("--cpus", a.cpus, "CPU request per replica (2, 1.5, 500m); default: planned");
    c.add_option("--models-volume", a.models_volume,
                 "Size of the models volume (default: the files' total + 10 %)");
    c.add_option("--min-replicas", a.min_replicas, "Autoscaler minimum (default: --replicas)")
        ->check(CLI::Range(1, 1000));
    c.add_option("--max-replicas", a.max_replicas, "Autoscaler maximum (default: 3 x --replicas)")
        ->check(CLI::Range(1, 1000));
    c.add_option("--hpa-waiting", a.hpa_waiting, "Autoscaler target: waiting requests per pod")
        ->default_val(a.hpa_waiting);
    c.add_option("--hpa-cpu", a.hpa_cpu, "Autoscaler target: CPU utilisation percent")
        ->default_val(a.hpa_cpu);
    c.add_option("--egress", a.egress, "NetworkPolicy: a CIDR the pods may reach (repeatable)");
    c.add_option("--shutdown-timeout", a.shutdown_timeout_s,
                 "Seconds in-flight requests get on SIGTERM")
        ->default_val(a.shutdown_timeout_s);
    c.add_option("--systemd-binary", a.systemd_binary, "citadel's path for the systemd unit")
        ->default_str(a.systemd_binary);
    c.add_option("--systemd-state-dir", a.systemd_state_dir, "Models and data for the systemd unit")
        ->default_str(a.systemd_state_dir);
}

}  // namespace

VerbRunner add_deploy(CLI::App& app) {
    auto a = std::make_shared<DeployArgs>();
    CLI::App* c = app.add_subcommand(
        "deploy",
        "Generate deployment files: Dockerfile, compose, Kubernetes, Helm, systemd, "
        "Prometheus rules, Grafana dashboard");
    add_options(*c, *a);
    return [a] { return run(*a); };
}

}  // namespace citadel::cli
