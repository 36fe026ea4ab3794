// Reading architectures from config.json text and GGUF files, and weight bytes per quant.
#include <gtest/gtest.h>

#include <algorithm>

#include "gguf/gguf.h"
#include "gguf/gguf_test_util.h"
#include "plan/estimate.h"
#include "plan/sources.h"
#include "test_paths.h"

namespace citadel::plan {
namespace {

// Qwen2.5-7B-Instruct's config.json (the fields the planner reads, as published).
constexpr const char* kQwen7bConfig = R"({
  "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2",
  "hidden_size": 3584, "intermediate_size": 18944, "max_position_embeddings": 32768,
  "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 152064})";

// DeepSeek-V3's config.json, MoE and MLA fields included.
constexpr const char* kDeepSeekV3Config = R"({
  "model_type": "deepseek_v3", "hidden_size": 7168, "intermediate_size": 18432,
  "moe_intermediate_size": 2048, "n_routed_experts": 256, "n_shared_experts": 1,
  "num_experts_per_tok": 8, "first_k_dense_replace": 3, "num_hidden_layers": 61,
  "num_attention_heads": 128, "num_key_value_heads": 128, "kv_lora_rank": 512,
  "q_lora_rank": 1536, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "v_head_dim": 128,
  "vocab_size": 129280, "max_position_embeddings": 163840, "tie_word_embeddings": false})";

TEST(PlanConfigJson, ReadsADenseModelLikeThePreset) {
    Result<ModelSource> s = source_from_config_text(kQwen7bConfig, "config.json");
    ASSERT_TRUE(s.ok()) << s.error();
    EXPECT_EQ(s->arch.family, "qwen2");
    EXPECT_TRUE(s->arch.qkv_bias);
    EXPECT_EQ(s->arch.head_dim, 128);  // hidden_size / num_attention_heads
    EXPECT_EQ(count_params(s->tensors).total, 7615616512);
    EXPECT_EQ(kv_bytes_per_token(s->arch, 2).value, 57344);
}

TEST(PlanConfigJson, ReadsMoeAndMla) {
    Result<ModelSource> s = source_from_config_text(kDeepSeekV3Config, "ds.json");
    ASSERT_TRUE(s.ok()) << s.error();
    EXPECT_TRUE(s->arch.is_moe());
    EXPECT_TRUE(s->arch.is_mla());
    EXPECT_EQ(kv_bytes_per_token(s->arch, 2).value, 70272);  // 61 × (512 + 64) × 2
    const Result<ModelSource> preset = source_from_preset("deepseek-v3");
    EXPECT_EQ(count_params(s->tensors).total, count_params(preset->tensors).total);
}

TEST(PlanConfigJson, MissingFieldsAreNamed) {
    Result<ModelSource> s =
        source_from_config_text(R"({"hidden_size": 4096, "vocab_size": 32000})", "c.json");
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().find("num_hidden_layers"), std::string::npos) << s.error();
    EXPECT_NE(s.error().find("num_attention_heads"), std::string::npos);
    EXPECT_NE(s.error().find("intermediate_size"), std::string::npos);
    EXPECT_EQ(s.error().find("vocab_size"), std::string::npos);
}

TEST(PlanConfigJson, BadJsonAndBadNumbersAreErrors) {
    EXPECT_FALSE(source_from_config_text("{nope", "c.json").ok());
    EXPECT_FALSE(source_from_config_text("[1, 2]", "c.json").ok());
    Result<ModelSource> s = source_from_config_text(
        R"({"num_hidden_layers": 0, "hidden_size": 64, "num_attention_heads": 4,
            "intermediate_size": 128, "vocab_size": 100})",
        "c.json");
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().find("num_hidden_layers is 0"), std::string::npos) << s.error();
    EXPECT_FALSE(source_from_config("/nonexistent/config.json").ok());
}

TEST(PlanGguf, ReadsTheArchitectureAndExactBytes) {
    const std::string path = test::reference_model("syn-qwen2-q4_k_m.gguf");
    Result<ModelSource> s = source_from_gguf(path);
    ASSERT_TRUE(s.ok()) << s.error();
    Result<std::shared_ptr<const gguf::File>> f = gguf::File::open(path);
    ASSERT_TRUE(f.ok());
    double bytes = 0, elements = 0;
    for (const gguf::TensorInfo& t : (*f)->tensors()) bytes += double(t.n_bytes);
    for (const gguf::TensorInfo& t : (*f)->tensors()) elements += double(t.n_elements());
    Result<WeightBytes> w = weight_bytes(*s, "");
    ASSERT_TRUE(w.ok()) << w.error();
    EXPECT_EQ(w->total, bytes);
    EXPECT_EQ(count_params(s->tensors).total, elements);
    EXPECT_EQ(s->arch.family, "qwen2");
    EXPECT_EQ(s->file_quant, "q4_k_m");
}

