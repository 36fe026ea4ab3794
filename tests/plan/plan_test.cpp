// Plans: request checks, tensor-parallel degrees, speed and capacity behaviour, the JSON's
// formulas, and the replica resources the deployment generator asks for.
#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>

#include "plan/estimate.h"
#include "plan/plan.h"

namespace citadel::plan {
namespace {

Plan must_plan(PlanRequest r) {
    Result<Plan> p = make_plan(r);
    EXPECT_TRUE(p.ok()) << p.error();
    return p ? *p : Plan{};
}

const DevicePlan& on(const Plan& p, const std::string& key) {
    for (const DevicePlan& d : p.devices) {
        if (d.device->key == key) return d;
    }
    ADD_FAILURE() << "no device " << key;
    return p.devices.front();
}

TEST(PlanRequestChecks, AbsurdNumbersAndNamesAreClearErrors) {
    const PlanRequest good{.model = "qwen2.5-7b", .quant = "q4_k_m"};
    auto error_of = [&](std::function<void(PlanRequest&)> change) {
        PlanRequest r = good;
        change(r);
        Result<Plan> p = make_plan(r);
        return p.ok() ? std::string() : p.error();
    };
    EXPECT_NE(error_of([](PlanRequest& r) { r.ctx = 0; }).find("--ctx is 0"), std::string::npos);
    EXPECT_NE(error_of([](PlanRequest& r) { r.seqs = 0; }).find("--seqs"), std::string::npos);
    EXPECT_NE(error_of([](PlanRequest& r) { r.target_tpot_ms = -5; }).find("--target-tpot-ms"),
              std::string::npos);
    EXPECT_NE(error_of([](PlanRequest& r) { r.device = "tpu"; }).find("h100"), std::string::npos);
    EXPECT_NE(error_of([](PlanRequest& r) { r.kv_type = "q2"; }).find("KV cache type"),
              std::string::npos);
    EXPECT_NE(error_of([](PlanRequest& r) { r.quant = "q9"; }).find("q4_k_m"), std::string::npos);
    EXPECT_NE(error_of([](PlanRequest& r) { r.model = "nope-1b"; }).find("presets:"),
              std::string::npos);
    EXPECT_EQ(error_of([](PlanRequest&) {}), "");
}

TEST(PlanMemory, SevenBQ4kmAt8kBy16) {
    const Plan p = must_plan({.model = "qwen2.5-7b", .quant = "q4_k_m", .ctx = 8192, .seqs = 16});
    // 57,344 B/token × 8192 × 16 = 7,516,192,768 B
    EXPECT_EQ(p.memory.kv_total.value, 7516192768.0);
    EXPECT_NEAR(p.memory.weights.value / 1e9, 4.7, 0.25);  // published Q4_K_M GGUFs: ~4.68 GB
    EXPECT_EQ(p.memory.total.value, p.memory.weights.value + p.memory.kv_total.value +
                                        p.memory.activation.value + p.memory.runtime.value);
    EXPECT_EQ(on(p, "l4").tensor_parallel, 1);
    EXPECT_EQ(on(p, "rtx4090").tensor_parallel, 1);
    EXPECT_GT(on(p, "h100").decode_tps_per_seq.value, on(p, "l4").decode_tps_per_seq.value);
}

TEST(PlanMemory, SeventyTwoBFp16At32kBy8NeedsTensorParallelism) {
    const Plan p = must_plan({.model = "qwen2.5-72b", .quant = "f16", .ctx = 32768, .seqs = 8});
    // 327,680 B/token × 32768 × 8 = 85,899,345,920 B; weights 2 B × 72.7 B params
    EXPECT_EQ(p.memory.kv_total.value, 85899345920.0);
    EXPECT_NEAR(p.memory.weights.value / 1e9, 145.4, 0.5);
    // (145.4 + 85.9) GB / tp + ~2 GB must fit in 0.9 × memory
    EXPECT_EQ(on(p, "h100").tensor_parallel, 4);
    EXPECT_EQ(on(p, "h200").tensor_parallel, 2);
    EXPECT_EQ(on(p, "a100-40gb").tensor_parallel, 8);
    EXPECT_EQ(on(p, "l4").tensor_parallel, 0);  // 8 × 24 GB is not enough
    EXPECT_EQ(on(p, "cpu-2s-64c").tensor_parallel, 1);
    EXPECT_EQ(on(p, "cpu-2vcpu").tensor_parallel, 0);
}

TEST(PlanSpeed, DecodeIsBandwidthBoundAndSlowsWithConcurrencyAndContext) {
    const Plan p = must_plan({.model = "llama-3.1-8b", .quant = "q8_0", .ctx = 4096, .seqs = 4});
    const Device& h100 = *find_device("h100");
    const double one = decode_step_seconds(p, h100, 1, 1, 0);
    // One sequence at an empty context reads the weights once: bytes / (0.7 × 3350 GB/s)
    EXPECT_NEAR(one, p.weights.per_token_read / (0.7 * 3350e9), one * 1e-9);
    EXPECT_GT(decode_step_seconds(p, h100, 1, 64, 4096), one);
    EXPECT_GT(decode_step_seconds(p, h100, 1, 1, 32768), one);
    // two GPUs: 2 × 0.8 (tp_eff) of one
    EXPECT_NEAR(decode_step_seconds(p, h100, 2, 1, 0), one / 1.6, one * 1e-9);
}

TEST(PlanSpeed, MoeReadsOnlyTheUsedExpertsAtBatchOne) {
    const Plan p = must_plan({.model = "deepseek-v3", .quant = "q4_k_m", .ctx = 4096, .seqs = 1});
    EXPECT_LT(p.weights.per_token_read, 0.1 * p.weights.total);
    const Device& h200 = *find_device("h200");
    // more sequences touch more experts: the step reads more weight bytes
    EXPECT_GT(decode_step_seconds(p, h200, 8, 64, 1), 2 * decode_step_seconds(p, h200, 8, 1, 1));
}

TEST(PlanCapacity, UsersAtTargetMeetTheTarget) {
    const Plan p = must_plan({.model = "qwen2.5-7b",
                              .quant = "q4_k_m",
                              .ctx = 8192,
                              .seqs = 16,
                              .target_tpot_ms = 50,
                              .target_tps = 5000});
    for (const DevicePlan& d : p.devices) {
        if (d.tensor_parallel == 0 || d.users_at_target.value == 0) continue;
        const double users = d.users_at_target.value;
        EXPECT_LE(users, d.max_seqs.value) << d.device->key;
        EXPECT_LE(decode_step_seconds(p, *d.device, d.tensor_parallel, users, 8192), 0.050);
        if (users < d.max_seqs.value) {
            EXPECT_GT(decode_step_seconds(p, *d.device, d.tensor_parallel, users + 1, 8192), 0.05);
        }
        EXPECT_GE(d.replicas_for_target_tps.value, 1) << d.device->key;
    }
    EXPECT_GT(on(p, "h100").users_at_target.value, 16);
}

TEST(PlanNotes, ContextBeyondTrainingAndEnginesCitadelLacks) {
    const Plan yi = must_plan({.model = "yi-34b", .quant = "q4_k_m", .ctx = 8192, .seqs = 1});
    ASSERT_EQ(yi.notes.size(), 1u);
    EXPECT_NE(yi.notes[0].find("trained context of 4096"), std::string::npos);
    const Plan ds = must_plan({.model = "deepseek-v3", .quant = "q4_k_m", .ctx = 4096, .seqs = 1});
    ASSERT_EQ(ds.notes.size(), 1u);
    EXPECT_NE(ds.notes[0].find("deepseek2"), std::string::npos);
    EXPECT_TRUE(must_plan({.model = "qwen2.5-7b", .quant = "q4_k_m"}).notes.empty());
}

TEST(PlanCost, RentAndPurchaseFormulas) {
    const Plan p = must_plan({.model = "qwen2.5-72b", .quant = "f16", .ctx = 32768, .seqs = 8});
    const DevicePlan& d = on(p, "h100");
    EXPECT_NEAR(d.rent_usd_month.value, 2.99 * 4 * 730, 1e-6);
    EXPECT_NEAR(d.buy_usd_month.value, 30000.0 * 4 / 36 + 0.7 * 4 * 730 * 0.15, 1e-6);
    const double mtok_month = d.aggregate_tps.value * 3600 * 730 / 1e6;
    EXPECT_NEAR(d.rent_usd_per_mtok.value, d.rent_usd_month.value / mtok_month, 1e-9);
}

TEST(PlanJson, EveryNumberCarriesAFormula) {
    const Plan p = must_plan(
        {.model = "deepseek-v3", .quant = "q4_k_m", .ctx = 8192, .seqs = 4, .target_tps = 100});
    const nlohmann::json j = plan_json(p);
    int figures = 0;
    std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& v) {
        if (v.is_object() && v.contains("value")) {
            ++figures;
            ASSERT_TRUE(v.contains("formula")) << v.dump();
            EXPECT_FALSE(v["formula"].get<std::string>().empty()) << v.dump();
        }
        if (v.is_structured()) {
            for (const auto& item : v) walk(item);
        }
    };
    walk(j);
    EXPECT_GT(figures, 50);
    EXPECT_EQ(j["memory"]["kv_bytes_per_token"]["value"], 70272);
    EXPECT_EQ(j["assumptions"]["prices_as_of"], kCatalogueDate);
    EXPECT_FALSE(plan_table(p).empty());
}

TEST(PlanReplica, CpuAndGpuResources) {
    Result<ReplicaResources> cpu = replica_resources("qwen2.5-7b", "q4_k_m", 8192, 4, "");
    ASSERT_TRUE(cpu.ok()) << cpu.error();
    EXPECT_EQ(cpu->gpus, 0);
    // weights ~4.7 GB + KV 57,344 × 8192 × 4 = 1.88 GB + activations + runtime
    EXPECT_GT(cpu->memory_request_bytes, 6.5e9);
    EXPECT_LT(cpu->memory_request_bytes, 7.5e9);
    EXPECT_EQ(cpu->memory_limit_bytes, uint64_t(std::ceil(cpu->memory_request_bytes * 1.25)));
    EXPECT_GT(cpu->cpu_request, 0);
    EXPECT_FALSE(cpu->formula.empty());

    Result<ReplicaResources> gpu = replica_resources("qwen2.5-72b", "f16", 32768, 8, "h100");
    ASSERT_TRUE(gpu.ok()) << gpu.error();
    EXPECT_EQ(gpu->gpus, 4);
    EXPECT_EQ(gpu->gpu_name, "h100");

    EXPECT_FALSE(replica_resources("deepseek-v3", "f16", 4096, 1, "rtx4090").ok());
    EXPECT_FALSE(replica_resources("qwen2.5-7b", "q4_k_m", 4096, 1, "tpu-v5").ok());
    EXPECT_FALSE(replica_resources("qwen2.5-7b", "q4_k_m", 0, 1, "").ok());
    EXPECT_FALSE(replica_resources("qwen2.5-7b", "q4_k_m", 4096, 1, "cpu-2vcpu").ok());
}

}  // namespace
}  // namespace citadel::plan
