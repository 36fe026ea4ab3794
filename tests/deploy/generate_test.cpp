// The generators: which files each target makes, what the objects say, determinism, and
// writing into an output folder.
#include "deploy/generate.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <set>

namespace citadel::deploy {
namespace {

namespace fs = std::filesystem;

DeploySpec spec() {
    DeploySpec s;
    s.models = {{.name = "qwen", .file_name = "qwen.gguf", .size_bytes = uint64_t(3) << 30},
                {.name = "small", .file_name = "small.gguf"}};
    s.resources = {.memory_request_bytes = uint64_t(4) << 30,
                   .memory_limit_bytes = uint64_t(5) << 30,
                   .cpu_millis = 1500};
    s.replicas = 2;
    s.autoscaling = {.min_replicas = 2, .max_replicas = 6};
    s.command = "citadel deploy --target all --model qwen.gguf --replicas 2";
    return s;
}

const std::vector<Target> kAll = {Target::kCompose, Target::kKubernetes, Target::kHelm,
                                  Target::kSystemd};

const GeneratedFile* find(const std::vector<GeneratedFile>& files, const std::string& path) {
    for (const GeneratedFile& f : files) {
        if (f.path == path) return &f;
    }
    return nullptr;
}

YAML::Node load(const std::vector<GeneratedFile>& files, const std::string& path) {
    const GeneratedFile* f = find(files, path);
    if (!f) {
        ADD_FAILURE() << "no file " << path;
        return YAML::Node();
    }
    return YAML::Load(f->content);
}

TEST(DeployGenerate, TargetsParse) {
    EXPECT_EQ(parse_targets("all")->size(), 4u);
    EXPECT_EQ(*parse_targets("helm,compose,helm"),
              (std::vector<Target>{Target::kCompose, Target::kHelm}));
    Result<std::vector<Target>> bad = parse_targets("compose,k8s");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("'k8s'"), std::string::npos) << bad.error();
    EXPECT_FALSE(parse_targets("").ok());
}

TEST(DeployGenerate, EachTargetMakesItsFilesAndTheMonitoringOnes) {
    std::set<std::string> systemd;
    for (const GeneratedFile& f : generate(spec(), {Target::kSystemd})) systemd.insert(f.path);
    EXPECT_EQ(systemd, (std::set<std::string>{
                           "README.md", "grafana/citadel-dashboard.json",
                           "prometheus/adapter-values.yaml", "prometheus/citadel-alerts.yml",
                           "systemd/citadel.service", "systemd/citadel.sysusers.conf"}));
    const std::vector<GeneratedFile> all = generate(spec(), kAll);
    for (const char* path :
         {"Dockerfile", "compose/docker-compose.yml", "kubernetes/deployment.yaml",
          "kubernetes/hpa.yaml", "kubernetes/pdb.yaml", "kubernetes/networkpolicy.yaml",
          "kubernetes/secret-auth.yaml", "helm/citadel/Chart.yaml", "helm/citadel/values.yaml",
          "helm/citadel/templates/deployment.yaml"})
        EXPECT_NE(find(all, path), nullptr) << path;
    EXPECT_EQ(find(all, "kubernetes/secret-tls.yaml"), nullptr);  // TLS is off
    for (size_t i = 1; i < all.size(); ++i) EXPECT_LT(all[i - 1].path, all[i].path);
}

TEST(DeployGenerate, SameSpecSameBytes) {
    const std::vector<GeneratedFile> a = generate(spec(), kAll), b = generate(spec(), kAll);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].content, b[i].content) << a[i].path;
}