// The mix rules applied to the F32 file's tensors give exactly the bytes of the files
// quantized from it (the reference files were made from the same synthetic models).
TEST(PlanGguf, RequantizedBytesMatchTheQuantizedFiles) {
    const std::vector<std::pair<std::string, std::vector<std::string>>> files = {
        {"qwen2", {"q4_k_m", "q8_0", "f16"}},
        {"qwen3", {"q4_k_m", "q8_0"}},
        {"llama",
         {"q2_k", "q3_k_m", "q4_0", "q4_1", "q4_k_m", "q5_0", "q5_1", "q5_k_m", "q6_k", "q8_0",
          "f16", "bf16"}}};
    for (const auto& [arch, quants] : files) {
        Result<ModelSource> f32 =
            source_from_gguf(test::reference_model("syn-" + arch + "-f32.gguf"));
        ASSERT_TRUE(f32.ok()) << f32.error();
        for (const std::string& q : quants) {
            Result<ModelSource> file =
                source_from_gguf(test::reference_model("syn-" + arch + "-" + q + ".gguf"));
            ASSERT_TRUE(file.ok()) << file.error();
            EXPECT_EQ(weight_bytes(*f32, q)->total, weight_bytes(*file, "")->total)
                << arch << " " << q;
        }
    }
}

TEST(PlanWeights, BitsPerWeightFollowTheBlockLayouts) {
    Result<ModelSource> s = source_from_preset("llama-3.1-8b");
    ASSERT_TRUE(s.ok());
    EXPECT_NEAR(weight_bytes(*s, "f16")->bits_per_weight, 16.0, 0.01);
    EXPECT_NEAR(weight_bytes(*s, "q8_0")->bits_per_weight, 8.5, 0.01);  // 34 B / 32
    EXPECT_NEAR(weight_bytes(*s, "q4_0")->bits_per_weight, 4.6, 0.15);  // 18 B / 32, q6_K out
    // q4_k_m: 4.5-bit q4_K, with q6_K (6.5625) for the output, half of attn_v and ffn_down
    const double q4km = weight_bytes(*s, "q4_k_m")->bits_per_weight;
    EXPECT_GT(q4km, 4.7);
    EXPECT_LT(q4km, 5.1);
    EXPECT_FALSE(weight_bytes(*s, "q4_k_xl").ok());
    EXPECT_FALSE(weight_bytes(*s, "").ok());  // a preset has no file types
}

}  // namespace
}  // namespace citadel::plan

namespace citadel::plan {
namespace {

// A small DeepSeek-V3-shaped GGUF (MoE + MLA) written with the project's writer, read back.
TEST(PlanGguf, ReadsMoeAndMlaMetadata) {
    const Arch want{.name = "tiny-deepseek",
                    .family = "deepseek2",
                    .n_layer = 3,
                    .n_embd = 64,
                    .n_head = 4,
                    .n_head_kv = 4,
                    .head_dim = 24,
                    .head_dim_v = 16,
                    .n_ff = 96,
                    .n_vocab = 100,
                    .n_ctx_train = 4096,
                    .n_expert = 8,
                    .n_expert_used = 2,
                    .n_expert_shared = 1,
                    .n_ff_expert = 32,
                    .n_dense_first = 1,
                    .q_lora_rank = 48,
                    .kv_lora_rank = 32,
                    .qk_rope_head_dim = 8,
                    .qk_nope_head_dim = 16,
                    .v_head_dim = 16};
    gguf::Writer w;
    using gguf::Value;
    const std::string p = "deepseek2.";
    w.set("general.architecture", Value::string("deepseek2"));
    w.set("general.name", Value::string(want.name));
    for (const auto& [key, v] :
         std::vector<std::pair<std::string, int64_t>>{{"block_count", 3},
                                                      {"embedding_length", 64},
                                                      {"feed_forward_length", 96},
                                                      {"context_length", 4096},
                                                      {"attention.head_count", 4},
                                                      {"attention.head_count_kv", 4},
                                                      {"attention.key_length", 24},
                                                      {"attention.value_length", 16},
                                                      {"attention.kv_lora_rank", 32},
                                                      {"attention.q_lora_rank", 48},
                                                      {"rope.dimension_count", 8},
                                                      {"expert_count", 8},
                                                      {"expert_used_count", 2},
                                                      {"expert_shared_count", 1},
                                                      {"expert_feed_forward_length", 32},
                                                      {"leading_dense_block_count", 1}}) {
        w.set(p + key, Value::u32(uint32_t(v)));
    }
    for (const WeightTensor& t : weight_tensors(want)) {
        w.add_tensor(t.name, t.dims, DType::F32,
                     [](uint8_t* dst, size_t n) { std::fill(dst, dst + n, uint8_t(0)); });
    }
    gguf::testing::TempDir dir;
    ASSERT_TRUE(w.write(dir.file("ds.gguf")).ok());
    Result<ModelSource> s = source_from_gguf(dir.file("ds.gguf"));
    ASSERT_TRUE(s.ok()) << s.error();
    const Arch& a = s->arch;
    EXPECT_TRUE(a.is_moe());
    EXPECT_TRUE(a.is_mla());
    EXPECT_EQ(a.n_expert_used, 2);
    EXPECT_EQ(a.n_dense_first, 1);
    EXPECT_EQ(a.qk_nope_head_dim, 16);
    EXPECT_FALSE(a.tied_embeddings);
    EXPECT_EQ(kv_bytes_per_token(a, 2).value, 240);  // 3 × (32 + 8) × 2
    const ParamCounts from_file = count_params(s->tensors);
    const ParamCounts from_shape = count_params(weight_tensors(want));
    EXPECT_EQ(from_file.total, from_shape.total);
    EXPECT_EQ(from_file.active, from_shape.active);  // experts scaled by 2 / 8 in both
    EXPECT_LT(from_file.active, from_file.total);
}

}  // namespace
}  // namespace citadel::plan
