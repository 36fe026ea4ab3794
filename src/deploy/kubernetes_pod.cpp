// The Deployment and its pod: a non-root, read-only container with every capability
// dropped and the runtime's default seccomp profile; liveness on /health (answers while
// models load), readiness on /ready (503 until they are loaded) and a startup probe that
// gives slow model loads ten minutes before liveness starts counting.
#include "deploy/targets.h"

namespace citadel::deploy::k8s {
namespace {

constexpr const char* kModelsDir = "/models";
constexpr const char* kDataDir = "/data";
constexpr const char* kAuthDir = "/etc/citadel/auth";
constexpr const char* kTlsDir = "/etc/citadel/tls";
constexpr int kSecretFileMode = 0440;  // group-readable: the pod's fsGroup reads it

Json volume_mounts(const DeploySpec& spec) {
    Json mounts = Json::array({{{"name", "models"}, {"mountPath", kModelsDir}, {"readOnly", true}},
                               {{"name", "data"}, {"mountPath", kDataDir}},
                               {{"name", "tmp"}, {"mountPath", "/tmp"}},
                               {{"name", "auth"}, {"mountPath", kAuthDir}, {"readOnly", true}}});
    if (spec.tls) mounts.push_back({{"name", "tls"}, {"mountPath", kTlsDir}, {"readOnly", true}});
    return mounts;
}

}  // namespace

Json selector_labels(const DeploySpec& spec) {
    return {{"app.kubernetes.io/name", spec.name}, {"app.kubernetes.io/instance", spec.name}};
}

Json labels(const DeploySpec& spec) {
    Json l = selector_labels(spec);
    l["app.kubernetes.io/version"] = kAppVersion;
    l["app.kubernetes.io/component"] = "server";
    return l;
}

Json pod_security_context() {
    return {{"runAsNonRoot", true},
            {"runAsUser", kUid},
            {"runAsGroup", kUid},
            {"fsGroup", kUid},
            {"seccompProfile", {{"type", "RuntimeDefault"}}}};
}

Json container_security_context() {
    return {{"allowPrivilegeEscalation", false},
            {"readOnlyRootFilesystem", true},
            {"runAsNonRoot", true},
            {"privileged", false},
            {"capabilities", {{"drop", Json::array({"ALL"})}}}};
}

Json container_resources(const DeploySpec& spec) {
    const Resources& r = spec.resources;
    Json res = {
        {"requests",
         {{"cpu", k8s_cpu(r.cpu_millis)}, {"memory", k8s_quantity(r.memory_request_bytes)}}},
        {"limits", {{"memory", k8s_quantity(r.memory_limit_bytes)}}}};
    if (r.gpus > 0) {
        res["requests"]["nvidia.com/gpu"] = std::to_string(r.gpus);
        res["limits"]["nvidia.com/gpu"] = std::to_string(r.gpus);
    }
    return res;
}

Json tolerations(const DeploySpec& spec) {
    if (spec.resources.gpus == 0) return Json::array();
    return Json::array(
        {{{"key", "nvidia.com/gpu"}, {"operator", "Exists"}, {"effect", "NoSchedule"}}});
}

Json probe(const DeploySpec& spec, const char* path, int period_s, int failures) {
    return {
        {"httpGet", {{"path", path}, {"port", "http"}, {"scheme", spec.tls ? "HTTPS" : "HTTP"}}},
        {"periodSeconds", period_s},
        {"timeoutSeconds", 3},
        {"failureThreshold", failures}};
}

Json container_args(const DeploySpec& spec) {
    const std::string auth = kAuthDir, tls = kTlsDir;
    Json args = Json::array();
    for (const std::string& a : serve_args(spec, {.models_dir = kModelsDir,
                                                 .data_dir = kDataDir,
                                                 .jwt_secret_file = auth + "/jwt-secret",
                                                 .tls_cert_file = tls + "/tls.crt",
                                                 .tls_key_file = tls + "/tls.key"}))
        args.push_back(a);
    return args;
}

Json container(const DeploySpec& spec) {
    return {{"name", "citadel"},
            {"image", spec.image},
            {"imagePullPolicy", "IfNotPresent"},
            {"args", container_args(spec)},
            {"ports",
             Json::array({{{"name", "http"}, {"containerPort", spec.port}, {"protocol", "TCP"}}})},
            {"startupProbe", probe(spec, "/ready", 5, 120)},
            {"livenessProbe", probe(spec, "/health", 10, 3)},
            {"readinessProbe", probe(spec, "/ready", 5, 2)},
            {"resources", container_resources(spec)},
            {"securityContext", container_security_context()},
            {"volumeMounts", volume_mounts(spec)}};
}

Json pod_volumes(const DeploySpec& spec) {
    Json v = Json::array(
        {{{"name", "models"},
          {"persistentVolumeClaim", {{"claimName", spec.name + "-models"}, {"readOnly", true}}}},
         {{"name", "data"}, {"emptyDir", Json::object()}},
         {{"name", "tmp"}, {"emptyDir", {{"sizeLimit", "256Mi"}}}},
         {{"name", "auth"},
          {"secret", {{"secretName", spec.name + "-auth"}, {"defaultMode", kSecretFileMode}}}}});
    if (spec.tls)
        v.push_back(
            {{"name", "tls"},
             {"secret", {{"secretName", spec.name + "-tls"}, {"defaultMode", kSecretFileMode}}}});
    return v;
}

Json pod_annotations(const DeploySpec& spec) {
    return {{"prometheus.io/scrape", "true"},
            {"prometheus.io/port", std::to_string(spec.port)},
            {"prometheus.io/path", "/metrics"},
            {"prometheus.io/scheme", spec.tls ? "https" : "http"}};
}

// No `replicas`: the HorizontalPodAutoscaler owns the count (from --replicas up), and a
// count here would reset it on every `kubectl apply`.
Json deployment(const DeploySpec& spec) {
    Json pod = {{"automountServiceAccountToken", false},
                {"terminationGracePeriodSeconds", spec.shutdown_timeout_s + 15},
                {"securityContext", pod_security_context()},
                {"containers", Json::array({container(spec)})},
                {"volumes", pod_volumes(spec)}};
    if (spec.resources.gpus > 0) pod["tolerations"] = tolerations(spec);
    return {{"apiVersion", "apps/v1"},
            {"kind", "Deployment"},
            {"metadata", {{"name", spec.name}, {"labels", labels(spec)}}},
            {"spec",
             {{"revisionHistoryLimit", 5},
              {"selector", {{"matchLabels", selector_labels(spec)}}},
              {"strategy",
               {{"type", "RollingUpdate"},
                {"rollingUpdate", {{"maxSurge", 1}, {"maxUnavailable", 0}}}}},
              {"template",
               {{"metadata",
                 {{"labels", selector_labels(spec)}, {"annotations", pod_annotations(spec)}}},
                {"spec", pod}}}}}};
}

}  // namespace citadel::deploy::k8s