TEST(DeployGenerate, DeploymentIsLockedDownAndProbed) {
    const YAML::Node d = load(generate(spec(), kAll), "kubernetes/deployment.yaml");
    const YAML::Node pod = d["spec"]["template"]["spec"];
    EXPECT_FALSE(d["spec"]["replicas"]);  // the autoscaler owns the count
    EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
    EXPECT_EQ(pod["securityContext"]["seccompProfile"]["type"].as<std::string>(), "RuntimeDefault");
    const YAML::Node c = pod["containers"][0];
    EXPECT_TRUE(c["securityContext"]["readOnlyRootFilesystem"].as<bool>());
    EXPECT_EQ(c["securityContext"]["capabilities"]["drop"][0].as<std::string>(), "ALL");
    EXPECT_EQ(c["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/health");
    EXPECT_EQ(c["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/ready");
    EXPECT_EQ(c["startupProbe"]["httpGet"]["path"].as<std::string>(), "/ready");
    EXPECT_EQ(c["resources"]["requests"]["memory"].as<std::string>(), "4Gi");
    EXPECT_EQ(c["resources"]["limits"]["memory"].as<std::string>(), "5Gi");
    EXPECT_EQ(c["resources"]["requests"]["cpu"].as<std::string>(), "1500m");
    EXPECT_FALSE(c["resources"]["limits"]["nvidia.com/gpu"]);
    EXPECT_EQ(c["args"][6].as<std::string>(), "qwen=/models/qwen.gguf");
}

TEST(DeployGenerate, AutoscalerUsesWaitingRequestsAndCpu) {
    const YAML::Node h = load(generate(spec(), kAll), "kubernetes/hpa.yaml");
    EXPECT_EQ(h["apiVersion"].as<std::string>(), "autoscaling/v2");
    EXPECT_EQ(h["spec"]["metrics"][0]["pods"]["metric"]["name"].as<std::string>(),
              "citadel_num_requests_waiting");
    EXPECT_EQ(h["spec"]["metrics"][1]["resource"]["name"].as<std::string>(), "cpu");
    EXPECT_EQ(h["spec"]["minReplicas"].as<int>(), 2);
    EXPECT_EQ(h["spec"]["maxReplicas"].as<int>(), 6);
    const YAML::Node adapter = load(generate(spec(), kAll), "prometheus/adapter-values.yaml");
    EXPECT_EQ(adapter["rules"]["custom"][0]["name"]["as"].as<std::string>(), "citadel_${1}");
}

TEST(DeployGenerate, GpuAndTlsReachEveryTarget) {
    DeploySpec s = spec();
    s.tls = true;
    s.resources.gpus = 2;
    const std::vector<GeneratedFile> files = generate(s, kAll);
    const YAML::Node c =
        load(files, "kubernetes/deployment.yaml")["spec"]["template"]["spec"]["containers"][0];
    EXPECT_EQ(c["resources"]["limits"]["nvidia.com/gpu"].as<std::string>(), "2");
    EXPECT_EQ(c["livenessProbe"]["httpGet"]["scheme"].as<std::string>(), "HTTPS");
    EXPECT_NE(find(files, "kubernetes/secret-tls.yaml"), nullptr);
    const YAML::Node compose = load(files, "compose/docker-compose.yml")["services"]["citadel"];
    EXPECT_EQ(compose["deploy"]["resources"]["reservations"]["devices"][0]["count"].as<int>(), 2);
    EXPECT_EQ(compose["secrets"].size(), 3u);
    const std::string unit = find(files, "systemd/citadel.service")->content;
    EXPECT_NE(unit.find("PrivateDevices=no"), std::string::npos);
    EXPECT_NE(unit.find("LoadCredential=tls.key:/etc/citadel/tls.key"), std::string::npos);
    EXPECT_NE(unit.find("--tls-cert ${CREDENTIALS_DIRECTORY}/tls.crt"), std::string::npos) << unit;
    const YAML::Node values = load(files, "helm/citadel/values.yaml");
    EXPECT_TRUE(values["tls"]["enabled"].as<bool>());
    EXPECT_EQ(values["resources"]["limits"]["nvidia.com/gpu"].as<std::string>(), "2");
}

TEST(DeployGenerate, SystemdUnitIsHardened) {
    const std::string unit = find(generate(spec(), kAll), "systemd/citadel.service")->content;
    for (const char* line : {"NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                             "PrivateDevices=yes", "CapabilityBoundingSet=\n", "User=citadel",
                             "MemoryMax=5368709120", "CPUQuota=150%", "StateDirectory=citadel "})
        EXPECT_NE(unit.find(line), std::string::npos) << line;
}

TEST(DeployGenerate, AlertRulesNameTheJob) {
    DeploySpec s = spec();
    s.name = "llm";
    const YAML::Node rules = load(generate(s, {Target::kSystemd}), "prometheus/citadel-alerts.yml");
    EXPECT_EQ(rules["groups"][0]["rules"][0]["expr"].as<std::string>(), "up{job=\"llm\"} == 0");
    EXPECT_GE(rules["groups"][0]["rules"].size(), 8u);
}

class DeployWrite : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("citadel-deploy-test-" + std::to_string(::getpid()));
        fs::remove_all(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

TEST_F(DeployWrite, RefusesANonEmptyFolderWithoutForce) {
    const std::vector<GeneratedFile> files = {{"a/b.txt", "one"}, {"c.txt", "two"}};
    ASSERT_TRUE(write_files(dir_.string(), files, false).ok());
    std::ifstream in(dir_ / "a" / "b.txt");
    std::string text;
    std::getline(in, text);
    EXPECT_EQ(text, "one");
    Status again = write_files(dir_.string(), files, false);
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.message().find("--force"), std::string::npos) << again.message();
    EXPECT_TRUE(write_files(dir_.string(), {{"c.txt", "three"}}, true).ok());
    std::ifstream c(dir_ / "c.txt");
    std::getline(c, text);
    EXPECT_EQ(text, "three");
}

TEST_F(DeployWrite, RefusesAFileAsTheFolder) {
    fs::create_directories(dir_);
    std::ofstream(dir_ / "file") << "x";
    Status s = write_files((dir_ / "file").string(), {{"a", "b"}}, true);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("not a folder"), std::string::npos) << s.message();
    EXPECT_FALSE(write_files("", {{"a", "b"}}, true).ok());
}

}  // namespace
}  // namespace citadel::deploy
