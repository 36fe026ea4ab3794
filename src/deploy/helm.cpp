// The Helm chart under helm/<name>/: Chart.yaml, values.yaml (this spec's numbers, from the
// same builders as the raw manifests) and the fixed templates of helm_templates.cpp.
#include "deploy/helm_templates.h"
#include "deploy/targets.h"

namespace citadel::deploy {
namespace {

// "registry/citadel:0.1.0" -> {"registry/citadel", "0.1.0"}; a digest or no tag stays whole.
std::pair<std::string, std::string> split_image(const std::string& image) {
    const size_t colon = image.rfind(':');
    const size_t slash = image.rfind('/');
    if (image.find('@') != std::string::npos || colon == std::string::npos ||
        (slash != std::string::npos && colon < slash))
        return {image, ""};
    return {image.substr(0, colon), image.substr(colon + 1)};
}

Json chart(const DeploySpec& spec) {
    return {{"apiVersion", "v2"},
            {"name", spec.name},
            {"description", "Citadel: private LLM inference (OpenAI-compatible API) on Kubernetes"},
            {"type", "application"},
            {"version", k8s::kAppVersion},
            {"appVersion", k8s::kAppVersion},
            {"keywords", Json::array({"llm", "inference", "openai", "gguf"})}};
}

Json values(const DeploySpec& spec) {
    const auto [repository, tag] = split_image(spec.image);
    Json models = Json::array();
    for (const ModelRef& m : spec.models)
        models.push_back({{"name", m.name}, {"file", m.file_name}});
    const Autoscaling& a = spec.autoscaling;
    return {
        {"fullnameOverride", ""},
        {"image", {{"repository", repository}, {"tag", tag}, {"pullPolicy", "IfNotPresent"}}},
        {"replicaCount", spec.replicas},
        {"port", spec.port},
        {"models", models},
        {"shutdownTimeoutSeconds", spec.shutdown_timeout_s},
        {"engine", {{"ctx", spec.ctx}, {"maxSeqs", spec.seqs}, {"kvMem", kv_mem_arg(spec)}}},
        {"tls", {{"enabled", spec.tls}}},
        {"service", {{"type", "ClusterIP"}}},
        {"resources", k8s::container_resources(spec)},
        {"podSecurityContext", k8s::pod_security_context()},
        {"securityContext", k8s::container_security_context()},
        {"tolerations", k8s::tolerations(spec)},
        {"nodeSelector", Json::object()},
        {"autoscaling",
         {{"enabled", true},
          {"minReplicas", a.min_replicas},
          {"maxReplicas", a.max_replicas},
          {"targetWaitingRequests", a.target_waiting_per_pod},
          {"targetCPUUtilizationPercentage", a.target_cpu_percent}}},
        {"podDisruptionBudget", {{"enabled", true}, {"maxUnavailable", 1}}},
        {"networkPolicy", {{"enabled", true}, {"egressCIDRs", spec.egress_cidrs}}},
        {"modelsVolume",
         {{"existingClaim", ""}, {"storageClassName", ""}, {"size", models_volume_size(spec)}}},
        {"secrets",
         {{"create", true},
          {"jwtSecret", "REPLACE_ME"},
          {"tlsCrt", "REPLACE_ME"},
          {"tlsKey", "REPLACE_ME"},
          {"metricsToken", "REPLACE_ME"}}},
        {"serviceMonitor", {{"enabled", false}, {"interval", "30s"}}},
    };
}

constexpr const char* kValuesNote =
    "# Secrets: the REPLACE_ME values are placeholders. Pass real ones at install time\n"
    "# (--set-file secrets.jwtSecret=jwt.txt), or set secrets.create=false and create the\n"
    "# Secrets <release>-auth, <release>-tls and <release>-metrics yourself.\n";

}  // namespace

std::vector<GeneratedFile> helm_files(const DeploySpec& spec) {
    const std::string dir = "helm/" + spec.name + "/";
    std::vector<GeneratedFile> files = {
        {dir + "Chart.yaml", generated_header(spec, "# ") + to_yaml(chart(spec))},
        {dir + "values.yaml", generated_header(spec, "# ") + kValuesNote + to_yaml(values(spec))},
        {dir + ".helmignore", ".git/\n*.swp\n*.bak\n*.tmp\n"},
    };
    for (const auto& [name, text] : helm_templates())
        files.push_back({dir + "templates/" + name, text});
    return files;
}

}  // namespace citadel::deploy
