// Helpers for the quantize and synth tests: reference paths, logits of a prompt, KL.
#pragma once

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gguf/gguf_test_util.h"
#include "model/forward.h"
#include "model/loader.h"

namespace citadel::quant::testing {

using gguf::testing::TempDir;

inline std::string shared(const std::string& rel) {
    return std::string(CITADEL_SHARED_DIR) + "/" + rel;
}

inline std::vector<int32_t> prompt_tokens(const std::string& json_path) {
    std::ifstream in(json_path);
    const nlohmann::json j = nlohmann::json::parse(in);
    return j.at("prompt_tokens").get<std::vector<int32_t>>();
}

// Logits of every position of the prompt: [n_tokens][n_vocab].
inline std::vector<float> prompt_logits(const Model& m, const std::vector<int32_t>& tokens) {
    ForwardState st(m, ForwardOptions{.n_threads = 2, .n_ctx = int64_t(tokens.size())});
    Batch batch;
    for (size_t i = 0; i < tokens.size(); ++i) batch.add(tokens[i], int32_t(i), 0, true);
    const Status s = forward(m, batch, st);
    if (!s) return {};
    return std::vector<float>(st.logits.begin(), st.logits.begin() + st.n_logits * m.hp.n_vocab);
}

inline std::vector<double> log_softmax(const float* x, int64_t n) {
    double mx = x[0];
    for (int64_t i = 1; i < n; ++i) mx = std::max(mx, double(x[i]));
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(double(x[i]) - mx);
    std::vector<double> out(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out[size_t(i)] = double(x[i]) - mx - std::log(sum);
    return out;
}

// Mean over positions of KL(p ‖ q), both given as logits [n_pos][n_vocab].
inline double mean_kl(const std::vector<float>& p, const std::vector<float>& q, int64_t n_vocab) {
    const size_t n_pos = p.size() / size_t(n_vocab);
    double total = 0;
    for (size_t t = 0; t < n_pos; ++t) {
        const std::vector<double> lp = log_softmax(p.data() + t * size_t(n_vocab), n_vocab);
        const std::vector<double> lq = log_softmax(q.data() + t * size_t(n_vocab), n_vocab);
        for (int64_t i = 0; i < n_vocab; ++i) {
            total += std::exp(lp[size_t(i)]) * (lp[size_t(i)] - lq[size_t(i)]);
        }
    }
    return total / double(n_pos);
}

}  // namespace citadel::quant::testing
