#include "engine/sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

using citadel::Sampler;
using citadel::SampleResult;
using citadel::SamplingParams;

namespace {

constexpr int64_t kQwenVocab = 151936;
constexpr int64_t kLargeRow = 40000;

std::vector<float> random_row(int64_t n, uint64_t seed, float stddev = 3.0f) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, stddev);
    std::vector<float> row(static_cast<size_t>(n));
    for (auto& x : row) x = normal(rng);
    return row;
}

// Logits whose softmax at temperature 1 is exactly `probs`.
std::vector<float> logits_of(const std::vector<double>& probs) {
    std::vector<float> row;
    for (double p : probs) row.push_back(float(std::log(p)));
    return row;
}

int32_t naive_argmax(const std::vector<float>& row) {
    return int32_t(std::max_element(row.begin(), row.end()) - row.begin());
}

std::vector<double> naive_log_softmax(const std::vector<float>& row) {
    const double max = *std::max_element(row.begin(), row.end());
    double sum = 0.0;
    for (float x : row) sum += std::exp(double(x) - max);
    std::vector<double> out;
    for (float x : row) out.push_back(double(x) - max - std::log(sum));
    return out;
}

// Token -> how often it was drawn in `n` samples.
std::map<int32_t, int> histogram(const SamplingParams& p, const std::vector<float>& row, int n) {
    Sampler s(p);
    std::map<int32_t, int> counts;
    for (int i = 0; i < n; ++i) ++counts[s.sample(row.data(), int64_t(row.size()))];
    return counts;
}

SamplingParams sampling(float temperature, int top_k, float top_p, float min_p = 0.0f) {
    return SamplingParams{
        .temperature = temperature, .top_k = top_k, .top_p = top_p, .min_p = min_p, .seed = 1234};
}

// Checks that only `allowed` tokens were drawn, each about as often as `expected`
// (probabilities); the bound is 6 standard deviations plus a little, so it never flakes.
void expect_frequencies(const std::map<int32_t, int>& counts,
                        const std::map<int32_t, double>& expected, int n) {
    for (const auto& [token, count] : counts) {
        ASSERT_TRUE(expected.contains(token)) << "token " << token << " drawn " << count << "x";
    }
    for (const auto& [token, p] : expected) {
        const double got = counts.contains(token) ? counts.at(token) / double(n) : 0.0;
        const double sigma = std::sqrt(p * (1 - p) / n);
        EXPECT_NEAR(got, p, 6 * sigma + 0.005) << "token " << token;
    }
}

// Checks that `token` was drawn about as often as probability p (6 standard deviations).
void expect_frequencies_of(const std::map<int32_t, int>& counts, int32_t token, double p, int n) {
    const double got = counts.contains(token) ? counts.at(token) / double(n) : 0.0;
    EXPECT_NEAR(got, p, 6 * std::sqrt(p * (1 - p) / n) + 0.002) << "token " << token;
}

// The logit token 0 has after the penalties, found by bisection: a greedy sampler with the
// same history sees token 0 against a competitor (token 1, never seen) of logit `mid`.
float penalized_logit(const SamplingParams& params, const std::vector<int32_t>& prompt,
                      int times_generated, float raw) {
    float lo = -50.0f, hi = 50.0f;
    for (int i = 0; i < 60; ++i) {
        const float mid = 0.5f * (lo + hi);
        Sampler s(params);
        s.set_prompt(prompt);
        const float force[2] = {100.0f, -100.0f};
        for (int j = 0; j < times_generated; ++j) EXPECT_EQ(s.sample(force, 2), 0);
        const float row[2] = {raw, mid};
        (s.sample(row, 2) == 0 ? lo : hi) = mid;
    }
    return 0.5f * (lo + hi);
}

}  // namespace

TEST(Sampler, GreedyIsArgmax) {
    for (uint64_t seed = 0; seed < 5; ++seed) {
        const auto row = random_row(kQwenVocab, seed);
        Sampler s(SamplingParams{.temperature = 0.0f});
        EXPECT_EQ(s.sample(row.data(), kQwenVocab), naive_argmax(row));
        EXPECT_EQ(citadel::argmax(row.data(), kQwenVocab), naive_argmax(row));
    }
    // Ties go to the first; short rows and rows of -inf work.
    const std::vector<float> tie = {1.0f, 3.0f, 2.0f, 3.0f};
    EXPECT_EQ(citadel::argmax(tie.data(), 4), 1);
    const float inf = std::numeric_limits<float>::infinity();
    const std::vector<float> none = {-inf, -inf, -inf};
    EXPECT_EQ(citadel::argmax(none.data(), 3), 0);
}

