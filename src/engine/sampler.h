// Picks the next token of one request from a row of logits.
//
// The pipeline follows vLLM: logit_bias is added, then the penalties (repetition, then
// frequency and presence), then the temperature divides; then top_k, top_p and min_p cut the
// candidates, in that order (top_p measures the mass of what top_k kept; min_p compares with
// the most likely token), and one uniform draw from the request's own std::mt19937_64 picks a
// token from the kept mass. A temperature under 1e-5 is greedy: the argmax after bias and
// penalties, with no draw. Each request owns its Sampler, so a seed gives the same tokens
// whatever else runs. Ties: top_k and greedy prefer the lower token id; a top_p cut keeps
// every token tied with the last one it needs.
//
// Logprobs are vLLM's default "raw logprobs": the log-softmax of the logits exactly as the
// model produced them, before bias, penalties and temperature, whatever the sampling settings.
//
// Cost (n_vocab ~152k, sampled for every running request at every step): the row is scanned
// in vectorized blocks, never sorted and never copied whole. Greedy is one max pass. top_k
// keeps the k best in one threshold pass and sorts only those. top_p without top_k sums the
// exponentials once, then tries sorted prefixes of the 64 and 512 best tokens; a flatter
// distribution takes a histogram of the weights instead, sorts only the bucket where the
// mass crosses top_p, and draws a bucket, then a token among that bucket's. min_p alone (or
// no cut at all) draws from the row in a pass that masks the weights under min_p. Bias and
// penalties touch only the tokens they name: the scans skip those and take their new logits
// from a short list. Logprobs, computed only when asked, cost a sum-of-exponentials pass and
// a max or threshold pass.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"

namespace citadel {

struct TokenLogprob {
    int32_t token;
    float logprob;
};

struct SampleResult {
    int32_t token;
    float logprob;                  // raw log-probability of `token`; 0 unless logprobs were asked
    std::vector<TokenLogprob> top;  // min(top_logprobs, n_vocab) most likely, most likely first
};

struct SamplingParams {
    float temperature = 0.8f;         // 0: greedy
    int top_k = 40;                   // 0 or -1: all tokens
    float top_p = 0.95f;              // 1: no nucleus cut
    float min_p = 0.0f;               // drop tokens with p < min_p * p_max
    float repetition_penalty = 1.0f;  // > 0; if in prompt or output: l > 0 ? l / r : l * r
    float frequency_penalty = 0.0f;   // l -= f * (times in the output); [-2, 2]
    float presence_penalty = 0.0f;    // l -= p if in the output; [-2, 2]
    std::vector<std::pair<int32_t, float>> logit_bias;  // (token, added to its logit); [-100, 100]
    std::optional<uint64_t> seed;                       // none: seeded from std::random_device
    int top_logprobs = 0;                               // 0..20 alternatives returned per token
    bool logprobs = false;                              // return the chosen token's logprob
};

// Checks every field against its range (those in the comments above; a token of logit_bias
// must be < n_vocab). The message names the field and what it allows, e.g.
// "top_p must be in (0, 1], got 1.5". The Sampler trusts its parameters (validate them
// first); with bad ones it still stays memory-safe: it ignores bias tokens outside the
// vocabulary, and a repetition_penalty <= 0 counts as 1.
Status validate(const SamplingParams& params, int64_t n_vocab);

// Internal to Sampler: a token with its logit (after bias and penalties) and, once computed,
// its weight exp((logit - max) / temperature), the probability up to a common factor.
struct SampleCandidate {
    int32_t token;
    float logit;
    float weight;
};
struct SamplerRow;  // internal to Sampler: the logits as its pipeline sees them (sampler.cpp)

class Sampler {
  public:
    explicit Sampler(const SamplingParams& params);

    // The prompt's tokens count for the repetition penalty only. Replaces an earlier prompt;
    // the tokens already generated stay counted.
    void set_prompt(std::span<const int32_t> prompt);

    // Picks the next token from logits[0, n_vocab); does not modify `logits`. The token counts
    // for the penalties of the following calls.
    SampleResult sample_full(const float* logits, int64_t n_vocab);
    int32_t sample(const float* logits, int64_t n_vocab) {
        return sample_full(logits, n_vocab).token;
    }

  private:
    struct Seen {
        int32_t token;
        int32_t output_count;  // times generated
        bool in_prompt;
    };

    void build_overrides(const float* logits, int64_t n_vocab);
    void clear_marks();
    float bias_for(int32_t token) const;
    float penalized(float logit, const Seen& seen) const;
    Seen& seen_entry(int32_t token);

    int32_t sample_random(const SamplerRow& row);
    size_t keep_top_k(const SamplerRow& row, size_t k, float inv_temperature);
    int32_t sample_nucleus(const SamplerRow& row, float max, float inv_temperature);
    void sorted_prefix(const SamplerRow& row, size_t m, float max, float inv_temperature);
    size_t top_p_cut(double target) const;
    int32_t sample_wide_nucleus(const SamplerRow& row, float max, float inv_temperature,
                                double target);
    size_t cut_min_p(size_t kept) const;
    int32_t draw(size_t kept);  // from candidates_[0, kept) by weight
    double uniform();           // [0, 1)
    void fill_logprobs(const float* logits, int64_t n_vocab, SampleResult& result);

    SamplingParams params_;
    bool greedy_;
    bool penalized_;  // some penalty is on: generated tokens are counted
    std::mt19937_64 rng_;
    std::vector<std::pair<int32_t, float>> bias_;  // logit_bias sorted by token, repeats summed
    std::vector<Seen> seen_;                       // every token a penalty applies to
    std::unordered_map<int32_t, uint32_t> seen_index_;  // token -> its index in seen_

    // Scratch kept across calls, so that sampling does not allocate in the steady state.
    std::vector<SampleCandidate> overrides_;   // biased or penalized tokens, with new logits
    std::vector<uint64_t> marked_;             // [ceil(n_vocab / 64)] bitset of overrides_
    std::vector<SampleCandidate> candidates_;  // what top_k / top_p / min_p keep
    std::vector<SampleCandidate> top_;         // the top_logprobs best raw logits, sorted
    std::vector<double> histogram_;            // mass per weight bucket (wide top_p)
};

// Index of the largest of logits[0, n) (the first one on ties; 0 if none is > -inf).
int32_t argmax(const float* logits, int64_t n);

}  // namespace citadel
