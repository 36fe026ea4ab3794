// Combines the targets' files and writes them out (see generate.h).
#include "deploy/generate.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "deploy/targets.h"

namespace citadel::deploy {
namespace {

namespace fs = std::filesystem;

constexpr std::pair<const char*, Target> kTargets[] = {{"compose", Target::kCompose},
                                                       {"kubernetes", Target::kKubernetes},
                                                       {"helm", Target::kHelm},
                                                       {"systemd", Target::kSystemd}};

void append(std::vector<GeneratedFile>& to, std::vector<GeneratedFile> from) {
    for (GeneratedFile& f : from) to.push_back(std::move(f));
}

Status write_one(const fs::path& path, const std::string& content) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) return Status::error(path.parent_path().string() + ": " + ec.message());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    if (!out) return Status::error(path.string() + ": could not write the file");
    return ok_status();
}

}  // namespace

Result<std::vector<Target>> parse_targets(const std::string& list) {
    std::vector<Target> targets;
    size_t start = 0;
    while (start <= list.size()) {
        size_t end = list.find(',', start);
        if (end == std::string::npos) end = list.size();
        const std::string item = list.substr(start, end - start);
        start = end + 1;
        if (item == "all") {
            for (const auto& [name, t] : kTargets) targets.push_back(t);
            continue;
        }
        bool known = false;
        for (const auto& [name, t] : kTargets) {
            if (item == name) {
                targets.push_back(t);
                known = true;
            }
        }
        if (!known)
            return Status::error("--target: '" + item +
                                 "' is not one of compose, kubernetes, helm, systemd, all");
    }
    std::sort(targets.begin(), targets.end());
    targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
    return targets;
}

const char* target_name(Target t) {
    for (const auto& [name, x] : kTargets) {
        if (x == t) return name;
    }
    return "?";
}

std::vector<GeneratedFile> generate(const DeploySpec& spec, const std::vector<Target>& targets) {
    std::vector<GeneratedFile> files;
    bool containers = false;
    for (Target t : targets) {
        switch (t) {
            case Target::kCompose:
                append(files, compose_files(spec));
                break;
            case Target::kKubernetes:
                append(files, kubernetes_files(spec));
                append(files, prometheus_files(spec));  // the adapter rule the HPA needs
                break;
            case Target::kHelm:
                append(files, helm_files(spec));
                break;
            case Target::kSystemd:
                append(files, systemd_files(spec));
                break;
        }
        containers |= t != Target::kSystemd;
    }
    if (containers) append(files, dockerfile_files(spec));
    append(files, prometheus_files(spec));
    append(files, grafana_files(spec));
    std::sort(files.begin(), files.end(),
              [](const GeneratedFile& a, const GeneratedFile& b) { return a.path < b.path; });
    files.erase(std::unique(files.begin(), files.end(),
                            [](const GeneratedFile& a, const GeneratedFile& b) {
                                return a.path == b.path;
                            }),
                files.end());
    files.push_back(readme_file(spec, targets, files));
    std::sort(files.begin(), files.end(),
              [](const GeneratedFile& a, const GeneratedFile& b) { return a.path < b.path; });
    return files;
}

Status write_files(const std::string& out_dir, const std::vector<GeneratedFile>& files,
                   bool force) {
    if (out_dir.empty()) return Status::error("--out: give the folder to write into");
    const fs::path root(out_dir);
    std::error_code ec;
    if (fs::exists(root, ec)) {
        if (!fs::is_directory(root, ec))
            return Status::error("--out " + out_dir + ": exists and is not a folder");
        if (!force && !fs::is_empty(root, ec))
            return Status::error("--out " + out_dir +
                                 ": the folder is not empty; pass --force to overwrite the "
                                 "generated files in it");
        if (ec) return Status::error("--out " + out_dir + ": " + ec.message());
    }
    for (const GeneratedFile& f : files) CITADEL_TRY(write_one(root / f.path, f.content));
    return ok_status();
}

}  // namespace citadel::deploy