TEST(Sampler, TopK1IsGreedy) {
    Sampler s(sampling(1.5f, 1, 1.0f));
    for (uint64_t seed = 0; seed < 5; ++seed) {
        const auto row = random_row(kQwenVocab, seed);
        EXPECT_EQ(s.sample(row.data(), kQwenVocab), naive_argmax(row));
    }
}

TEST(Sampler, LogitBiasForcesAndBansTokens) {
    const auto row = random_row(kQwenVocab, 7, 1.0f);
    const int32_t best = naive_argmax(row);
    const int32_t forced = best == 12345 ? 12346 : 12345;
    for (int top_k : {0, 40}) {
        // +100: drawn every time, greedy or not.
        SamplingParams p = sampling(1.0f, top_k, 0.95f);
        p.logit_bias = {{forced, 100.0f}};
        for (float temperature : {0.0f, 1.0f}) {
            p.temperature = temperature;
            const auto counts = histogram(p, row, 200);
            EXPECT_EQ(counts.size(), 1u);
            EXPECT_EQ(counts.begin()->first, forced);
        }
        // -100: never drawn; greedy takes the second best.
        p = sampling(1.0f, top_k, 1.0f);
        std::vector<float> peaked = row;
        peaked[size_t(best)] = 30.0f;  // the banned token would otherwise win every draw
        p.logit_bias = {{best, -100.0f}};
        const auto counts = histogram(p, peaked, 500);
        EXPECT_FALSE(counts.contains(best));
        p.temperature = 0.0f;
        std::vector<float> second = row;
        second[size_t(best)] = -1e30f;
        EXPECT_EQ(histogram(p, row, 1).begin()->first, naive_argmax(second));
    }
}

TEST(Sampler, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
    SamplingParams p{.temperature = 0.0f, .repetition_penalty = 2.0f};
    // Seen in the prompt.
    EXPECT_NEAR(penalized_logit(p, {0}, 0, 3.0f), 1.5f, 1e-4);
    EXPECT_NEAR(penalized_logit(p, {0}, 0, -3.0f), -6.0f, 1e-4);
    // Seen in the output (once or three times: the same).
    EXPECT_NEAR(penalized_logit(p, {}, 1, 3.0f), 1.5f, 1e-4);
    EXPECT_NEAR(penalized_logit(p, {}, 3, -3.0f), -6.0f, 1e-4);
    // Not seen: untouched.
    EXPECT_NEAR(penalized_logit(p, {5, 6}, 0, 3.0f), 3.0f, 1e-4);
    p.repetition_penalty = 0.5f;  // < 1 favours repeats
    EXPECT_NEAR(penalized_logit(p, {0}, 0, 3.0f), 6.0f, 1e-4);
    // A new prompt replaces the old one.
    Sampler s(SamplingParams{.temperature = 0.0f, .repetition_penalty = 2.0f});
    const std::vector<int32_t> first = {0}, second = {5};
    s.set_prompt(first);
    s.set_prompt(second);
    const float row[2] = {3.0f, 2.0f};  // token 0 still penalized would lose (1.5 < 2)
    EXPECT_EQ(s.sample(row, 2), 0);
}

