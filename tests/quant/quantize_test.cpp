// citadel quantize: mix rules, byte-exactness against llama.cpp where its quantizers are
// deterministic, and quality (KL against the F32 model) no worse than llama.cpp's file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "quant/quantize.h"
#include "quant_test_util.h"

namespace citadel::quant {
namespace {

using testing::shared;
using testing::TempDir;

const std::string kF32 = "reference/models/syn-llama-f32.gguf";

Result<QuantizeReport> quantize(const std::string& out, const char* type) {
    return quantize_file(QuantizeOptions{
        .input = shared(kF32), .output = out, .mix = *find_mix(type), .n_threads = 2});
}

std::shared_ptr<const gguf::File> open(const std::string& path) {
    Result<std::shared_ptr<const gguf::File>> f = gguf::File::open(path);
    EXPECT_TRUE(f.ok()) << f.error();
    return f.ok() ? *f : nullptr;
}

TEST(QuantMix, NamesAreCaseInsensitiveAndListed) {
    ASSERT_TRUE(find_mix("Q4_K_M"));
    EXPECT_EQ(find_mix("q4_k_m")->file_type, 15u);
    EXPECT_EQ(find_mix("q8_0")->file_type, 7u);
    EXPECT_EQ(find_mix("BF16")->base, DType::BF16);
    EXPECT_FALSE(find_mix("q4_k"));
    EXPECT_NE(mix_names().find("q5_k_s"), std::string::npos);
}

TEST(QuantMix, RulesFollowLlamaCpp) {
    const Mix m = *find_mix("q4_k_m");
    auto type = [&](const char* name, int64_t row, bool tied = false, int n_dims = 2) {
        return tensor_type(m, TensorRole{.name = name,
                                         .n_dims = n_dims,
                                         .row_length = row,
                                         .n_layer = 24,
                                         .n_gqa = 7,
                                         .tied_embeddings = tied});
    };
    EXPECT_EQ(type("blk.0.attn_norm.weight", 896, false, 1), DType::F32);
    EXPECT_EQ(type("blk.0.attn_q.bias", 896, false, 1), DType::F32);
    EXPECT_EQ(type("output.weight", 1024), DType::Q6_K);
    EXPECT_EQ(type("token_embd.weight", 1024, /*tied=*/true), DType::Q6_K);
    EXPECT_EQ(type("token_embd.weight", 1024), DType::Q4_K);
    EXPECT_EQ(type("token_embd.weight", 896, /*tied=*/true), DType::Q8_0);  // 896 % 256 != 0
    // More bits on the first and last eighth of the layers and every third in between.
    EXPECT_EQ(type("blk.0.attn_v.weight", 1024), DType::Q6_K);
    EXPECT_EQ(type("blk.3.attn_v.weight", 1024), DType::Q4_K);
    EXPECT_EQ(type("blk.5.ffn_down.weight", 1024), DType::Q6_K);
    EXPECT_EQ(type("blk.23.ffn_down.weight", 1024), DType::Q6_K);
    EXPECT_EQ(type("blk.4.ffn_down.weight", 1024), DType::Q4_K);
    // Rows that 256 does not divide fall back to a legacy type.
    EXPECT_EQ(type("blk.4.attn_q.weight", 896), DType::Q5_0);
    EXPECT_EQ(type("blk.0.attn_v.weight", 896), DType::Q8_0);
    const Mix q2 = *find_mix("q2_k");
    EXPECT_EQ(tensor_type(q2, TensorRole{.name = "blk.1.attn_q.weight", .row_length = 896}),
              DType::Q4_0);
    EXPECT_EQ(tensor_type(*find_mix("q8_0"), TensorRole{.name = "output.weight", .row_length = 64}),
              DType::Q8_0);
    EXPECT_EQ(tensor_type(*find_mix("f16"), TensorRole{.name = "output.weight", .row_length = 64}),
              DType::F16);
}

TEST(Quantize, Q8_0IsByteIdenticalToLlamaCpp) {
    TempDir dir;
    ASSERT_TRUE(quantize(dir.file("q8.gguf"), "q8_0").ok());
    auto ours = open(dir.file("q8.gguf"));
    auto ref = open(shared("reference/models/syn-llama-q8_0.gguf"));
    ASSERT_TRUE(ours && ref);
    EXPECT_EQ(ours->get_int("general.file_type"), 7);
    EXPECT_EQ(ours->get_int("general.quantization_version"), 2);
    for (const gguf::TensorInfo& t : ref->tensors()) {
        const gguf::TensorInfo* o = ours->find_tensor(t.name);
        ASSERT_NE(o, nullptr) << t.name;
        EXPECT_EQ(o->type, t.type) << t.name;
        ASSERT_EQ(o->n_bytes, t.n_bytes) << t.name;
        EXPECT_EQ(std::memcmp(o->data, t.data, t.n_bytes), 0) << t.name;
    }
}

TEST(Quantize, Q4KMTypesMatchLlamaCppAndQualityIsNoWorse) {
    TempDir dir;
    Result<QuantizeReport> r = quantize(dir.file("q4km.gguf"), "q4_k_m");
    ASSERT_TRUE(r.ok()) << r.error();
    EXPECT_LT(r->bytes_after, r->bytes_before / 5);
    auto ours = open(dir.file("q4km.gguf"));
    const std::string theirs_path = shared("reference/models/syn-llama-q4_k_m.gguf");
    auto theirs = open(theirs_path);
    ASSERT_TRUE(ours && theirs);
    EXPECT_EQ(ours->get_int("general.file_type"), 15);
    for (const gguf::TensorInfo& t : theirs->tensors()) {
        const gguf::TensorInfo* o = ours->find_tensor(t.name);
        ASSERT_NE(o, nullptr) << t.name;
        EXPECT_EQ(o->type, t.type) << t.name;
    }
    auto f32 = load_model(shared(kF32));
    auto m_ours = load_model(ours);
    auto m_theirs = load_model(theirs_path);
    ASSERT_TRUE(f32.ok() && m_ours.ok() && m_theirs.ok());
    double kl_ours = 0, kl_theirs = 0;
    for (const char* p : {"p1", "p2"}) {
        const auto tokens = testing::prompt_tokens(
            shared("reference/logits/syn-llama-f32." + std::string(p) + ".json"));
        const auto ref = testing::prompt_logits(**f32, tokens);
        const int64_t n_vocab = (*f32)->hp.n_vocab;
        kl_ours += testing::mean_kl(ref, testing::prompt_logits(**m_ours, tokens), n_vocab);
        kl_theirs += testing::mean_kl(ref, testing::prompt_logits(**m_theirs, tokens), n_vocab);
    }
    std::printf("mean KL vs f32: ours %.6g, llama.cpp %.6g\n", kl_ours / 2, kl_theirs / 2);
    EXPECT_GT(kl_ours, 0.0);
    EXPECT_LE(kl_ours, kl_theirs);
}

TEST(Quantize, RequantizesQuantizedInput) {
    TempDir dir;
    QuantizeOptions o{.input = shared("reference/models/syn-llama-q8_0.gguf"),
                      .output = dir.file("q4.gguf"),
                      .mix = *find_mix("q4_0"),
                      .n_threads = 2};
    ASSERT_TRUE(quantize_file(o).ok());
    auto m = load_model(dir.file("q4.gguf"));
    ASSERT_TRUE(m.ok()) << m.error();
    EXPECT_EQ((*m)->file->find_tensor("blk.0.attn_q.weight")->type, DType::Q4_0);
    EXPECT_EQ((*m)->file->find_tensor("output.weight")->type, DType::Q6_K);
    EXPECT_EQ((*m)->file->find_tensor("output_norm.weight")->type, DType::F32);
}

TEST(Quantize, ErrorsAreClear) {
    TempDir dir;
    auto in_place = quantize_file(
        QuantizeOptions{.input = shared(kF32), .output = shared(kF32), .mix = *find_mix("q8_0")});
    ASSERT_FALSE(in_place.ok());
    EXPECT_NE(in_place.error().find("is the input"), std::string::npos);
    auto missing = quantize_file(QuantizeOptions{
        .input = dir.file("none.gguf"), .output = dir.file("o.gguf"), .mix = *find_mix("q8_0")});
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().find("none.gguf"), std::string::npos);
    auto unwritable = quantize_file(QuantizeOptions{
        .input = shared(kF32), .output = dir.file("no/such/dir/o.gguf"), .mix = *find_mix("q8_0")});
    ASSERT_FALSE(unwritable.ok());
    EXPECT_NE(unwritable.error().find("no/such/dir"), std::string::npos);
}

TEST(QuantizeCli, BadTypeListsTheValidOnes) {
    TempDir dir;
    const std::string cmd = std::string(CITADEL_BINARY) + " quantize " + shared(kF32) + " " +
                            dir.file("o.gguf") + " q9_9 2>" + dir.file("err.txt");
    EXPECT_NE(std::system(cmd.c_str()), 0);
    std::ifstream in(dir.file("err.txt"));
    const std::string err((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(err.find("unknown quantization type 'q9_9'"), std::string::npos) << err;
    EXPECT_NE(err.find("q4_k_m"), std::string::npos) << err;
}

}  // namespace
}  // namespace citadel::quant
