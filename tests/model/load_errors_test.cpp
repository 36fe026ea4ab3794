// Bad models and bad input give clear errors naming the problem, never a crash.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "gguf/gguf.h"
#include "model/forward.h"
#include "test_paths.h"

namespace citadel {
namespace {

std::string temp_path(const std::string& name) {
    return (std::filesystem::temp_directory_path() / ("citadel_test_" + name)).string();
}

// Copies a GGUF model, letting `edit` change metadata or one tensor's type on the way.
void copy_model(const std::string& src, const std::string& dst,
                const std::function<void(gguf::Writer&)>& extra_kv,
                const std::string& retype_tensor = "", DType new_type = DType::F32) {
    auto file = gguf::File::open(src);
    ASSERT_TRUE(file.ok()) << file.error();
    gguf::Writer w;
    for (const auto& [k, v] : (*file)->metadata()) w.set(k, v);
    extra_kv(w);
    for (const gguf::TensorInfo& t : (*file)->tensors()) {
        if (t.name == retype_tensor) {
            const size_t bytes = row_bytes(new_type, t.dims[0]) * size_t(t.n_rows());
            w.add_tensor(t.name, t.dims, new_type,
                         [bytes](uint8_t* dst, size_t) { std::memset(dst, 0, bytes); });
        } else {
            w.add_tensor(t.name, t.dims, t.type, t.data);
        }
    }
    ASSERT_TRUE(w.write(dst).ok());
}

TEST(ModelErrors, MissingFileNamesThePath) {
    auto m = load_model("/nonexistent/dir/model.gguf");
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().find("/nonexistent/dir/model.gguf"), std::string::npos) << m.error();
}

TEST(ModelErrors, NotAGgufFile) {
    const std::string p = temp_path("not_gguf.gguf");
    std::ofstream(p) << "this is a text file, not a model, but it is long enough to read";
    auto m = load_model(p);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().find("not a GGUF file"), std::string::npos) << m.error();
    std::filesystem::remove(p);
}

TEST(ModelErrors, TruncatedFile) {
    const std::string src = test::reference_model("stories260K.gguf");
    const std::string p = temp_path("truncated.gguf");
    std::filesystem::copy_file(src, p, std::filesystem::copy_options::overwrite_existing);
    std::filesystem::resize_file(p, std::filesystem::file_size(src) - 1000);
    auto m = load_model(p);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().find(p), std::string::npos) << m.error();
    std::filesystem::remove(p);
}

TEST(ModelErrors, UnsupportedArchitecture) {
    const std::string p = temp_path("gptj.gguf");
    copy_model(test::reference_model("stories260K.gguf"), p,
               [](gguf::Writer& w) { w.set("general.architecture", gguf::Value::string("gptj")); });
    auto m = load_model(p);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().find("unsupported architecture 'gptj'"), std::string::npos) << m.error();
    EXPECT_NE(m.error().find("llama"), std::string::npos) << "lists the supported ones";
    std::filesystem::remove(p);
}

TEST(ModelErrors, UnsupportedTensorType) {
    const std::string p = temp_path("iq4nl.gguf");
    copy_model(
        test::reference_model("syn-llama-f32.gguf"), p, [](gguf::Writer&) {}, "blk.0.ffn_up.weight",
        DType(20) /* iq4_nl */);
    auto m = load_model(p);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().find("blk.0.ffn_up.weight"), std::string::npos) << m.error();
    EXPECT_NE(m.error().find("iq4_nl"), std::string::npos) << m.error();
    std::filesystem::remove(p);
}

TEST(ModelErrors, TokenOutOfRangeAndBadPositions) {
    auto m = load_model(test::reference_model("stories260K.gguf"));
    ASSERT_TRUE(m.ok()) << m.error();
    ForwardState st(**m, ForwardOptions{.n_threads = 1, .n_seq = 1, .n_ctx = 8});
    Batch b;
    b.add(512, 0, 0, true);
    Status s = forward(**m, b, st);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("token id 512 is out of range (vocabulary size 512)"),
              std::string::npos)
        << s.message();
    b.clear();
    b.add(1, 8, 0, true);
    s = forward(**m, b, st);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("position 8"), std::string::npos) << s.message();
    b.clear();
    b.add(1, 0, 3, true);
    EXPECT_FALSE(forward(**m, b, st).ok());
}