TEST(Sampler, FrequencyAndPresencePenaltiesExact) {
    SamplingParams p{.temperature = 0.0f, .frequency_penalty = 0.5f, .presence_penalty = 1.5f};
    EXPECT_NEAR(penalized_logit(p, {0}, 0, 3.0f), 3.0f, 1e-4);  // the prompt does not count
    EXPECT_NEAR(penalized_logit(p, {}, 1, 3.0f), 3.0f - 0.5f - 1.5f, 1e-4);
    EXPECT_NEAR(penalized_logit(p, {}, 3, 3.0f), 3.0f - 1.5f - 1.5f, 1e-4);
    p.frequency_penalty = -2.0f;
    p.presence_penalty = -2.0f;
    EXPECT_NEAR(penalized_logit(p, {}, 2, 3.0f), 3.0f + 4.0f + 2.0f, 1e-4);
    // Repetition first, then frequency and presence; bias before all of them.
    p = SamplingParams{.temperature = 0.0f,
                       .repetition_penalty = 2.0f,
                       .frequency_penalty = 0.25f,
                       .presence_penalty = 0.5f,
                       .logit_bias = {{0, 1.0f}}};
    EXPECT_NEAR(penalized_logit(p, {}, 2, 3.0f), (3.0f + 1.0f) / 2.0f - 0.5f - 0.5f, 1e-4);
}

TEST(Sampler, PenaltiesTouchOnlySeenTokensOfALargeRow) {
    // Greedy with penalties against a naive reference on a copy of the row.
    SamplingParams p{.temperature = 0.0f,
                     .repetition_penalty = 1.3f,
                     .frequency_penalty = 0.7f,
                     .presence_penalty = 0.4f,
                     .logit_bias = {{3, 2.0f}, {70000, -5.0f}, {151935, 1.0f}}};
    Sampler s(p);
    const std::vector<int32_t> prompt = {10, 20, 20, 151935, 99999};
    s.set_prompt(prompt);
    std::map<int32_t, int> generated;
    for (uint64_t step = 0; step < 40; ++step) {
        const auto row = random_row(kQwenVocab, 100 + step, 1.0f);
        std::vector<float> expected = row;
        for (const auto& [token, bias] : p.logit_bias) expected[size_t(token)] += bias;
        for (int32_t t = 0; t < kQwenVocab; ++t) {
            const bool in_prompt = std::find(prompt.begin(), prompt.end(), t) != prompt.end();
            const int count = generated.contains(t) ? generated[t] : 0;
            float& l = expected[size_t(t)];
            if (in_prompt || count > 0) l = l > 0 ? l / 1.3f : l * 1.3f;
            l -= 0.7f * float(count);
            if (count > 0) l -= 0.4f;
        }
        const int32_t token = s.sample(row.data(), kQwenVocab);
        ASSERT_EQ(token, naive_argmax(expected)) << "step " << step;
        ++generated[token];
    }
}

TEST(Sampler, TopPKeepsTheNucleus) {
    const auto row = logits_of({0.5, 0.3, 0.15, 0.05});
    // 0.5 + 0.3 reaches 0.75: tokens 0 and 1, renormalized.
    for (int top_k : {0, 40}) {
        const int n = 4000;
        expect_frequencies(histogram(sampling(1.0f, top_k, 0.75f), row, n),
                           {{0, 0.5 / 0.8}, {1, 0.3 / 0.8}}, n);
    }
    // top_p measures the mass top_k kept: of {0.5, 0.3} renormalized, 0.625 reaches 0.6.
    const auto counts = histogram(sampling(1.0f, 2, 0.6f), row, 500);
    EXPECT_EQ(counts.size(), 1u);
    EXPECT_TRUE(counts.contains(0));
    // Temperature 2 flattens to sqrt(p) before the cut: (.707 .548 .387 .224) / 1.866, so
    // tokens 0..2 are needed for 0.8.
    const double z = std::sqrt(0.5) + std::sqrt(0.3) + std::sqrt(0.15);
    const int n = 4000;
    expect_frequencies(histogram(sampling(2.0f, 0, 0.8f), row, n),
                       {{0, std::sqrt(0.5) / z}, {1, std::sqrt(0.3) / z}, {2, std::sqrt(0.15) / z}},
                       n);
}

// A large row whose logits, in rank order, are logit_of_rank(0), (1), ...; the ranks are
// spread over the tokens at random, and ties are avoided so that every cut is unambiguous.
struct RankedRow {
    std::vector<float> logits;
    std::vector<int64_t> rank_of;  // token -> rank
};
RankedRow ranked_row(int64_t n_vocab, const std::function<float(int64_t)>& logit_of_rank) {
    std::vector<int32_t> order(static_cast<size_t>(n_vocab));  // rank -> token
    for (int32_t i = 0; i < n_vocab; ++i) order[size_t(i)] = i;
    std::mt19937_64 rng(5);
    std::shuffle(order.begin(), order.end(), rng);
    RankedRow row{std::vector<float>(static_cast<size_t>(n_vocab)),
                  std::vector<int64_t>(static_cast<size_t>(n_vocab))};
    for (int64_t r = 0; r < n_vocab; ++r) {
        row.logits[size_t(order[size_t(r)])] = logit_of_rank(r);
        row.rank_of[size_t(order[size_t(r)])] = r;
    }
    return row;
}

