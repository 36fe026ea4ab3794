#include "engine/sampler.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>

namespace citadel {

// The logits as the pipeline sees them: the model's row, except the tokens of `overrides`
// (biased or penalized), which are marked in a bitset; the block scans read those as -inf,
// and every scan takes them, with their new logits, from the list.
struct SamplerRow {
    const float* logits;  // [n]
    int64_t n;
    const uint64_t* marked;  // [ceil(n / 64)] bits, or nullptr when nothing is overridden
    std::span<const SampleCandidate> overrides;

    // logits[begin, begin + len), begin a multiple of 64: the row itself, or a copy in
    // `scratch` with the marked tokens at -inf.
    const float* block(int64_t begin, int64_t len, float* scratch) const {
        if (marked == nullptr) return logits + begin;
        uint64_t any = 0;
        for (int64_t w = begin / 64; w < (begin + len + 63) / 64; ++w) any |= marked[w];
        if (any == 0) return logits + begin;
        std::copy_n(logits + begin, len, scratch);
        for (int64_t j = 0; j < len; ++j) {
            const int64_t i = begin + j;
            if ((marked[i / 64] >> (i % 64)) & 1)
                scratch[j] = -std::numeric_limits<float>::infinity();
        }
        return scratch;
    }
};

namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kGreedyBelow = 1e-5f;  // lower temperatures are greedy (vLLM's epsilon)
constexpr int64_t kBlock = 256;        // the row is scanned in blocks of this many logits
constexpr int64_t kProbe = 64;         // select_top skips groups under its threshold at once
constexpr size_t kFirstPrefix = 64;    // sample_nucleus: the sorted prefix tried first ...
constexpr size_t kLastPrefix = 512;    // ... and the longest, before the weight histogram
constexpr float kFlatWeight = 1e-3f;   // ... which is built at once if the 64th weighs more

// e^-x for the x >= 0 of softmax weights, e^-((max - logit) / T), in plain arithmetic so
// that loops over a block vectorize on baseline x86-64 (calls to std::exp do not). Cephes'
// expf, relative error below 1e-7; 0 beyond x = 87 (and for +inf and NaN), without ever
// making a denormal (they cost a microcode assist per operation). The clamp and the zeroing
// work on the bits (for x >= 0 they order like the values): a float comparison there would
// turn into a branch that GCC does not vectorize.
inline float exp_negative(float x) {
    constexpr uint32_t k87 = 0x42AE0000u;  // 87.0f; e^-87 is still a normal float
    const uint32_t xb = std::bit_cast<uint32_t>(x);
    const uint32_t beyond = uint32_t(int32_t(k87 - xb) >> 31);  // all ones where x > 87
    const float xc = -std::bit_cast<float>(std::min(xb, k87));
    constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    const float t = xc * 1.44269504f + kRound;
    const float n = t - kRound;  // round(-x / ln 2), in [-126, 0]
    const int32_t ni = std::bit_cast<int32_t>(t) - std::bit_cast<int32_t>(kRound);
    const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;  // -x - n ln 2, in two parts
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    const float y = p * r * r + r + 1.0f;
    const float e = y * std::bit_cast<float>(uint32_t(ni + 127) << 23);  // y * 2^n
    return std::bit_cast<float>(std::bit_cast<uint32_t>(e) & ~beyond);
}

// Largest of x[0, n) that is > -inf, else -inf (NaN never wins).
float max_of(const float* x, int64_t n) {
    float lanes[8] = {-kInf, -kInf, -kInf, -kInf, -kInf, -kInf, -kInf, -kInf};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int l = 0; l < 8; ++l) lanes[l] = x[i + l] > lanes[l] ? x[i + l] : lanes[l];
    }
    float m = -kInf;
    for (; i < n; ++i) m = x[i] > m ? x[i] : m;
    for (float v : lanes) m = v > m ? v : m;
    return m;
}

// How many of x[0, n) lie in [lo, hi].
int count_in_range(const float* x, int64_t n, float lo, float hi) {
    int count = 0;
    for (int64_t i = 0; i < n; ++i) count += (x[i] >= lo) & (x[i] <= hi);
    return count;
}

// Weights are compared as bits: for floats >= 0 the bits order like the values, and integer
// selects vectorize where float ones may not.
inline uint32_t bits(float weight) {
    return std::bit_cast<uint32_t>(weight);
}