TEST(Forward, BatchOfTwoSequencesEqualsEachAlone) {
    auto m = load_model(test::reference_model("stories260K.gguf"));
    ASSERT_TRUE(m.ok()) << m.error();
    const std::vector<int32_t> a = {1, 403, 407, 261, 378}, c = {1, 67, 89};
    auto alone = [&](const std::vector<int32_t>& p) {
        ForwardState st(**m, ForwardOptions{.n_threads = 2, .n_seq = 1, .n_ctx = 16});
        Batch b;
        for (size_t i = 0; i < p.size(); ++i) b.add(p[i], int32_t(i), 0, i + 1 == p.size());
        EXPECT_TRUE(forward(**m, b, st).ok());
        return std::vector<float>(st.logits.begin(), st.logits.begin() + 512);
    };
    ForwardState st(**m, ForwardOptions{.n_threads = 2, .n_seq = 2, .n_ctx = 16});
    Batch b;
    for (size_t i = 0; i < a.size(); ++i) b.add(a[i], int32_t(i), 0, i + 1 == a.size());
    for (size_t i = 0; i < c.size(); ++i) b.add(c[i], int32_t(i), 1, i + 1 == c.size());
    ASSERT_TRUE(forward(**m, b, st).ok());
    ASSERT_EQ(st.n_logits, 2);
    const std::vector<float> la = alone(a), lc = alone(c);
    for (int i = 0; i < 512; ++i) {
        EXPECT_NEAR(st.logits[size_t(i)], la[size_t(i)], 1e-4f);
        EXPECT_NEAR(st.logits[size_t(512 + i)], lc[size_t(i)], 1e-4f);
    }
}

}  // namespace
}  // namespace citadel

namespace citadel {
namespace {

// A long prompt in one batch takes the tiled F32 attention; fed token by token it takes the
// per-query path. Both must give the same distribution.
TEST(Forward, TiledPromptAttentionMatchesTokenByToken) {
    auto m = load_model(test::reference_model("syn-qwen2-f32.gguf"));
    ASSERT_TRUE(m.ok()) << m.error();
    const int n = 100;
    std::vector<int32_t> prompt;
    for (int i = 0; i < n; ++i) prompt.push_back((i * 37 + 11) % int((*m)->hp.n_vocab));
    ForwardState batched(**m, ForwardOptions{.n_threads = 2, .n_seq = 1, .n_ctx = n});
    Batch b;
    for (int i = 0; i < n; ++i) b.add(prompt[size_t(i)], i, 0, true);
    ASSERT_TRUE(forward(**m, b, batched).ok());
    ForwardState single(**m, ForwardOptions{.n_threads = 2, .n_seq = 1, .n_ctx = n});
    const int64_t V = (*m)->hp.n_vocab;
    double max_diff = 0, max_logit = 0;
    for (int i = 0; i < n; ++i) {
        b.clear();
        b.add(prompt[size_t(i)], i, 0, true);
        ASSERT_TRUE(forward(**m, b, single).ok());
        for (int64_t v = 0; v < V; ++v) {
            max_diff = std::max(max_diff, double(std::fabs(single.logits[size_t(v)] -
                                                           batched.logits[size_t(i * V + v)])));
            max_logit = std::max(max_logit, double(std::fabs(single.logits[size_t(v)])));
        }
    }
    // F16 accumulator (per query) vs F32 (tiled): agree to about F16 precision.
    EXPECT_LT(max_diff, 5e-3 * max_logit) << "max |logit| " << max_logit;
}

}  // namespace
}  // namespace citadel