// Samples with top_k 0 at temperature 1 and checks that every token lies inside the exact
// top_p / min_p cut (computed here in double precision) and that the mean rank drawn matches
// the kept distribution's. Returns the number of ranks kept.
int64_t check_nucleus(int64_t n_vocab, const std::function<float(int64_t)>& logit_of_rank,
                      float top_p, float min_p = 0.0f) {
    const RankedRow row = ranked_row(n_vocab, logit_of_rank);
    std::vector<double> w;  // by rank
    double z = 0.0;
    for (int64_t r = 0; r < n_vocab; ++r) {
        w.push_back(std::exp(double(logit_of_rank(r)) - double(logit_of_rank(0))));
        z += w.back();
    }
    int64_t cut = 0;
    double mass = 0.0;
    while (mass < top_p * z) mass += w[size_t(cut++)];
    while (min_p > 0.0f && w[size_t(cut - 1)] < min_p) mass -= w[size_t(--cut)];
    const int n = 1000;
    double mean_rank = 0.0;
    for (const auto& [token, count] : histogram(sampling(1.0f, 0, top_p, min_p), row.logits, n)) {
        const int64_t rank = row.rank_of[size_t(token)];
        EXPECT_LE(rank, cut) << "kept " << cut << " ranks";  // (one more for rounding)
        mean_rank += double(rank) * count / n;
    }
    double expected_mean = 0.0;
    for (int64_t r = 0; r < cut; ++r) expected_mean += double(r) * w[size_t(r)] / mass;
    EXPECT_NEAR(mean_rank, expected_mean, 0.05 * double(cut) + 1.0) << "kept " << cut;
    return cut;
}

TEST(Sampler, TopPWithoutTopKOnLargeRows) {
    // (40,000 tokens: large enough for every path, small enough for sanitizer builds.)
    auto linear = [](float slope) { return [slope](int64_t r) { return -slope * float(r); }; };
    // ~12 tokens: in the first sorted prefix.
    EXPECT_LT(check_nucleus(kLargeRow, linear(0.2f), 0.9f), 64);
    // One dominant token and a tail of ~160 more: in the prefix of 512.
    auto head_and_tail = [](int64_t r) { return r == 0 ? 0.0f : -7.5f - 0.01f * float(r); };
    const int64_t kept = check_nucleus(kLargeRow, head_and_tail, 0.99f);
    EXPECT_GT(kept, 64);
    EXPECT_LT(kept, 512);
    // Flat rows, the weight histogram: ~230 and ~11,500 tokens.
    check_nucleus(kLargeRow, linear(0.01f), 0.9f);
    EXPECT_GT(check_nucleus(kLargeRow, linear(0.0002f), 0.9f), 10000);
    // 5,000 tokens within 0.5% of the best, the rest far below: the cut falls inside one
    // bucket of the histogram, after ~2,500 of them.
    auto close = [](int64_t r) { return r < 5000 ? -1e-6f * float(r) : -50.0f; };
    const int64_t close_kept = check_nucleus(kLargeRow, close, 0.5f);
    EXPECT_GT(close_kept, 2000);
    EXPECT_LT(close_kept, 3000);
    // With min_p: where it cuts deeper than top_p (ranks up to ~3,500), and where not.
    EXPECT_LT(check_nucleus(kLargeRow, linear(0.0002f), 0.9f, 0.5f), 4000);
    EXPECT_GT(check_nucleus(kLargeRow, linear(0.0002f), 0.9f, 0.01f), 10000);
    EXPECT_LT(check_nucleus(kLargeRow, linear(0.01f), 0.9f, 0.5f), 100);
    // A row of ties: top_p keeps every token tied with the last one it needs, so all of them.
    // 4,000 draws from 4,000 tokens hit about 2,530 of them (from 2,000 about 1,730).
    const std::vector<float> flat(4000, 1.0f);
    EXPECT_GT(histogram(sampling(1.0f, 0, 0.5f), flat, 4000).size(), 2200u);
}