// out[i] = e^-((max - x[i]) * scale) for x[0, n), n <= kBlock, or 0 where that is under the
// weight of bits `min_weight` (0: none); returns their sum.
float exp_block(const float* x, int64_t n, float max, float scale, uint32_t min_weight,
                float* out) {
    for (int64_t i = 0; i < n; ++i) {
        const float w = exp_negative((max - x[i]) * scale);
        out[i] = bits(w) >= min_weight ? w : 0.0f;
    }
    float lanes[8] = {};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int l = 0; l < 8; ++l) lanes[l] += out[i + l];
    }
    float sum = 0.0f;
    for (; i < n; ++i) sum += out[i];
    for (float v : lanes) sum += v;
    return sum;
}

bool by_logit(const SampleCandidate& a, const SampleCandidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.token < b.token);
}

void set_weights(std::span<SampleCandidate> c, float max, float inv_temperature) {
    for (auto& x : c) x.weight = exp_negative((max - x.logit) * inv_temperature);
}

// The scans below share one shape: each kBlock-sized block of the row (marked tokens read as
// -inf), then the overrides.

float row_max(const SamplerRow& row) {
    float scratch[kBlock];
    float m = -kInf;
    for (int64_t begin = 0; begin < row.n; begin += kBlock) {
        const int64_t len = std::min(kBlock, row.n - begin);
        const float block_max = max_of(row.block(begin, len, scratch), len);
        m = block_max > m ? block_max : m;
    }
    for (const auto& c : row.overrides) m = c.logit > m ? c.logit : m;
    return m;
}

// The token of the largest logit, the first on ties: the block of the maximum in one
// vectorized pass, then the position inside that block.
int32_t row_argmax(const SamplerRow& row) {
    float scratch[kBlock];
    float best = -kInf;
    int64_t best_begin = -1;
    for (int64_t begin = 0; begin < row.n; begin += kBlock) {
        const int64_t len = std::min(kBlock, row.n - begin);
        const float block_max = max_of(row.block(begin, len, scratch), len);
        if (block_max > best) {
            best = block_max;
            best_begin = begin;
        }
    }
    int32_t token = 0;
    if (best_begin >= 0) {
        const int64_t len = std::min(kBlock, row.n - best_begin);
        const float* b = row.block(best_begin, len, scratch);
        for (int64_t j = 0; j < len; ++j) {
            if (b[j] == best) {
                token = int32_t(best_begin + j);
                break;
            }
        }
    }
    for (const auto& c : row.overrides) {
        if (c.logit > best || (c.logit == best && c.token < token)) {
            best = c.logit;
            token = c.token;
        }
    }
    return token;
}

// A weight e^-((max - logit) * scale), or 0 under the weight of bits `min_weight`.
float weight_of(float logit, float max, float scale, uint32_t min_weight) {
    const float w = exp_negative((max - logit) * scale);
    return bits(w) >= min_weight ? w : 0.0f;
}

// Sum of the row's weights (see weight_of).
double row_sum_exp(const SamplerRow& row, float max, float scale, uint32_t min_weight) {
    float scratch[kBlock];
    float e[kBlock];
    double sum = 0.0;
    for (int64_t begin = 0; begin < row.n; begin += kBlock) {
        const int64_t len = std::min(kBlock, row.n - begin);
        sum += exp_block(row.block(begin, len, scratch), len, max, scale, min_weight, e);
    }
    for (const auto& c : row.overrides) sum += weight_of(c.logit, max, scale, min_weight);
    return sum;
}

// The token where the running sum of the weights (see weight_of) first exceeds r; blocks
// whose whole sum stays under r are skipped after their vectorized sum.
int32_t row_sample(const SamplerRow& row, float max, float scale, uint32_t min_weight, double r) {
    for (const auto& c : row.overrides) {
        r -= weight_of(c.logit, max, scale, min_weight);
        if (r < 0.0) return c.token;
    }
    float scratch[kBlock];
    float e[kBlock];
    for (int64_t begin = 0; begin < row.n; begin += kBlock) {
        const int64_t len = std::min(kBlock, row.n - begin);
        const float block_sum =
            exp_block(row.block(begin, len, scratch), len, max, scale, min_weight, e);
        if (r >= block_sum) {
            r -= block_sum;
            continue;
        }
        for (int64_t j = 0; j < len; ++j) {
            r -= e[j];
            if (r < 0.0) return int32_t(begin + j);
        }
    }
    return row_argmax(row);  // r rounded past the end: the likeliest token is as good as any
}

