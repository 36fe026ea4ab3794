// The engine against llama.cpp on every reference model (the same ground as
// ../shared/checks/check_logits.py): mean KL of the prompt logits within the bound, top-1
// agreement for float weights, and the exact greedy continuation on the trained models.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/sampler.h"
#include "model/forward.h"
#include "test_paths.h"

namespace citadel {
namespace {

struct Case {
    std::string json_path;
};

std::vector<std::string> reference_cases() {
    std::vector<std::string> out;
    const std::string dir = test::shared_dir() + "/reference/logits";
    if (!std::filesystem::exists(dir)) return out;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() == ".json") out.push_back(e.path().filename().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<float> read_floats(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::vector<float> out(bytes.size() / sizeof(float));
    std::memcpy(out.data(), bytes.data(), out.size() * sizeof(float));
    return out;
}

// KL(p || q) of the softmaxes of two logit rows, in double.
double kl_divergence(const float* p_logits, const float* q_logits, int64_t n) {
    auto log_softmax = [n](const float* x, std::vector<double>& out) {
        double m = x[0];
        for (int64_t i = 1; i < n; ++i) m = std::max(m, double(x[i]));
        double s = 0;
        for (int64_t i = 0; i < n; ++i) s += std::exp(double(x[i]) - m);
        const double ls = std::log(s) + m;
        out.resize(size_t(n));
        for (int64_t i = 0; i < n; ++i) out[size_t(i)] = double(x[i]) - ls;
    };
    std::vector<double> lp, lq;
    log_softmax(p_logits, lp);
    log_softmax(q_logits, lq);
    double kl = 0;
    for (int64_t i = 0; i < n; ++i) kl += std::exp(lp[size_t(i)]) * (lp[size_t(i)] - lq[size_t(i)]);
    return kl;
}

bool is_float_model(const std::string& name) {
    for (const char* t : {"-f32", "-f16", "-bf16", "llama-2-tiny-random", "stories260K"}) {
        if (name.find(t) != std::string::npos) return true;
    }
    return false;
}

bool is_trained(const std::string& name) {
    return name.rfind("stories260K", 0) == 0 || name.rfind("tinystories656k", 0) == 0;
}

std::vector<int32_t> greedy(const Model& m, const std::vector<int32_t>& prompt, int n) {
    ForwardState st(
        m, ForwardOptions{.n_threads = 2, .n_seq = 1, .n_ctx = int64_t(prompt.size()) + n});
    Batch b;
    for (size_t i = 0; i < prompt.size(); ++i)
        b.add(prompt[i], int32_t(i), 0, i + 1 == prompt.size());
    EXPECT_TRUE(forward(m, b, st).ok());
    std::vector<int32_t> out;
    for (int i = 0; i < n; ++i) {
        const int32_t t = argmax(st.logits.data(), m.hp.n_vocab);
        out.push_back(t);
        b.clear();
        b.add(t, int32_t(prompt.size()) + i, 0, true);
        EXPECT_TRUE(forward(m, b, st).ok());
    }
    return out;
}

class ReferenceLogits : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceLogits, MatchesLlamaCpp) {
    const std::string dir = test::shared_dir() + "/reference/logits/";
    std::ifstream f(dir + GetParam());
    const nlohmann::json ref = nlohmann::json::parse(f);
    const std::string model_file = ref["model"];
    const std::vector<int32_t> prompt = ref["prompt_tokens"];
    const int64_t n_vocab = ref["n_vocab"];
    Result<std::shared_ptr<const Model>> model = load_model(test::reference_model(model_file));
    ASSERT_TRUE(model.ok()) << model.error();
    const Model& m = **model;
    ASSERT_EQ(m.hp.n_vocab, n_vocab);

    ForwardState st(m, ForwardOptions{.n_threads = 2, .n_seq = 1, .n_ctx = int64_t(prompt.size())});
    Batch b;
    for (size_t i = 0; i < prompt.size(); ++i) b.add(prompt[i], int32_t(i), 0, true);
    ASSERT_TRUE(forward(m, b, st).ok());
    const std::vector<float> theirs = read_floats(dir + std::string(ref["logits_file"]));
    ASSERT_EQ(theirs.size(), prompt.size() * size_t(n_vocab));

    double kl_sum = 0;
    int top1_same = 0;
    for (size_t t = 0; t < prompt.size(); ++t) {
        const float* a = &theirs[t * size_t(n_vocab)];
        const float* o = &st.logits[t * size_t(n_vocab)];
        kl_sum += kl_divergence(a, o, n_vocab);
        top1_same += argmax(a, n_vocab) == argmax(o, n_vocab);
    }
    const double mean_kl = kl_sum / double(prompt.size());
    const std::string name = model_file.substr(0, model_file.size() - 5);
    if (is_float_model(name)) {
        EXPECT_LE(mean_kl, 1e-5);
        EXPECT_EQ(top1_same, int(prompt.size()));
    } else {
        EXPECT_LE(mean_kl, 1e-3);
    }
    if (is_trained(name)) {
        const std::vector<int32_t> want = ref["greedy_tokens"];
        EXPECT_EQ(greedy(m, prompt, int(want.size())), want);
    }
}

INSTANTIATE_TEST_SUITE_P(AllModels, ReferenceLogits, ::testing::ValuesIn(reference_cases()),
                         [](const auto& info) {
                             std::string s = info.param.substr(0, info.param.size() - 5);
                             for (char& c : s)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return s;
                         });

}  // namespace
}  // namespace citadel