TEST(Sampler, OverriddenTokensInAWideNucleus) {
    // The overridden tokens take part in the weight histogram and in the draw.
    const RankedRow row = ranked_row(kLargeRow, [](int64_t r) { return -0.0002f * float(r); });
    int32_t best = 0, far = 0;
    for (int32_t t = 0; t < kLargeRow; ++t) {
        if (row.rank_of[size_t(t)] == 0) best = t;
        if (row.rank_of[size_t(t)] == 20000) far = t;
    }
    SamplingParams p = sampling(1.0f, 0, 0.9f);
    p.logit_bias = {{best, -100.0f}};
    EXPECT_FALSE(histogram(p, row.logits, 1000).contains(best));
    // Z is about 1 / 0.0002 = 5,000. +10 on the token of rank 20,000 (logit -4) gives it
    // weight e^6 = 403, the largest: drawn with probability 403 / (0.9 * Z'), about 8%.
    p.logit_bias = {{far, 10.0f}};
    double z = 0.0;
    for (float x : row.logits) z += std::exp(double(x));
    const double w_far = std::exp(double(row.logits[size_t(far)]) + 10.0);
    z += w_far - std::exp(double(row.logits[size_t(far)]));
    const int n = 2000;
    expect_frequencies_of(histogram(p, row.logits, n), far, w_far / (0.9 * z), n);
}

TEST(Sampler, MinPKeepsTokensNearTheTop) {
    const auto row = logits_of({0.5, 0.3, 0.1, 0.06, 0.04});
    const int n = 4000;
    // 0.15 * 0.5 = 0.075: tokens 0..2, whatever the other cuts that keep them.
    for (int top_k : {0, 3, 40}) {
        for (float top_p : {1.0f, 0.95f}) {
            expect_frequencies(histogram(sampling(1.0f, top_k, top_p, 0.15f), row, n),
                               {{0, 0.5 / 0.9}, {1, 0.3 / 0.9}, {2, 0.1 / 0.9}}, n);
        }
    }
    // After top_p: 0.5 + 0.3 reaches 0.7, and min_p then keeps both.
    expect_frequencies(histogram(sampling(1.0f, 0, 0.7f, 0.15f), row, n),
                       {{0, 0.5 / 0.8}, {1, 0.3 / 0.8}}, n);
    // Large row: only the planted head passes min_p 0.5 at temperature 1.
    auto big = random_row(kQwenVocab, 3, 1.0f);
    for (int32_t t : {5, 500, 50000}) big[size_t(t)] = 20.0f;
    big[77] = 20.0f - std::log(1.0f / 0.4f);  // p / p_max = 0.4: cut
    for (int top_k : {0, 40}) {
        const auto counts = histogram(sampling(1.0f, top_k, 1.0f, 0.5f), big, 600);
        expect_frequencies(counts, {{5, 1 / 3.0}, {500, 1 / 3.0}, {50000, 1 / 3.0}}, 600);
    }
}

TEST(Sampler, FullDistributionMatchesSoftmax) {
    // top_k 0, top_p 1, min_p 0: every token, at the temperature's softmax.
    std::vector<float> row(1000, -1e9f);
    row[10] = 1.0f;
    row[500] = 0.0f;
    row[999] = -1.0f;
    const double z = std::exp(2.0) + 1.0 + std::exp(-2.0);  // temperature 0.5
    const int n = 4000;
    expect_frequencies(histogram(sampling(0.5f, 0, 1.0f), row, n),
                       {{10, std::exp(2.0) / z}, {500, 1.0 / z}, {999, std::exp(-2.0) / z}}, n);
    // -1 also means every token.
    expect_frequencies(histogram(sampling(0.5f, -1, 1.0f), row, n),
                       {{10, std::exp(2.0) / z}, {500, 1.0 / z}, {999, std::exp(-2.0) / z}}, n);
}