// Fills `out` with the (up to) k candidates of highest logit (above -inf), unsorted. One
// pass: logits that beat the threshold join a buffer; when it holds 2k + 256, nth_element
// keeps the k best and the k-th becomes the threshold. A group of kProbe logits whose
// (vectorized) max is under the threshold is skipped at once, which is nearly all of them.
void select_top(const SamplerRow& row, size_t k, std::vector<SampleCandidate>& out) {
    out.clear();
    if (k == 0) return;
    const size_t capacity = 2 * k + 256;
    float threshold = -kInf;
    auto push = [&](int32_t token, float logit) {
        out.push_back({token, logit, 0.0f});
        if (out.size() < capacity) return;
        std::nth_element(out.begin(), out.begin() + std::ptrdiff_t(k - 1), out.end(), by_logit);
        out.resize(k);
        threshold = out.back().logit;
    };
    for (const auto& c : row.overrides) {
        if (c.logit > threshold) push(c.token, c.logit);
    }
    float scratch[kBlock];
    for (int64_t begin = 0; begin < row.n; begin += kBlock) {
        const int64_t len = std::min(kBlock, row.n - begin);
        const float* b = row.block(begin, len, scratch);
        for (int64_t g = 0; g < len; g += kProbe) {
            const int64_t g_end = std::min(len, g + kProbe);
            if (!(max_of(b + g, g_end - g) > threshold)) continue;
            for (int64_t j = g; j < g_end; ++j) {
                if (b[j] > threshold) push(int32_t(begin + j), b[j]);
            }
        }
    }
    if (out.size() > k) {
        std::nth_element(out.begin(), out.begin() + std::ptrdiff_t(k - 1), out.end(), by_logit);
        out.resize(k);
    }
}

// A histogram of weights for the nucleus of flat distributions: 64 buckets per octave (a
// weight's exponent and 6 mantissa bits); weights are in [0, 1].
constexpr int kBucketShift = 17;
constexpr uint32_t kBuckets = (0x3F800000u >> kBucketShift) + 1;

inline uint32_t bucket_of(float weight) {
    return std::min(bits(weight) >> kBucketShift, kBuckets - 1);
}

// mass[b] = the sum of the row's weights that fall in bucket b; returns the sum of them all.
double weight_histogram(const SamplerRow& row, float max, float scale, std::vector<double>& mass) {
    mass.assign(kBuckets, 0.0);
    float scratch[kBlock];
    float e[kBlock];
    for (int64_t begin = 0; begin < row.n; begin += kBlock) {
        const int64_t len = std::min(kBlock, row.n - begin);
        exp_block(row.block(begin, len, scratch), len, max, scale, 0, e);
        for (int64_t j = 0; j < len; ++j) {
            // Zeros (often most of the row) would all add to bucket 0, one long dependency chain.
            if (e[j] > 0.0f) mass[bucket_of(e[j])] += e[j];
        }
    }
    for (const auto& c : row.overrides) {
        const float w = weight_of(c.logit, max, scale, 0);
        mass[bucket_of(w)] += w;
    }
    double total = 0.0;
    for (double m : mass) total += m;
    return total;
}

