// One generator per target (one file each in src/deploy/); generate.cpp combines them.
#pragma once

#include <vector>

#include "deploy/generate.h"
#include "deploy/spec.h"
#include "deploy/yaml_writer.h"

namespace citadel::deploy {

std::vector<GeneratedFile> dockerfile_files(const DeploySpec& spec);  // dockerfile.cpp
std::vector<GeneratedFile> compose_files(const DeploySpec& spec);     // compose.cpp
std::vector<GeneratedFile> kubernetes_files(const DeploySpec& spec);  // kubernetes.cpp
std::vector<GeneratedFile> helm_files(const DeploySpec& spec);        // helm.cpp
std::vector<GeneratedFile> systemd_files(const DeploySpec& spec);     // systemd.cpp
std::vector<GeneratedFile> prometheus_files(const DeploySpec& spec);  // prometheus_rules.cpp
std::vector<GeneratedFile> grafana_files(const DeploySpec& spec);     // grafana.cpp
GeneratedFile readme_file(const DeploySpec& spec, const std::vector<Target>& targets,
                          const std::vector<GeneratedFile>& files);  // readme.cpp

// Kubernetes pieces the raw manifests and the Helm chart's values share (kubernetes_pod.cpp),
// so that the chart rendered with its default values gives the same objects.
namespace k8s {
constexpr int kUid = 10001;  // the image's non-root user (Dockerfile)
constexpr const char* kAppVersion = "0.1.0";
Json selector_labels(const DeploySpec& spec);
Json labels(const DeploySpec& spec);
Json pod_security_context();
Json container_security_context();
Json container_resources(const DeploySpec& spec);
Json tolerations(const DeploySpec& spec);
Json probe(const DeploySpec& spec, const char* path, int period_s, int failures);
Json container_args(const DeploySpec& spec);
Json container(const DeploySpec& spec);
Json pod_volumes(const DeploySpec& spec);
Json pod_annotations(const DeploySpec& spec);
Json deployment(const DeploySpec& spec);
}  // namespace k8s

}  // namespace citadel::deploy