TEST(Sampler, SameSeedSameTokensDifferentSeedsDiffer) {
    auto run = [](SamplingParams p) {
        Sampler s(p);
        std::vector<int32_t> tokens;
        for (uint64_t step = 0; step < 64; ++step) {
            const auto row = random_row(20000, step, 1.0f);
            tokens.push_back(s.sample(row.data(), 20000));
        }
        return tokens;
    };
    for (int top_k : {0, 40}) {
        for (float top_p : {1.0f, 0.9f}) {
            SamplingParams p = sampling(1.0f, top_k, top_p);
            p.seed = 42;
            const auto a = run(p);
            EXPECT_EQ(a, run(p));
            p.seed = 43;
            EXPECT_NE(a, run(p));
        }
    }
    SamplingParams unseeded = sampling(1.0f, 0, 1.0f);
    unseeded.seed.reset();
    EXPECT_EQ(run(unseeded).size(), 64u);
}

TEST(Sampler, LogprobsAreTheRawLogSoftmax) {
    for (int64_t n_vocab : {int64_t(3), int64_t(1000), kQwenVocab}) {
        auto row = random_row(n_vocab, uint64_t(n_vocab), 4.0f);
        if (n_vocab > 100) row[17] = -150.0f;  // far below: exp underflows
        const auto expected = naive_log_softmax(row);
        // Bias, penalties and temperature do not change the raw logprobs.
        SamplingParams p = sampling(0.7f, 40, 0.9f);
        p.logit_bias = {{1, 5.0f}};
        p.repetition_penalty = 1.2f;
        p.top_logprobs = 5;
        p.logprobs = true;
        for (float temperature : {0.0f, 0.7f}) {
            p.temperature = temperature;
            Sampler s(p);
            for (int step = 0; step < 3; ++step) {
                const SampleResult r = s.sample_full(row.data(), n_vocab);
                EXPECT_NEAR(r.logprob, expected[size_t(r.token)], 1e-5);
                ASSERT_EQ(r.top.size(), size_t(std::min<int64_t>(5, n_vocab)));
                std::vector<int32_t> best(static_cast<size_t>(n_vocab));
                for (int32_t i = 0; i < n_vocab; ++i) best[size_t(i)] = i;
                std::stable_sort(best.begin(), best.end(), [&](int32_t a, int32_t b) {
                    return row[size_t(a)] > row[size_t(b)];
                });
                for (size_t i = 0; i < r.top.size(); ++i) {
                    EXPECT_EQ(r.top[i].token, best[i]);
                    EXPECT_NEAR(r.top[i].logprob, expected[size_t(best[i])], 1e-5);
                    if (i > 0) {
                        EXPECT_GE(r.top[i - 1].logprob, r.top[i].logprob);
                    }
                }
            }
        }
    }
    // The chosen token's logprob alone, and none of it unless asked.
    const auto row = random_row(5000, 9);
    const auto expected = naive_log_softmax(row);
    SamplingParams p = sampling(1.0f, 0, 1.0f);
    p.logprobs = true;
    Sampler with(p);
    const SampleResult r = with.sample_full(row.data(), 5000);
    EXPECT_NEAR(r.logprob, expected[size_t(r.token)], 1e-5);
    EXPECT_TRUE(r.top.empty());
    p.logprobs = false;
    Sampler without(p);
    const SampleResult r2 = without.sample_full(row.data(), 5000);
    EXPECT_EQ(r2.logprob, 0.0f);
    EXPECT_TRUE(r2.top.empty());
}

TEST(Sampler, DoesNotModifyTheLogits) {
    const auto original = random_row(kQwenVocab, 11);
    auto row = original;
    std::vector<SamplingParams> settings = {sampling(0.0f, 40, 1.0f), sampling(0.8f, 40, 0.95f),
                                            sampling(1.0f, 0, 0.9f), sampling(1.0f, 0, 1.0f, 0.1f),
                                            sampling(1.0f, 0, 1.0f)};
    for (auto p : settings) {
        p.logit_bias = {{0, 50.0f}, {1, -50.0f}};
        p.repetition_penalty = 1.5f;
        p.frequency_penalty = 1.0f;
        p.presence_penalty = 1.0f;
        p.top_logprobs = 20;
        Sampler s(p);
        const std::vector<int32_t> prompt = {2, 3, 4};
        s.set_prompt(prompt);
        for (int i = 0; i < 5; ++i) s.sample_full(row.data(), kQwenVocab);
        ASSERT_EQ(std::memcmp(row.data(), original.data(), row.size() * sizeof(float)), 0);
    }
}

