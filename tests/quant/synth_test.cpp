// citadel synth: preset shapes, files that Citadel's loader accepts with the preset's
// hyper-parameters and finite logits, and real tokenizers embedded from Hugging Face files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>

#include "quant/synth.h"
#include "quant_test_util.h"
#include "text/tokenizer.h"

namespace citadel::quant {
namespace {

using testing::shared;
using testing::TempDir;

// Parameter counts Hugging Face reports for the real models (rope_freqs is not a parameter).
TEST(SynthPresets, ParameterCountsMatchThePublishedModels) {
    const std::map<std::string, int64_t> expected = {
        {"qwen2.5-0.5b", 494032768}, {"qwen2.5-1.5b", 1543714304}, {"qwen2.5-7b", 7615616512},
        {"qwen3-0.6b", 596049920},   {"llama-3.2-1b", 1235814400}, {"llama-3.1-8b", 8030261248},
        {"tiny-qwen3", 9847232},
    };
    ASSERT_EQ(presets().size(), expected.size());
    for (const ModelShape& s : presets()) {
        int64_t n = 0;
        for (const SynthTensor& t : synth_tensors(s)) {
            if (t.name != "rope_freqs.weight") n += t.n_elements();
        }
        EXPECT_EQ(n, expected.at(s.preset)) << s.preset;
    }
}

TEST(SynthPresets, Llama3RopeFactors) {
    const std::vector<float> f = llama3_rope_factors(*find_preset("llama-3.2-1b"));
    ASSERT_EQ(f.size(), 32u);
    EXPECT_EQ(f.front(), 1.0f);  // high frequencies are kept
    EXPECT_EQ(f.back(), 32.0f);  // low frequencies are slowed by the full factor
    for (size_t i = 1; i < f.size(); ++i) EXPECT_GE(f[i], f[i - 1]);
}

// A small model of each architecture: loads with the preset's hyper-parameters, its tensor
// types follow the mix, and a forward pass gives finite, non-constant logits.
ModelShape tiny(const char* preset) {
    ModelShape s = *find_preset(preset);
    s.n_vocab = 1000;
    s.n_embd = 256;
    s.n_layer = 3;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.head_dim = s.qk_norm ? 128 : 64;
    s.n_ff = 512;
    return s;
}

void expect_loads_and_runs(const ModelShape& s, const std::string& path) {
    Result<std::shared_ptr<const Model>> m = load_model(path);
    ASSERT_TRUE(m.ok()) << m.error();
    const HParams& hp = (*m)->hp;
    EXPECT_EQ(hp.arch, s.arch);
    EXPECT_EQ(hp.n_vocab, s.n_vocab);
    EXPECT_EQ(hp.n_embd, s.n_embd);
    EXPECT_EQ(hp.n_layer, s.n_layer);
    EXPECT_EQ(hp.n_head, s.n_head);
    EXPECT_EQ(hp.n_head_kv, s.n_head_kv);
    EXPECT_EQ(hp.head_dim, s.head_dim);
    EXPECT_EQ(hp.n_ff, s.n_ff);
    EXPECT_EQ(hp.n_ctx_train, s.n_ctx);
    EXPECT_FLOAT_EQ(hp.rope_base, s.rope_base);
    EXPECT_FLOAT_EQ(hp.rms_eps, s.rms_eps);
    EXPECT_EQ((*m)->tied_embeddings, s.tied_embeddings);
    EXPECT_EQ((*m)->rope_freq_factors.size(),
              s.rope_scaling_factor > 0 ? size_t(s.head_dim / 2) : 0);
    const std::vector<float> logits = testing::prompt_logits(**m, {1, 17, 300, 42});
    ASSERT_EQ(logits.size(), size_t(4 * s.n_vocab));
    float lo = logits[0], hi = logits[0];
    for (float v : logits) {
        ASSERT_TRUE(std::isfinite(v));
        lo = std::min(lo, v);
        hi = std::max(hi, v);
    }
    EXPECT_GT(hi - lo, 1e-3f);
}

TEST(Synth, TinyModelsOfEveryArchitectureLoadAndRun) {
    TempDir dir;
    for (const char* preset : {"qwen2.5-0.5b", "qwen3-0.6b", "llama-3.2-1b", "llama-3.1-8b"}) {
        SCOPED_TRACE(preset);
        const ModelShape s = tiny(preset);
        const std::string path = dir.file(std::string(preset) + ".gguf");
        Result<SynthReport> r = synth_model(
            s, SynthOptions{.output = path, .mix = *find_mix("q4_k_m"), .seed = 7, .n_threads = 2});
        ASSERT_TRUE(r.ok()) << r.error();
        expect_loads_and_runs(s, path);
        auto f = gguf::File::open(path);
        ASSERT_TRUE(f.ok());
        EXPECT_EQ((*f)->get_int("general.file_type"), 15);
        // Of 3 layers only the last is in the "more bits" set (last eighth).
        EXPECT_EQ((*f)->find_tensor("blk.1.attn_v.weight")->type, DType::Q4_K);
        EXPECT_EQ((*f)->find_tensor("blk.2.attn_v.weight")->type, DType::Q6_K);
        EXPECT_EQ((*f)->find_tensor("blk.2.ffn_down.weight")->type, DType::Q6_K);
        const char* out = s.tied_embeddings ? "token_embd.weight" : "output.weight";
        EXPECT_EQ((*f)->find_tensor(out)->type, DType::Q6_K);
        auto v = text::load_tokenizer(**f);
        ASSERT_TRUE(v.ok()) << v.error();
        EXPECT_EQ(int64_t((*v)->size()), s.n_vocab);
    }
}

TEST(Synth, SameSeedSameFileOtherSeedOtherWeights) {
    TempDir dir;
    const ModelShape s = tiny("qwen2.5-0.5b");
    for (auto [name, seed] : {std::pair{"a", 1}, {"b", 1}, {"c", 2}}) {
        ASSERT_TRUE(synth_model(s, SynthOptions{.output = dir.file(name),
                                                .mix = *find_mix("f16"),
                                                .seed = uint64_t(seed)})
                        .ok());
    }
    auto a = gguf::File::open(dir.file("a")), b = gguf::File::open(dir.file("b")),
         c = gguf::File::open(dir.file("c"));
    const auto* ta = (*a)->find_tensor("blk.0.ffn_up.weight");
    EXPECT_EQ(std::memcmp(ta->data, (*b)->find_tensor("blk.0.ffn_up.weight")->data, ta->n_bytes),
              0);
    EXPECT_NE(std::memcmp(ta->data, (*c)->find_tensor("blk.0.ffn_up.weight")->data, ta->n_bytes),
              0);
}

TEST(Synth, EmbedsAHuggingFaceTokenizer) {
    TempDir dir;
    Result<TokenizerData> qwen = load_hf_tokenizer(shared("reference/tokenizer/hf/qwen3"), "");
    ASSERT_TRUE(qwen.ok()) << qwen.error();
    EXPECT_EQ(qwen->pre, "qwen2");
    EXPECT_EQ(qwen->merges.size(), 151387u);  // given as ["a", "b"] pairs
    ModelShape s = tiny("qwen2.5-0.5b");
    s.n_vocab = 151936;  // padded from 151669
    s.n_embd = 64;
    s.n_head = 1;
    s.n_head_kv = 1;
    s.n_ff = 64;
    s.n_layer = 1;
    const std::string path = dir.file("qwen.gguf");
    ASSERT_TRUE(
        synth_model(s, SynthOptions{.output = path, .mix = *find_mix("q8_0"), .tokenizer = &*qwen})
            .ok());
    auto f = gguf::File::open(path);
    ASSERT_TRUE(f.ok());
    auto v = text::load_tokenizer(**f);
    ASSERT_TRUE(v.ok()) << v.error();
    EXPECT_EQ((*v)->size(), 151936u);
    EXPECT_EQ((*v)->piece(151644), "<|im_start|>");
    EXPECT_EQ((*v)->piece(151935), "[PAD151935]");
    EXPECT_EQ((*v)->ids().eos, 151645);  // <|im_end|>
    // The embedded vocabulary tokenizes exactly as the Hugging Face original.
    auto hf = text::load_hf_tokenizer(shared("reference/tokenizer/hf/qwen3"));
    ASSERT_TRUE(hf.ok()) << hf.error();
    const std::string sample = "<|im_start|>user\nHello, 世界! Déjà 12345 vu\t  x<|im_end|>";
    EXPECT_EQ((*v)->encode(sample, {.parse_special = true}),
              (*hf)->encode(sample, {.parse_special = true}));
    EXPECT_EQ((*f)->get_int("tokenizer.ggml.padding_token_id"), 151643);
    EXPECT_EQ((*f)->get_string("tokenizer.ggml.pre"), "qwen2");
    const auto tmpl = (*f)->get_string("tokenizer.chat_template");
    ASSERT_TRUE(tmpl.has_value());
    EXPECT_NE(tmpl->find("<|im_start|>"), std::string::npos);

    Result<TokenizerData> llama = load_hf_tokenizer(shared("reference/tokenizer/hf/llama3"), "");
    ASSERT_TRUE(llama.ok()) << llama.error();
    EXPECT_EQ(llama->tokens.size(), 128256u);
    EXPECT_EQ(llama->merges.size(), 280147u);  // given as "a b" strings
    EXPECT_EQ(llama->pre, "llama-bpe");
    EXPECT_EQ(llama->bos, 128000);
    EXPECT_FALSE(llama->chat_template.empty());
    EXPECT_FALSE(pad_vocab(*llama, 1000).ok());  // more tokens than the model has
}

// The real thing: Qwen2.5-0.5B's full shape at q4_0 through the command line.
TEST(SynthCli, Qwen25HalfBillionAtQ4_0) {
    TempDir dir;
    const std::string path = dir.file("qwen.gguf");
    const std::string cmd = std::string(CITADEL_BINARY) +
                            " synth --preset qwen2.5-0.5b --type q4_0 --threads 2 -o " + path +
                            " > " + dir.file("log.txt");
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    ModelShape s = *find_preset("qwen2.5-0.5b");
    expect_loads_and_runs(s, path);
    auto f = gguf::File::open(path);
    ASSERT_TRUE(f.ok());
    EXPECT_EQ((*f)->find_tensor("blk.0.attn_q.weight")->type, DType::Q4_0);
    EXPECT_EQ((*f)->find_tensor("token_embd.weight")->type, DType::Q8_0);  // tied, 896 % 256
    EXPECT_LT((*f)->file_size(), size_t(400) << 20);
}

TEST(SynthCli, UnknownPresetListsTheValidOnes) {
    TempDir dir;
    const std::string cmd = std::string(CITADEL_BINARY) + " synth --preset gpt-5 -o " +
                            dir.file("x.gguf") + " 2> " + dir.file("err.txt");
    EXPECT_NE(std::system(cmd.c_str()), 0);
    std::ifstream in(dir.file("err.txt"));
    const std::string err((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(err.find("qwen2.5-0.5b"), std::string::npos) << err;
}

}  // namespace
}  // namespace citadel::quant
