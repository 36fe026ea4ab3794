// Raw Kubernetes manifests, one object per file under kubernetes/ (`kubectl apply -f
// kubernetes/`): the Deployment (kubernetes_pod.cpp), a Service, an autoscaler on waiting
// requests and CPU, a disruption budget, a network policy, the models volume claim and the
// Secrets (placeholders only). kubernetes/optional/ holds the Prometheus Operator
// ServiceMonitor and the Secret with its scrape token.
#include "deploy/targets.h"

namespace citadel::deploy {
namespace {

// The name prometheus-adapter gives citadel:num_requests_waiting (prometheus_rules.cpp).
constexpr const char* kWaitingMetric = "citadel_num_requests_waiting";
constexpr const char* kPlaceholder = "REPLACE_ME";

Json metadata(const DeploySpec& spec, const std::string& name) {
    return {{"name", name}, {"labels", k8s::labels(spec)}};
}

Json service(const DeploySpec& spec) {
    return {{"apiVersion", "v1"},
            {"kind", "Service"},
            {"metadata", metadata(spec, spec.name)},
            {"spec",
             {{"type", "ClusterIP"},
              {"selector", k8s::selector_labels(spec)},
              {"ports", Json::array({{{"name", "http"},
                                      {"port", spec.port},
                                      {"targetPort", "http"},
                                      {"protocol", "TCP"}}})}}}};
}

Json autoscaler(const DeploySpec& spec) {
    const Autoscaling& a = spec.autoscaling;
    Json waiting = {{"type", "Pods"},
                    {"pods",
                     {{"metric", {{"name", kWaitingMetric}}},
                      {"target",
                       {{"type", "AverageValue"},
                        {"averageValue", std::to_string(a.target_waiting_per_pod)}}}}}};
    Json cpu = {
        {"type", "Resource"},
        {"resource",
         {{"name", "cpu"},
          {"target", {{"type", "Utilization"}, {"averageUtilization", a.target_cpu_percent}}}}}};
    return {{"apiVersion", "autoscaling/v2"},
            {"kind", "HorizontalPodAutoscaler"},
            {"metadata", metadata(spec, spec.name)},
            {"spec",
             {{"scaleTargetRef",
               {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"name", spec.name}}},
              {"minReplicas", a.min_replicas},
              {"maxReplicas", a.max_replicas},
              {"metrics", Json::array({waiting, cpu})},
              {"behavior", {{"scaleDown", {{"stabilizationWindowSeconds", 300}}}}}}}};
}

Json disruption_budget(const DeploySpec& spec) {
    return {{"apiVersion", "policy/v1"},
            {"kind", "PodDisruptionBudget"},
            {"metadata", metadata(spec, spec.name)},
            {"spec",
             {{"maxUnavailable", 1}, {"selector", {{"matchLabels", k8s::selector_labels(spec)}}}}}};
}

// Ingress: anyone, to the serving port only. Egress: DNS, and the upstreams given.
Json network_policy(const DeploySpec& spec) {
    Json egress = Json::array({{{"ports", Json::array({{{"port", 53}, {"protocol", "UDP"}},
                                                       {{"port", 53}, {"protocol", "TCP"}}})}}});
    for (const std::string& cidr : spec.egress_cidrs)
        egress.push_back({{"to", Json::array({{{"ipBlock", {{"cidr", cidr}}}}})}});
    return {
        {"apiVersion", "networking.k8s.io/v1"},
        {"kind", "NetworkPolicy"},
        {"metadata", metadata(spec, spec.name)},
        {"spec",
         {{"podSelector", {{"matchLabels", k8s::selector_labels(spec)}}},
          {"policyTypes", Json::array({"Ingress", "Egress"})},
          {"ingress",
           Json::array({{{"ports", Json::array({{{"port", spec.port}, {"protocol", "TCP"}}})}}})},
          {"egress", egress}}}};
}

Json models_claim(const DeploySpec& spec) {
    return {{"apiVersion", "v1"},
            {"kind", "PersistentVolumeClaim"},
            {"metadata", metadata(spec, spec.name + "-models")},
            {"spec",
             {{"accessModes", Json::array({"ReadOnlyMany"})},
              {"resources", {{"requests", {{"storage", models_volume_size(spec)}}}}}}}};
}

Json secret(const DeploySpec& spec, const std::string& name, const char* type, Json data) {
    return {{"apiVersion", "v1"},
            {"kind", "Secret"},
            {"metadata", metadata(spec, name)},
            {"type", type},
            {"stringData", std::move(data)}};
}

Json service_monitor(const DeploySpec& spec) {
    Json endpoint = {{"port", "http"},
                     {"path", "/metrics"},
                     {"interval", "30s"},
                     {"scheme", spec.tls ? "https" : "http"},
                     {"bearerTokenSecret", {{"name", spec.name + "-metrics"}, {"key", "token"}}}};
    if (spec.tls) endpoint["tlsConfig"] = {{"serverName", spec.name}};
    return {{"apiVersion", "monitoring.coreos.com/v1"},
            {"kind", "ServiceMonitor"},
            {"metadata", metadata(spec, spec.name)},
            {"spec",
             {{"selector", {{"matchLabels", k8s::selector_labels(spec)}}},
              {"endpoints", Json::array({endpoint})}}}};
}

std::string placeholder_note(const char* what) {
    return std::string("# PLACEHOLDERS: replace every ") + kPlaceholder + " with " + what +
           " before\n# applying (or create the Secret with kubectl and skip this file). Never "
           "commit real secrets.\n";
}

GeneratedFile manifest(const DeploySpec& spec, const std::string& path, const Json& object,
                       const std::string& note = "") {
    return {"kubernetes/" + path, generated_header(spec, "# ") + note + to_yaml(object)};
}

}  // namespace

