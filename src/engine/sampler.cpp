#include "engine/sampler.h"

#include <algorithm>
#include <cmath>

namespace citadel {

int32_t argmax(const float* logits, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i) {
        if (logits[i] > logits[best]) best = i;
    }
    return int32_t(best);
}

Sampler::Sampler(const SamplingParams& params) : params_(params), rng_(params.seed) {}

int32_t Sampler::sample(const float* logits, int64_t n_vocab) {
    if (params_.temperature <= 0.0f) return argmax(logits, n_vocab);
    candidates_.resize(size_t(n_vocab));
    for (int64_t i = 0; i < n_vocab; ++i) candidates_[size_t(i)] = {logits[i], int32_t(i)};
    size_t k = candidates_.size();
    if (params_.top_k > 0 && size_t(params_.top_k) < k) k = size_t(params_.top_k);
    auto by_logit = [](const auto& a, const auto& b) { return a.first > b.first; };
    std::partial_sort(candidates_.begin(), candidates_.begin() + long(k), candidates_.end(),
                      by_logit);
    candidates_.resize(k);
    // Softmax at the temperature, then keep the smallest prefix whose mass reaches top_p.
    const float max_logit = candidates_[0].first;
    double sum = 0.0;
    for (auto& c : candidates_) {
        c.first = std::exp((c.first - max_logit) / params_.temperature);
        sum += c.first;
    }
    double cumulative = 0.0;
    size_t keep = candidates_.size();
    for (size_t i = 0; i < candidates_.size(); ++i) {
        cumulative += candidates_[i].first / sum;
        if (cumulative >= params_.top_p) {
            keep = i + 1;
            break;
        }
    }
    double kept_mass = 0.0;
    for (size_t i = 0; i < keep; ++i) kept_mass += candidates_[i].first;
    double r = std::uniform_real_distribution<double>(0.0, kept_mass)(rng_);
    for (size_t i = 0; i < keep; ++i) {
        r -= candidates_[i].first;
        if (r <= 0.0) return candidates_[i].second;
    }
    return candidates_[keep - 1].second;
}

}  // namespace citadel
