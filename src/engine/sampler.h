// Picks the next token from a row of logits: greedy at temperature 0, otherwise
// temperature, top-k and top-p (nucleus) sampling from a seeded generator. The serving engine
// extends this with penalties, min-p, logit bias and logprobs.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace citadel {

struct SamplingParams {
    float temperature = 0.8f;  // 0: greedy
    int top_k = 40;            // 0: all tokens
    float top_p = 0.95f;       // 1: no nucleus cut
    uint64_t seed = 0;
};

class Sampler {
  public:
    explicit Sampler(const SamplingParams& params);
    int32_t sample(const float* logits, int64_t n_vocab);

  private:
    SamplingParams params_;
    std::mt19937_64 rng_;
    std::vector<std::pair<float, int32_t>> candidates_;
};

int32_t argmax(const float* logits, int64_t n);

}  // namespace citadel
