// The planner's architecture arithmetic: KV bytes per token pinned to hand-computed values
// for real architectures, and parameter counts checked against the published totals.
#include <gtest/gtest.h>

#include "plan/estimate.h"
#include "plan/sources.h"

namespace citadel::plan {
namespace {

double kv_f16(const std::string& preset) {
    Result<Arch> a = arch_from_preset(preset);
    EXPECT_TRUE(a.ok()) << a.error();
    return a ? kv_bytes_per_token(*a, 2.0).value : 0;
}

double params(const std::string& preset) {
    Result<ModelSource> s = source_from_preset(preset);
    EXPECT_TRUE(s.ok()) << s.error();
    return s ? count_params(s->tensors).total : 0;
}

TEST(PlanKvBytes, PinnedToHandComputedValuesForRealArchitectures) {
    // 2 (K and V) × layers × kv_heads × head_dim × 2 bytes (f16)
    EXPECT_EQ(kv_f16("qwen2.5-7b"), 57344);     // 2 × 28 × 4 × 128 × 2
    EXPECT_EQ(kv_f16("llama-3.1-8b"), 131072);  // 2 × 32 × 8 × 128 × 2
    EXPECT_EQ(kv_f16("qwen2.5-72b"), 327680);   // 2 × 80 × 8 × 128 × 2
    EXPECT_EQ(kv_f16("mistral-7b"), 131072);    // 2 × 32 × 8 × 128 × 2
    EXPECT_EQ(kv_f16("qwen3-8b"), 147456);      // 2 × 36 × 8 × 128 × 2
    EXPECT_EQ(kv_f16("glm-4-9b"), 40960);       // 2 × 40 × 2 × 128 × 2
    EXPECT_EQ(kv_f16("yi-34b"), 245760);        // 2 × 60 × 8 × 128 × 2
    EXPECT_EQ(kv_f16("qwen2.5-0.5b"), 12288);   // 2 × 24 × 2 × 64 × 2
    EXPECT_EQ(kv_f16("qwen3-30b-a3b"), 98304);  // 2 × 48 × 4 × 128 × 2 (MoE: attention only)
    // MLA caches the latent, not per-head K and V: 61 × (512 + 64) × 2
    EXPECT_EQ(kv_f16("deepseek-v3"), 70272);
}

TEST(PlanKvBytes, KvTypeScalesTheBytes) {
    const Arch a = *arch_from_preset("qwen2.5-7b");
    EXPECT_EQ(kv_bytes_per_token(a, 4.0).value, 114688);  // f32: 2 × 28 × 4 × 128 × 4
    // q8_0: 34 bytes per 32 values: 2 × 28 × 4 × 128 × 34 / 32
    EXPECT_EQ(kv_bytes_per_token(a, *kv_type_bytes("q8_0")).value, 30464);
    EXPECT_FALSE(kv_type_bytes("q3_k").ok());
}

TEST(PlanKvBytes, FormulaSaysWhichOneMadeIt) {
    EXPECT_NE(kv_bytes_per_token(*arch_from_preset("deepseek-v3"), 2).formula.find("MLA"),
              std::string::npos);
    EXPECT_NE(kv_bytes_per_token(*arch_from_preset("qwen3-8b"), 2).formula.find("kv_heads"),
              std::string::npos);
}

TEST(PlanParams, ExactForDenseModelsWithPublishedCounts) {
    // Hugging Face's parameter counts of the released checkpoints
    EXPECT_EQ(params("qwen2.5-0.5b"), 494032768);
    EXPECT_EQ(params("qwen2.5-1.5b"), 1543714304);
    EXPECT_EQ(params("qwen2.5-7b"), 7615616512);
    EXPECT_EQ(params("qwen3-0.6b"), 596049920);
    EXPECT_EQ(params("llama-3.2-1b"), 1235814400);
    EXPECT_EQ(params("llama-3.1-8b"), 8030261248);
}

TEST(PlanParams, CloseToPublishedTotalsForLargerModels) {
    EXPECT_NEAR(params("qwen2.5-72b") / 1e9, 72.7, 0.1);
    EXPECT_NEAR(params("llama-3.1-70b") / 1e9, 70.6, 0.1);
    EXPECT_NEAR(params("mistral-7b") / 1e9, 7.25, 0.01);
    EXPECT_NEAR(params("qwen3-8b") / 1e9, 8.19, 0.01);
    EXPECT_NEAR(params("glm-4-9b") / 1e9, 9.40, 0.01);
    EXPECT_NEAR(params("yi-34b") / 1e9, 34.39, 0.05);
    EXPECT_NEAR(params("qwen3-30b-a3b") / 1e9, 30.5, 0.1);
}

TEST(PlanParams, DeepSeekV3TotalAndActive) {
    Result<ModelSource> s = source_from_preset("deepseek-v3");
    ASSERT_TRUE(s.ok());
    const ParamCounts c = count_params(s->tensors);
    // 671 B published (the 14 B multi-token-prediction module is not part of inference)
    EXPECT_NEAR(c.total / 1e9, 671.0, 1.0);
    EXPECT_NEAR(c.active / 1e9, 37.5, 1.0);  // "37 B activated per token"
    EXPECT_LT(c.matmul_active, c.active);    // the untied embedding is only looked up
}

TEST(PlanArch, ValidateNamesTheBadField) {
    Arch a = *arch_from_preset("llama-3.1-8b");
    a.n_head_kv = 5;
    EXPECT_NE(validate(a).find("num_key_value_heads"), std::string::npos);
    a = *arch_from_preset("qwen3-30b-a3b");
    a.n_expert_used = 500;
    EXPECT_NE(validate(a).find("num_experts_per_tok"), std::string::npos);
    EXPECT_EQ(validate(*arch_from_preset("deepseek-v3")), "");
}

TEST(PlanPresets, UnknownNameListsThePresets) {
    Result<Arch> a = arch_from_preset("gpt-5");
    ASSERT_FALSE(a.ok());
    EXPECT_NE(a.error().find("qwen2.5-72b"), std::string::npos);
    EXPECT_NE(a.error().find("deepseek-v3"), std::string::npos);
    EXPECT_TRUE(arch_from_preset("Qwen2.5-7B-Instruct").ok());
    EXPECT_TRUE(arch_from_preset("Qwen/Qwen2.5-72B-Instruct").ok());
}

}  // namespace
}  // namespace citadel::plan