std::vector<GeneratedFile> kubernetes_files(const DeploySpec& spec) {
    std::vector<GeneratedFile> files = {
        manifest(spec, "deployment.yaml", k8s::deployment(spec)),
        manifest(spec, "service.yaml", service(spec)),
        manifest(spec, "hpa.yaml", autoscaler(spec),
                 "# The Pods metric needs prometheus-adapter with the rule in\n"
                 "# prometheus/adapter-values.yaml (it renames citadel:num_requests_waiting).\n"),
        manifest(spec, "pdb.yaml", disruption_budget(spec)),
        manifest(spec, "networkpolicy.yaml", network_policy(spec)),
        manifest(spec, "pvc-models.yaml", models_claim(spec),
                 "# Holds the GGUF files, read-only for every replica: fill it once (e.g. from\n"
                 "# a Job or by copying into the backing volume), or point the Deployment at an\n"
                 "# existing claim.\n"),
        manifest(spec, "secret-auth.yaml",
                 secret(spec, spec.name + "-auth", "Opaque", {{"jwt-secret", kPlaceholder}}),
                 placeholder_note("a random string of 32 bytes or more (openssl rand -hex 32);\n"
                                  "# clients send HS256 JWTs signed with it (docs/GATEWAY.md).\n"
                                  "# citadel refuses to start with a shorter secret")),
        manifest(spec, "optional/servicemonitor.yaml", service_monitor(spec),
                 "# For the Prometheus Operator: kubectl apply -f kubernetes/optional/\n"),
        manifest(spec, "optional/secret-metrics.yaml",
                 secret(spec, spec.name + "-metrics", "Opaque", {{"token", kPlaceholder}}),
                 placeholder_note("a JWT with role viewer, signed with the\n# jwt-secret")),
    };
    if (spec.tls)
        files.push_back(manifest(spec, "secret-tls.yaml",
                                 secret(spec, spec.name + "-tls", "kubernetes.io/tls",
                                        {{"tls.crt", kPlaceholder}, {"tls.key", kPlaceholder}}),
                                 placeholder_note("the PEM certificate chain and key,\n# or use "
                                                  "kubectl create secret tls / cert-manager")));
    return files;
}

}  // namespace citadel::deploy