// Calls visit(token, logit, weight) for the tokens of nonzero weight in bucket b, the
// overrides first and then the row in order, until it returns true. Only the logits that can
// fall in the bucket (a range, with a margin for rounding) get their weight computed; a
// vectorized count skips the groups that hold none.
template <typename Visit>
void for_each_in_bucket(const SamplerRow& row, float max, float scale, uint32_t b, Visit&& visit) {
    const float margin = 1e-3f / scale + 1e-5f * std::abs(max);
    const float lo = max + std::log(std::bit_cast<float>(b << kBucketShift)) / scale - margin;
    const float hi = max + std::log(std::bit_cast<float>((b + 1) << kBucketShift)) / scale + margin;
    auto consider = [&](int32_t token, float logit) {
        if (!(logit >= lo && logit <= hi)) return false;
        const float w = weight_of(logit, max, scale, 0);
        return w > 0.0f && bucket_of(w) == b && visit(token, logit, w);
    };
    for (const auto& c : row.overrides) {
        if (consider(c.token, c.logit)) return;
    }
    float scratch[kBlock];
    for (int64_t begin = 0; begin < row.n; begin += kBlock) {
        const int64_t len = std::min(kBlock, row.n - begin);
        const float* x = row.block(begin, len, scratch);
        for (int64_t g = 0; g < len; g += kProbe) {
            const int64_t g_end = std::min(len, g + kProbe);
            if (count_in_range(x + g, g_end - g, lo, hi) == 0) continue;
            int32_t hits[kProbe];  // the positions in range, gathered without branches
            int n_hits = 0;
            for (int64_t j = g; j < g_end; ++j) {
                hits[n_hits] = int32_t(j);
                n_hits += (x[j] >= lo) & (x[j] <= hi);
            }
            for (int h = 0; h < n_hits; ++h) {
                if (consider(int32_t(begin + hits[h]), x[hits[h]])) return;
            }
        }
    }
}

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%g", v);
    return buf;
}

Status range_error(const std::string& field, const std::string& range, double got) {
    return Status::error(field + " must be " + range + ", got " + number(got));
}

}  // namespace

Status validate(const SamplingParams& p, int64_t n_vocab) {
    // Written as !(in range) so that NaN fails every check.
    if (!(p.temperature >= 0.0f && std::isfinite(p.temperature))) {
        return range_error("temperature", ">= 0 (0: greedy)", p.temperature);
    }
    if (!(p.top_k >= -1)) return range_error("top_k", "-1, 0 (all tokens) or > 0", p.top_k);
    if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) return range_error("top_p", "in (0, 1]", p.top_p);
    if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) return range_error("min_p", "in [0, 1]", p.min_p);
    if (!(p.repetition_penalty > 0.0f && std::isfinite(p.repetition_penalty))) {
        return range_error("repetition_penalty", "> 0 (1: none)", p.repetition_penalty);
    }
    if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f)) {
        return range_error("frequency_penalty", "in [-2, 2]", p.frequency_penalty);
    }
    if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f)) {
        return range_error("presence_penalty", "in [-2, 2]", p.presence_penalty);
    }
    if (!(p.top_logprobs >= 0 && p.top_logprobs <= 20)) {
        return range_error("top_logprobs", "in [0, 20]", p.top_logprobs);
    }
    for (const auto& [token, bias] : p.logit_bias) {
        if (token < 0 || token >= n_vocab) {
            return Status::error("logit_bias token " + std::to_string(token) +
                                 " is out of range: token ids must be in [0, " +
                                 std::to_string(n_vocab) + ")");
        }
        if (!(bias >= -100.0f && bias <= 100.0f)) {
            return range_error("logit_bias of token " + std::to_string(token), "in [-100, 100]",
                               bias);
        }
    }
    return ok_status();
}

int32_t argmax(const float* logits, int64_t n) {
    return row_argmax(SamplerRow{logits, n, nullptr, {}});
}

Sampler::Sampler(const SamplingParams& params)
    : params_(params),
      greedy_(!(params.temperature >= kGreedyBelow)),
      penalized_(params.repetition_penalty != 1.0f || params.frequency_penalty != 0.0f ||
                 params.presence_penalty != 0.0f),
      bias_(params.logit_bias) {
    if (params.seed) {
        rng_.seed(*params.seed);
    } else {
        std::random_device device;
        rng_.seed((uint64_t(device()) << 32) ^ device());
    }
    std::sort(bias_.begin(), bias_.end());
    size_t n = 0;  // sum repeats of a token
    for (size_t i = 0; i < bias_.size(); ++i) {
        if (n > 0 && bias_[n - 1].first == bias_[i].first) {
            bias_[n - 1].second += bias_[i].second;
        } else {
            bias_[n++] = bias_[i];
        }
    }
    bias_.resize(n);
}