TEST(Sampler, ValidateNamesTheFieldAndItsRange) {
    const int64_t n_vocab = 1000;
    EXPECT_TRUE(citadel::validate(SamplingParams{}, n_vocab).ok());
    EXPECT_TRUE(citadel::validate(SamplingParams{.temperature = 0.0f,
                                                 .top_k = -1,
                                                 .top_p = 1.0f,
                                                 .min_p = 1.0f,
                                                 .frequency_penalty = -2.0f,
                                                 .presence_penalty = 2.0f,
                                                 .logit_bias = {{999, -100.0f}, {0, 100.0f}},
                                                 .top_logprobs = 20},
                                  n_vocab)
                    .ok());
    const float nan = std::numeric_limits<float>::quiet_NaN();
    // One bad field at a time (a loop over a table of SamplingParams trips GCC 12's
    // -Wmaybe-uninitialized at -O3).
    auto expect_error = [&](const SamplingParams& p, const std::string& expected) {
        const citadel::Status st = citadel::validate(p, n_vocab);
        ASSERT_FALSE(st.ok()) << expected;
        EXPECT_NE(st.message().find(expected), std::string::npos)
            << "'" << st.message() << "' lacks '" << expected << "'";
    };
    auto with = [](const auto& set) {
        SamplingParams p;
        set(p);
        return p;
    };
    expect_error(with([&](SamplingParams& p) { p.temperature = -0.5f; }),
                 "temperature must be >= 0");
    expect_error(with([&](SamplingParams& p) { p.temperature = nan; }), "temperature");
    expect_error(with([&](SamplingParams& p) { p.top_k = -2; }), "top_k");
    expect_error(with([&](SamplingParams& p) { p.top_p = 0.0f; }),
                 "top_p must be in (0, 1], got 0");
    expect_error(with([&](SamplingParams& p) { p.top_p = 1.5f; }),
                 "top_p must be in (0, 1], got 1.5");
    expect_error(with([&](SamplingParams& p) { p.top_p = nan; }), "top_p");
    expect_error(with([&](SamplingParams& p) { p.min_p = 1.5f; }),
                 "min_p must be in [0, 1], got 1.5");
    expect_error(with([&](SamplingParams& p) { p.min_p = -0.1f; }), "min_p");
    expect_error(with([&](SamplingParams& p) { p.repetition_penalty = 0.0f; }),
                 "repetition_penalty must be > 0");
    expect_error(with([&](SamplingParams& p) { p.repetition_penalty = -1.0f; }),
                 "repetition_penalty");
    expect_error(with([&](SamplingParams& p) { p.frequency_penalty = 2.5f; }),
                 "frequency_penalty must be in [-2, 2], got 2.5");
    expect_error(with([&](SamplingParams& p) { p.frequency_penalty = -2.5f; }),
                 "frequency_penalty");
    expect_error(with([&](SamplingParams& p) { p.presence_penalty = 3.0f; }),
                 "presence_penalty must be in [-2, 2], got 3");
    expect_error(with([&](SamplingParams& p) { p.presence_penalty = -2.01f; }), "presence_penalty");
    expect_error(with([&](SamplingParams& p) {
                     p.logit_bias = {{1000, 1.0f}};
                 }),
                 "logit_bias token 1000 is out of range");
    expect_error(with([&](SamplingParams& p) {
                     p.logit_bias = {{-1, 1.0f}};
                 }),
                 "logit_bias token -1");
    expect_error(with([&](SamplingParams& p) {
                     p.logit_bias = {{5, 101.0f}};
                 }),
                 "logit_bias of token 5 must be in [-100, 100], got 101");
    expect_error(with([&](SamplingParams& p) {
                     p.logit_bias = {{5, nan}};
                 }),
                 "logit_bias of token 5");
    expect_error(with([&](SamplingParams& p) { p.top_logprobs = 21; }),
                 "top_logprobs must be in [0, 20], got 21");
    expect_error(with([&](SamplingParams& p) { p.top_logprobs = -1; }), "top_logprobs");
}

