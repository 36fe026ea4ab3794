// `citadel deploy`'s entry points: which targets to make, the files each makes from one
// DeploySpec (paths relative to the output folder), and writing them out.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "deploy/spec.h"

namespace citadel::deploy {

enum class Target { kCompose, kKubernetes, kHelm, kSystemd };

// "compose,kubernetes" or "all"; the error names the unknown target.
Result<std::vector<Target>> parse_targets(const std::string& list);
const char* target_name(Target t);

struct GeneratedFile {
    std::string path;  // relative, '/'-separated
    std::string content;
};

// Every file the targets need, plus the Prometheus rules, the Grafana dashboard and a
// README.md; sorted by path, each path once.
std::vector<GeneratedFile> generate(const DeploySpec& spec, const std::vector<Target>& targets);

// Writes `files` under `out_dir` (created if missing). Refuses a folder that already holds
// anything unless `force`; with `force`, files are overwritten and others left alone.
Status write_files(const std::string& out_dir, const std::vector<GeneratedFile>& files, bool force);

}  // namespace citadel::deploy