void Sampler::set_prompt(std::span<const int32_t> prompt) {
    if (params_.repetition_penalty == 1.0f) return;  // only that penalty looks at the prompt
    std::erase_if(seen_, [](const Seen& s) { return s.output_count == 0; });
    seen_index_.clear();
    for (uint32_t i = 0; i < seen_.size(); ++i) {
        seen_[i].in_prompt = false;
        seen_index_.emplace(seen_[i].token, i);
    }
    for (int32_t token : prompt) seen_entry(token).in_prompt = true;
}

Sampler::Seen& Sampler::seen_entry(int32_t token) {
    const auto [it, inserted] = seen_index_.try_emplace(token, uint32_t(seen_.size()));
    if (inserted) seen_.push_back({token, 0, false});
    return seen_[it->second];
}

float Sampler::bias_for(int32_t token) const {
    const auto it = std::lower_bound(bias_.begin(), bias_.end(), std::pair{token, -kInf});
    return it != bias_.end() && it->first == token ? it->second : 0.0f;
}

// vLLM's order: the repetition penalty (prompt and output), then frequency and presence
// (output only).
float Sampler::penalized(float logit, const Seen& seen) const {
    const float r = params_.repetition_penalty;
    if (r != 1.0f && r > 0.0f && (seen.in_prompt || seen.output_count > 0)) {
        logit = logit > 0.0f ? logit / r : logit * r;
    }
    logit -= params_.frequency_penalty * float(seen.output_count);
    if (seen.output_count > 0) logit -= params_.presence_penalty;
    return logit;
}

void Sampler::build_overrides(const float* logits, int64_t n_vocab) {
    overrides_.clear();
    for (const auto& [token, bias] : bias_) {
        if (token < 0 || token >= n_vocab || seen_index_.contains(token)) continue;
        overrides_.push_back({token, logits[token] + bias, 0.0f});
    }
    for (const Seen& s : seen_) {
        if (s.token < 0 || s.token >= n_vocab) continue;
        overrides_.push_back({s.token, penalized(logits[s.token] + bias_for(s.token), s), 0.0f});
    }
    if (overrides_.empty()) return;
    const size_t words = size_t((n_vocab + 63) / 64);
    if (marked_.size() != words) marked_.assign(words, 0);
    for (const auto& c : overrides_) marked_[size_t(c.token / 64)] |= uint64_t{1} << (c.token % 64);
}

void Sampler::clear_marks() {
    for (const auto& c : overrides_) marked_[size_t(c.token / 64)] = 0;
}

SampleResult Sampler::sample_full(const float* logits, int64_t n_vocab) {
    CITADEL_CHECK(logits != nullptr && n_vocab > 0);
    const size_t n_top = size_t(std::clamp<int64_t>(params_.top_logprobs, 0, n_vocab));
    top_.clear();
    if (n_top > 0) {
        select_top(SamplerRow{logits, n_vocab, nullptr, {}}, n_top, top_);
        std::sort(top_.begin(), top_.end(), by_logit);
    }
    build_overrides(logits, n_vocab);
    const SamplerRow row{logits, n_vocab, overrides_.empty() ? nullptr : marked_.data(),
                         overrides_};
    SampleResult result{.token = 0, .logprob = 0.0f, .top = {}};
    if (!greedy_) {
        result.token = sample_random(row);
    } else if (overrides_.empty() && !top_.empty()) {
        result.token = top_[0].token;  // the raw argmax, already found for the logprobs
    } else {
        result.token = row_argmax(row);
    }
    clear_marks();
    if (params_.logprobs || n_top > 0) fill_logprobs(logits, n_vocab, result);
    if (penalized_) ++seen_entry(result.token).output_count;
    return result;
}

// top_k first when it cuts: a sorted list of k, cut again by top_p and min_p. Otherwise
// top_p looks at the whole row (sample_nucleus), and min_p alone, or nothing at all, draws
// from the row itself in one pass that masks the weights under min_p.
int32_t Sampler::sample_random(const SamplerRow& row) {
    const float inv_temperature = 1.0f / params_.temperature;
    if (params_.top_k > 0 && params_.top_k < row.n) {
        const size_t kept = keep_top_k(row, size_t(params_.top_k), inv_temperature);
        return kept > 0 ? draw(kept) : row_argmax(row);
    }
    const float max = row_max(row);
    if (!(max > -kInf)) return row_argmax(row);  // nothing to draw from
    if (params_.top_p < 1.0f) {
        const int32_t token = sample_nucleus(row, max, inv_temperature);
        if (token >= 0) return token;
    }
    const uint32_t min_p = bits(std::max(params_.min_p, 0.0f));  // on the weight, p / p_max
    const double total = row_sum_exp(row, max, inv_temperature, min_p);
    return row_sample(row, max, inv_temperature, min_p, uniform() * total);
}

