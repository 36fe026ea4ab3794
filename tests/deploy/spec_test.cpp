// DeploySpec checks and quantities.
#include "deploy/spec.h"

#include <gtest/gtest.h>

namespace citadel::deploy {
namespace {

DeploySpec good_spec() {
    DeploySpec s;
    s.models = {{.name = "qwen", .file_name = "qwen.gguf", .size_bytes = 1 << 30}};
    s.resources.memory_request_bytes = uint64_t(2) << 30;
    s.resources.memory_limit_bytes = uint64_t(3) << 30;
    s.replicas = 2;
    s.autoscaling = {.min_replicas = 2, .max_replicas = 6};
    s.command = "citadel deploy --target all --model qwen=qwen.gguf --replicas 2";
    return s;
}

void expect_error(const DeploySpec& s, const std::string& needle) {
    Status st = validate_spec(s);
    ASSERT_FALSE(st.ok()) << needle;
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
}

TEST(DeploySpec, AGoodSpecPasses) {
    EXPECT_TRUE(validate_spec(good_spec()).ok()) << validate_spec(good_spec()).message();
}

TEST(DeploySpec, BadFieldsNameTheirFlag) {
    DeploySpec s = good_spec();
    s.name = "Citadel_1";
    expect_error(s, "--name");
    s = good_spec();
    s.models.clear();
    expect_error(s, "--model");
    s = good_spec();
    s.models.push_back(s.models[0]);
    expect_error(s, "given twice");
    s = good_spec();
    s.models[0].file_name = "../etc/passwd";
    expect_error(s, "plain file name");
    s = good_spec();
    s.models[0].name = "a b";
    expect_error(s, "--model");
    s = good_spec();
    s.port = 70000;
    expect_error(s, "--port");
    s = good_spec();
    s.replicas = 0;
    expect_error(s, "--replicas");
    s = good_spec();
    s.autoscaling.max_replicas = 1;
    expect_error(s, "--max-replicas");
    s = good_spec();
    s.autoscaling.min_replicas = 3;
    expect_error(s, "--min-replicas");
    s = good_spec();
    s.resources.memory_request_bytes = 1000;
    expect_error(s, "--memory");
    s = good_spec();
    s.resources.memory_limit_bytes = 1 << 30;
    expect_error(s, "below the request");
    s = good_spec();
    s.egress_cidrs = {"10.0.0.0/8", "300.1.1.1/8"};
    expect_error(s, "--egress: '300.1.1.1/8'");
    s = good_spec();
    s.image = "bad image";
    expect_error(s, "--image");
    s = good_spec();
    s.resources.gpu_name = "h100\n# x";
    expect_error(s, "--gpu");
    s = good_spec();
    s.binary_path = "citadel";
    expect_error(s, "--systemd-binary");
}

TEST(DeploySpec, Quantities) {
    EXPECT_EQ(k8s_quantity(uint64_t(5) << 30), "5Gi");
    EXPECT_EQ(k8s_quantity(uint64_t(1536) << 20), "1536Mi");
    EXPECT_EQ(k8s_quantity(1000), "1000");
    EXPECT_EQ(k8s_cpu(2000), "2");
    EXPECT_EQ(k8s_cpu(1500), "1500m");
    EXPECT_EQ(*parse_bytes("4GiB"), uint64_t(4) << 30);
    EXPECT_EQ(*parse_bytes("4Gi"), uint64_t(4) << 30);
    EXPECT_EQ(*parse_bytes("512M"), uint64_t(512) << 20);
    EXPECT_EQ(*parse_bytes("1.5g"), uint64_t(1536) << 20);
    EXPECT_EQ(*parse_bytes("1000"), 1000u);
    for (const char* bad : {"", "GiB", "4 GiB", "4XB", "-1", "1e99", "0"})
        EXPECT_FALSE(parse_bytes(bad).ok()) << bad;
    EXPECT_EQ(*parse_cpu_millis("2"), 2000);
    EXPECT_EQ(*parse_cpu_millis("1.5"), 1500);
    EXPECT_EQ(*parse_cpu_millis("500m"), 500);
    for (const char* bad : {"", "m", "two", "-1", "0", "1.5x"})
        EXPECT_FALSE(parse_cpu_millis(bad).ok()) << bad;
}

TEST(DeploySpec, ModelsVolumeFitsTheFilesWithRoom) {
    DeploySpec s = good_spec();
    EXPECT_EQ(models_volume_size(s), "2Gi");  // 1 GiB + 10 % -> 2Gi
    s.models[0].size_bytes = 0;
    EXPECT_EQ(models_volume_size(s), "1Gi");
}

TEST(DeploySpec, ServeArgsCarryModelsSecretsAndTls) {
    DeploySpec s = good_spec();
    s.tls = true;
    const std::vector<std::string> args = serve_args(s, {.models_dir = "/m",
                                                         .data_dir = "/d",
                                                         .jwt_secret_file = "/s/j",
                                                         .tls_cert_file = "/t/c",
                                                         .tls_key_file = "/t/k"});
    const std::vector<std::string> want = {"serve",
                                           "--host",
                                           "0.0.0.0",
                                           "--port",
                                           "8080",
                                           "-m",
                                           "qwen=/m/qwen.gguf",
                                           "--data-dir",
                                           "/d",
                                           "--jwt-secret-file",
                                           "/s/j",
                                           "--shutdown-timeout",
                                           "30s",
                                           "--tls-cert",
                                           "/t/c",
                                           "--tls-key",
                                           "/t/k"};
    EXPECT_EQ(args, want);
}

}  // namespace
}  // namespace citadel::deploy