TEST(Sampler, SurvivesUnvalidatedParameters) {
    // The Sampler trusts its parameters but must stay memory-safe with any of them.
    const auto row = random_row(100, 1);
    SamplingParams p{.temperature = 1.0f,
                     .top_k = 1000,
                     .top_p = 2.0f,
                     .min_p = 5.0f,
                     .logit_bias = {{-5, 1.0f}, {100, 1.0f}, {1 << 30, 1.0f}},
                     .seed = 1,
                     .top_logprobs = 500};
    Sampler s(p);
    const SampleResult r = s.sample_full(row.data(), 100);
    EXPECT_GE(r.token, 0);
    EXPECT_LT(r.token, 100);
    EXPECT_EQ(r.top.size(), 100u);
    // top_p 0 or below keeps the best token alone (the CLI lets 0 through).
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (float top_p : {0.0f, -1.0f}) {
        for (int top_k : {0, 40}) {
            const auto counts = histogram(sampling(1.0f, top_k, top_p), row, 50);
            EXPECT_EQ(counts.size(), 1u);
            EXPECT_EQ(counts.begin()->first, naive_argmax(row));
        }
    }
    // Rows with NaN and -inf (a broken model) still give a token id in range, in every mode.
    std::vector<float> broken = random_row(3000, 2);
    for (size_t i = 0; i < broken.size(); i += 3) broken[i] = nan;
    for (size_t i = 1; i < broken.size(); i += 3)
        broken[i] = -std::numeric_limits<float>::infinity();
    const std::vector<float> all_nan(3000, nan);
    for (const std::vector<float>* b : std::vector<const std::vector<float>*>{&broken, &all_nan}) {
        for (SamplingParams q :
             {sampling(0.0f, 40, 1.0f), sampling(1.0f, 40, 0.9f), sampling(1.0f, 0, 0.9f),
              sampling(1.0f, 0, 1.0f, 0.1f), sampling(1.0f, 0, 1.0f)}) {
            q.top_logprobs = 5;
            q.frequency_penalty = 1.0f;
            const SampleResult r = Sampler(q).sample_full(b->data(), 3000);
            EXPECT_GE(r.token, 0);
            EXPECT_LT(r.token, 3000);
            EXPECT_EQ(r.top.size(), 5u);
        }
    }
    for (float bad : {nan, -1.0f, 1e30f}) {
        SamplingParams q = sampling(bad, 0, bad, bad);
        q.repetition_penalty = bad;
        q.frequency_penalty = bad;
        const int32_t t = Sampler(q).sample(row.data(), 100);
        EXPECT_GE(t, 0);
        EXPECT_LT(t, 100);
    }
}

// Not a check: the cost of sample_full on a 151,936-entry row of N(0, 1) logits, median of
// 500 calls over 8 rows. Run with --gtest_also_run_disabled_tests --gtest_filter='*Timing*'.
TEST(Sampler, DISABLED_Timing) {
    std::vector<std::vector<float>> rows;
    for (uint64_t seed = 0; seed < 8; ++seed) rows.push_back(random_row(kQwenVocab, seed, 1.0f));
    const std::vector<std::pair<const char*, SamplingParams>> settings = {
        {"greedy", sampling(0.0f, 40, 1.0f)},
        {"temperature 0.8, top_k 40, top_p 0.95", sampling(0.8f, 40, 0.95f)},
        {"top_k 0, top_p 0.9", sampling(1.0f, 0, 0.9f)},
        {"greedy, top_logprobs 5", [] {
             SamplingParams p = sampling(0.0f, 40, 1.0f);
             p.top_logprobs = 5;
             return p;
         }()}};
    for (const auto& [name, params] : settings) {
        Sampler s(params);
        std::vector<double> us;
        for (int i = 0; i < 500; ++i) {
            const auto& row = rows[size_t(i) % rows.size()];
            const auto t0 = std::chrono::steady_clock::now();
            const SampleResult r = s.sample_full(row.data(), kQwenVocab);
            us.push_back(
                std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                    .count());
            EXPECT_LT(r.token, kQwenVocab);
        }
        std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
        std::printf("%-40s %8.1f us\n", name, us[us.size() / 2]);
    }
}