size_t Sampler::keep_top_k(const SamplerRow& row, size_t k, float inv_temperature) {
    sorted_prefix(row, k, -kInf, inv_temperature);
    if (candidates_.empty()) return 0;
    size_t kept = candidates_.size();
    if (params_.top_p < 1.0f) {
        double total = 0.0;
        for (const auto& c : candidates_) total += c.weight;
        const size_t reach = top_p_cut(params_.top_p * total);
        if (reach > 0) kept = reach;
    }
    return cut_min_p(kept);
}

// top_p without top_k, the costly case, since it needs the mass of the whole row:
//  1. The 64 best tokens, sorted, and the sum Z of all weights. When those 64 are nearly as
//     likely as one another (the 64th weight > kFlatWeight), the nucleus is likely wide, and
//     the pass that sums Z also fills the weight histogram.
//  2. If the 64 hold top_p * Z, that is the nucleus; else the 512 best, unless even 512
//     tokens as heavy as the 64th could not hold it.
//  3. Else the histogram (sample_wide_nucleus).
// Returns -1 when min_p, not top_p, makes the cut there.
int32_t Sampler::sample_nucleus(const SamplerRow& row, float max, float inv_temperature) {
    size_t m = kFirstPrefix;
    sorted_prefix(row, m, max, inv_temperature);
    const bool flat = candidates_.size() == m && candidates_.back().weight > kFlatWeight;
    const double total = flat ? weight_histogram(row, max, inv_temperature, histogram_)
                              : row_sum_exp(row, max, inv_temperature, 0);
    const double target = params_.top_p * total;
    for (;;) {
        const size_t reach = top_p_cut(target);
        const size_t min_p_kept = cut_min_p(candidates_.size());
        if (reach > 0) return draw(std::min(reach, min_p_kept));
        // min_p cuts inside this prefix, or the row has no more tokens: that is the nucleus.
        if (min_p_kept < candidates_.size() || candidates_.size() < m) return draw(min_p_kept);
        double mass = 0.0;
        for (const auto& c : candidates_) mass += c.weight;
        const bool may_reach = mass + 7.0 * double(m) * candidates_.back().weight >= target;
        if (flat || m >= kLastPrefix || !may_reach) break;
        m *= 8;
        sorted_prefix(row, m, max, inv_temperature);
    }
    if (!flat) weight_histogram(row, max, inv_temperature, histogram_);
    return sample_wide_nucleus(row, max, inv_temperature, target);
}

// candidates_ = the m best tokens (fewer if the row has fewer above -inf), sorted, with their
// weights relative to `max` (-inf: relative to the best of them).
void Sampler::sorted_prefix(const SamplerRow& row, size_t m, float max, float inv_temperature) {
    select_top(row, m, candidates_);
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
    if (!candidates_.empty()) {
        set_weights(candidates_, max > -kInf ? max : candidates_[0].logit, inv_temperature);
    }
}

// The shortest prefix (of one token at least) of the sorted candidates_ whose weights reach
// `target`, with the tokens tied with its last; 0 if they fall short, or if the ties run to
// the end of a full prefix.
size_t Sampler::top_p_cut(double target) const {
    double mass = 0.0;
    size_t reach = 0;
    while (reach < candidates_.size() && (reach == 0 || mass < target)) {
        mass += candidates_[reach++].weight;
    }
    if (reach == 0 || mass < target) return 0;
    while (reach < candidates_.size() &&
           candidates_[reach].weight == candidates_[reach - 1].weight) {
        ++reach;
    }
    return reach;
}

