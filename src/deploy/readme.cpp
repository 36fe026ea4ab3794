// README.md of a generated folder: the command that made it, what each file is, and the
// steps to run each target.
#include <algorithm>

#include "deploy/targets.h"

namespace citadel::deploy {
namespace {

struct FileNote {
    const char* prefix;  // a path, or a folder ending in '/'
    const char* note;
};

constexpr FileNote kNotes[] = {
    {"Dockerfile.dockerignore", "what the image build leaves out of the context"},
    {"Dockerfile",
     "two-stage image: builds citadel on debian:12, runs it on debian:12-slim as "
     "uid 10001 with a HEALTHCHECK on /health"},
    {"compose/",
     "docker compose: read-only container, models from ./models, data volume, "
     "JWT secret and TLS files as compose secrets"},
    {"kubernetes/optional/", "Prometheus Operator ServiceMonitor and its scrape token Secret"},
    {"kubernetes/",
     "raw manifests (`kubectl apply -f kubernetes/`): Deployment, Service, "
     "HorizontalPodAutoscaler, PodDisruptionBudget, NetworkPolicy, models "
     "PersistentVolumeClaim, Secrets (placeholders)"},
    {"helm/", "Helm chart with the same objects; values.yaml holds this command's numbers"},
    {"systemd/", "systemd unit with sandboxing, and the sysusers.d entry for its user"},
    {"prometheus/citadel-alerts.yml", "Prometheus alert rules"},
    {"prometheus/adapter-values.yaml",
     "prometheus-adapter rule exposing citadel:num_requests_waiting to the autoscaler"},
    {"grafana/", "Grafana dashboard (import it and pick the Prometheus data source)"},
};

const FileNote* note_for(const std::string& path) {
    for (const FileNote& n : kNotes) {
        if (path.starts_with(n.prefix)) return &n;
    }
    return nullptr;
}

struct FileGroup {
    const FileNote* note = nullptr;  // null: a file without a note
    bool folder = false;
    std::vector<std::string> paths;
};

// One line per file; a folder's note once, with its files under it (in path order).
std::string files_section(const std::vector<GeneratedFile>& files) {
    std::vector<FileGroup> groups;
    for (const GeneratedFile& f : files) {
        const FileNote* n = note_for(f.path);
        const bool folder = n && std::string_view(n->prefix).ends_with('/');
        auto same = [&](const FileGroup& g) { return folder && g.note == n; };
        auto it = std::find_if(groups.begin(), groups.end(), same);
        if (it == groups.end()) it = groups.insert(groups.end(), {.note = n, .folder = folder});
        it->paths.push_back(f.path);
    }
    std::string s = "## Files\n\n";
    for (const FileGroup& g : groups) {
        if (!g.folder) {
            s.append("- `").append(g.paths[0]).append("`");
            if (g.note) s.append(": ").append(g.note->note);
            s.append("\n");
            continue;
        }
        s.append("- `").append(g.note->prefix).append("`: ").append(g.note->note).append("\n");
        for (const std::string& p : g.paths) s.append("  - `").append(p).append("`\n");
    }
    return s + "\n";
}

bool has(const std::vector<Target>& targets, Target t) {
    for (Target x : targets) {
        if (x == t) return true;
    }
    return false;
}

std::string resources_section(const DeploySpec& spec) {
    const Resources& r = spec.resources;
    std::string s = "## Resources per replica\n\n";
    s += "- memory: request " + k8s_quantity(r.memory_request_bytes) + ", limit " +
         k8s_quantity(r.memory_limit_bytes) + "\n";
    s += "- CPU: " + k8s_cpu(r.cpu_millis) + "\n";
    if (r.gpus > 0)
        s += "- GPUs: " + std::to_string(r.gpus) + " (nvidia.com/gpu" +
             (r.gpu_name.empty() ? "" : ", " + r.gpu_name) + ")\n";
    if (!r.formula.empty()) s += "- how: " + r.formula + "\n";
    return s + "\n";
}

std::string steps(const DeploySpec& spec, const std::vector<Target>& targets) {
    std::string s = "## Running it\n\n";
    s += "Secrets are never generated: every `REPLACE_ME` is a placeholder. Clients authenticate "
         "with HS256 JWTs signed with the JWT secret (32 bytes or more, e.g. `openssl rand -hex "
         "32`; citadel refuses to start with a shorter one); see docs/GATEWAY.md.\n\n";
    if (has(targets, Target::kCompose) || has(targets, Target::kKubernetes) ||
        has(targets, Target::kHelm))
        s += "- Image: from the repository root, `docker build -f <this folder>/Dockerfile -t " +
             spec.image + " .`\n";
    if (has(targets, Target::kCompose))
        s +=
            "- Compose: put the GGUF files in `compose/models/`, write `compose/secrets/jwt-secret`"
            " (and `tls.crt`, `tls.key` with TLS) readable by uid 10001, then `docker compose -f "
            "compose/docker-compose.yml up -d`.\n";
    if (has(targets, Target::kKubernetes))
        s += "- Kubernetes: fill the `" + spec.name +
             "-models` volume with the GGUF files, replace the placeholders in "
             "`kubernetes/secret-*.yaml` (or create the Secrets with kubectl), install "
             "prometheus-adapter with `prometheus/adapter-values.yaml`, then `kubectl apply -f "
             "kubernetes/`.\n";
    if (has(targets, Target::kHelm))
        s += "- Helm: `helm install " + spec.name + " helm/" + spec.name +
             " --set-file secrets.jwtSecret=jwt.txt` (values.yaml lists every setting).\n";
    if (has(targets, Target::kSystemd))
        s += "- systemd: install the binary as `" + spec.binary_path +
             "`, copy "
             "`systemd/citadel.sysusers.conf` to `/etc/sysusers.d/citadel.conf` and run "
             "`systemd-sysusers`, put the JWT secret (and TLS files) in `/etc/" +
             spec.name + "/`, the GGUF files in `" + spec.state_dir +
             "/models/`, copy the unit to "
             "`/etc/systemd/system/` and `systemctl enable --now " +
             spec.name + "`.\n";
    s += "- Prometheus: scrape `GET /metrics` with a viewer credential (or serve with "
         "`--public-metrics` on a network only Prometheus reaches); load "
         "`prometheus/citadel-alerts.yml` as a rule file.\n";
    return s + "\n";
}

}  // namespace

GeneratedFile readme_file(const DeploySpec& spec, const std::vector<Target>& targets,
                          const std::vector<GeneratedFile>& files) {
    std::string s = "# Deploying Citadel (" + spec.name + ")\n\n";
    s += "Generated by `citadel deploy`. Do not edit these files: change the command and run it "
         "again (add `--out <this folder> --force`):\n\n";
    s += "    " + spec.command + "\n\n";
    s += files_section(files);
    s += resources_section(spec) + steps(spec, targets);
    return {"README.md", s};
}

}  // namespace citadel::deploy