// top_p over a flat distribution, where the nucleus holds thousands of tokens: the weight
// histogram (already in histogram_) finds the bucket where the mass from the top crosses
// `target`; only that bucket is gathered and sorted, for the exact cut (tokens tied with the
// last one kept stay in). The draw then picks a bucket from the histogram and walks only that
// bucket's tokens. -1 when min_p cuts deeper than the nucleus (or rounding put the target
// out of reach).
int32_t Sampler::sample_wide_nucleus(const SamplerRow& row, float max, float inv_temperature,
                                     double target) {
    double above = 0.0;  // the mass of the buckets above the crossing one
    uint32_t crossing = kBuckets;
    for (uint32_t b = kBuckets; b-- > 0;) {
        if (above + histogram_[b] >= target) {
            crossing = b;
            break;
        }
        above += histogram_[b];
    }
    if (crossing == kBuckets) return -1;
    if (std::bit_cast<float>((crossing + 1) << kBucketShift) < params_.min_p) return -1;
    candidates_.clear();
    for_each_in_bucket(row, max, inv_temperature, crossing, [&](int32_t t, float l, float w) {
        candidates_.push_back({t, l, w});
        return false;
    });
    std::sort(candidates_.begin(), candidates_.end(), by_logit);
    double need = target - above;
    size_t kept = 0;
    while (kept < candidates_.size() && need > 0.0) need -= candidates_[kept++].weight;
    if (kept == 0 || candidates_[kept - 1].weight < params_.min_p) return -1;
    while (kept < candidates_.size() && candidates_[kept].weight == candidates_[kept - 1].weight) {
        ++kept;
    }
    double crossing_mass = 0.0;
    for (size_t i = 0; i < kept; ++i) crossing_mass += candidates_[i].weight;
    double r = uniform() * (above + crossing_mass);
    if (r >= above) {
        r -= above;
        for (size_t i = 0; i < kept; ++i) {
            r -= candidates_[i].weight;
            if (r < 0.0) return candidates_[i].token;
        }
        return candidates_[kept - 1].token;
    }
    uint32_t b = kBuckets - 1;
    while (b > crossing + 1 && r >= histogram_[b]) r -= histogram_[b--];
    int32_t token = candidates_[0].token;  // if rounding leaves r past the bucket's end
    for_each_in_bucket(row, max, inv_temperature, b, [&](int32_t t, float, float w) {
        token = t;
        r -= w;
        return r < 0.0;
    });
    return token;
}

// Of sorted candidates_[0, kept), those with weight >= min_p (the first has weight 1).
size_t Sampler::cut_min_p(size_t kept) const {
    if (params_.min_p <= 0.0f) return kept;
    for (size_t i = 1; i < kept; ++i) {
        if (candidates_[i].weight < params_.min_p) return i;
    }
    return kept;
}

int32_t Sampler::draw(size_t kept) {
    double total = 0.0;
    for (size_t i = 0; i < kept; ++i) total += candidates_[i].weight;
    double r = uniform() * total;
    for (size_t i = 0; i < kept; ++i) {
        r -= candidates_[i].weight;
        if (r < 0.0) return candidates_[i].token;
    }
    for (size_t i = kept; i-- > 0;) {  // rounded past the end: the last with any weight
        if (candidates_[i].weight > 0.0f) return candidates_[i].token;
    }
    return candidates_[0].token;
}

double Sampler::uniform() {
    return double(rng_() >> 11) * 0x1.0p-53;  // the same on every standard library
}

// Raw logprobs: log-softmax of the logits as given, one max pass (free when top_ holds the
// maximum) and one sum-of-exponentials pass.
void Sampler::fill_logprobs(const float* logits, int64_t n_vocab, SampleResult& result) {
    const SamplerRow raw{logits, n_vocab, nullptr, {}};
    const float max = top_.empty() ? row_max(raw) : top_[0].logit;
    const double log_z = double(max) + std::log(row_sum_exp(raw, max, 1.0f, 0));
    result.logprob = float(double(logits[result.token]) - log_z);
    const size_t n_top = size_t(std::clamp<int64_t>(params_.top_logprobs, 0, n_vocab));
    result.top.reserve(n_top);
    for (const auto& c : top_) result.top.push_back({c.token, float(double(c.logit) - log_z)});
    // Only -inf or NaN logits are missing from top_: pad with them in token order.
    for (int32_t t = 0; result.top.size() < n_top && t < n_vocab; ++t) {
        if (!(logits[t] > -kInf)) result.top.push_back({t, float(double(logits[t]) - log_z)});
    }
}

}  // namespace citadel
