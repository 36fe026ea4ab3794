// AVX2 kernels for F32 / F16 / BF16 weights. Activations are F32, F16 and BF16 respectively.
//
// GEMM: R rows x T tokens of 8-lane F32 accumulators per chunk of the row; each step converts
// 8 elements of every weight row to F32 once and reuses them for all T tokens. F16 / BF16
// activations are widened to F32 once per call, into a per-thread buffer, so the inner loop
// converts only weights; widening is exact, so this equals the product of the two narrow values. A
// row length that is not a multiple of 8 ends in a scalar tail.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "core/fp16.h"
#include "tensor/kernels.h"
#include "tensor/kernels/reduce_avx2.h"
#include "tensor/kernels/stream_prefetch.h"

namespace citadel {
namespace {

struct F32Load {
    using T = float;
    static __m256 load(const float* p) { return _mm256_loadu_ps(p); }
    static float scalar(float v) { return v; }
};
struct F16Load {
    using T = uint16_t;
    static __m256 load(const uint16_t* p) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    static float scalar(uint16_t v) { return fp16_to_fp32(v); }
};
struct BF16Load {
    using T = uint16_t;
    static __m256 load(const uint16_t* p) {
        const __m256i v =
            _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
    }
    static float scalar(uint16_t v) { return bf16_to_fp32(v); }
};

// The arithmetic of a (row, token) product: the row's first n8 = n / 8 * 8 elements are cut
// into chunks of kChunk; each chunk sums into 8 float lanes (one FMA per 8 elements, in order),
// the chunks' lanes are added in chunk order, then the 8 lanes (hsum) and a scalar tail. The
// prompt tile and the row-by-row decoder below both do exactly that (batch invariance); the
// chunks let the decoder run independent FMA chains within one row, so it reads rows one at a
// time in memory order.
constexpr int64_t kChunk = 256;

inline float finish(__m256 total, const float* x, int64_t n8, int64_t n, auto w_scalar) {
    float sum = hsum8(total);
    for (int64_t j = n8; j < n; ++j) sum += w_scalar(j) * x[j];
    return sum;
}

// Prompt tile: R rows x T tokens; x holds F32 activations.
template <class L, int R, int T>
void tile(int64_t n, const uint8_t* wb, size_t w_row_bytes, const uint8_t* xb, size_t x_row_bytes,
          float* out, size_t out_stride) {
    const typename L::T* w[R];
    const float* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const typename L::T*>(wb + r * w_row_bytes);
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const float*>(xb + t * x_row_bytes);
    __m256 total[R][T];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) total[r][t] = _mm256_setzero_ps();
    const int64_t n8 = n / 8 * 8;
    for (int64_t c0 = 0; c0 < n8; c0 += kChunk) {
        const int64_t c1 = std::min(n8, c0 + kChunk);
        __m256 acc[R][T];
        for (int r = 0; r < R; ++r)
            for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
        for (int64_t k = c0; k < c1; k += 8) {
            __m256 wv[R];
            for (int r = 0; r < R; ++r) wv[r] = L::load(w[r] + k);
            for (int t = 0; t < T; ++t) {
                const __m256 xv = _mm256_loadu_ps(x[t] + k);
                for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
            }
        }
        for (int r = 0; r < R; ++r)
            for (int t = 0; t < T; ++t) total[r][t] = _mm256_add_ps(total[r][t], acc[r][t]);
    }
    for (int t = 0; t < T; ++t) {
        for (int r = 0; r < R; ++r) {
            out[t * out_stride + r] =
                finish(total[r][t], x[t], n8, n, [&](int64_t j) { return L::scalar(w[r][j]); });
        }
    }
}

// G consecutive chunks of one row from element k0, as G interleaved FMA chains, prefetching
// the row's stream.
template <class L, int G>
inline void chunk_group(const typename L::T* w, const float* x, int64_t k0, int64_t len,
                        __m256& total) {
    constexpr int64_t kPerLine = 64 / sizeof(typename L::T);
    __m256 acc[G];
    for (int g = 0; g < G; ++g) acc[g] = _mm256_setzero_ps();
    for (int64_t s = 0; s < len; s += 8) {
        for (int g = 0; g < G; ++g) {
            const int64_t k = k0 + g * kChunk + s;
            if (s % kPerLine == 0) prefetch_stream(w + k);
            acc[g] = _mm256_fmadd_ps(L::load(w + k), _mm256_loadu_ps(x + k), acc[g]);
        }
    }
    for (int g = 0; g < G; ++g) total = _mm256_add_ps(total, acc[g]);
}

// One row against one token (decoding): up to 4 chunks at a time.
template <class L>
float row_decode(const typename L::T* w, const float* x, int64_t n) {
    const int64_t n8 = n / 8 * 8, full = n8 / kChunk;
    __m256 total = _mm256_setzero_ps();
    int64_t c = 0;
    for (; c + 4 <= full; c += 4) chunk_group<L, 4>(w, x, c * kChunk, kChunk, total);
    switch (full - c) {
        case 3:
            chunk_group<L, 3>(w, x, c * kChunk, kChunk, total);
            break;
        case 2:
            chunk_group<L, 2>(w, x, c * kChunk, kChunk, total);
            break;
        case 1:
            chunk_group<L, 1>(w, x, c * kChunk, kChunk, total);
            break;
        default:
            break;
    }
    if (full * kChunk < n8) chunk_group<L, 1>(w, x, full * kChunk, n8 - full * kChunk, total);
    return finish(total, x, n8, n, [&](int64_t j) { return L::scalar(w[j]); });
}

template <class L, int R>
void rows_all_tokens(int64_t n, const uint8_t* w, size_t w_row_bytes, const uint8_t* x,
                     size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    // 3 rows x 4 tokens: 12 accumulators (3 x 3 measured ~5 % slower on 64-token tiles).
    int t = 0;
    for (; t + 4 <= n_tokens; t += 4) {
        tile<L, R, 4>(n, w, w_row_bytes, x + t * x_row_bytes, x_row_bytes, out + t * out_stride,
                      out_stride);
    }
    const uint8_t* xt = x + t * x_row_bytes;
    float* ot = out + t * out_stride;
    if (n_tokens - t == 3) tile<L, R, 3>(n, w, w_row_bytes, xt, x_row_bytes, ot, out_stride);
    if (n_tokens - t == 2) tile<L, R, 2>(n, w, w_row_bytes, xt, x_row_bytes, ot, out_stride);
    if (n_tokens - t == 1) tile<L, R, 1>(n, w, w_row_bytes, xt, x_row_bytes, ot, out_stride);
}

constexpr int kStreamMaxTokens = 4;

// GEMM with F32 activations. Few tokens (decoding): rows one at a time in memory order
// (stream_prefetch.h), each token in turn; prompts: 3-row tiles.
template <class L>
void gemm_f32_act(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
                  size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(x);
    if (n_tokens < kStreamMaxTokens) {
        prefetch_stream_start(wb, size_t(n_rows) * w_row_bytes);
        for (int r = 0; r < n_rows; ++r) {
            const auto* row = reinterpret_cast<const typename L::T*>(wb + r * w_row_bytes);
            for (int t = 0; t < n_tokens; ++t) {
                out[t * out_stride + r] =
                    row_decode<L>(row, reinterpret_cast<const float*>(xb + t * x_row_bytes), n);
            }
        }
        return;
    }
    int r = 0;
    for (; r + 3 <= n_rows; r += 3) {
        rows_all_tokens<L, 3>(n, wb + r * w_row_bytes, w_row_bytes, xb, x_row_bytes, n_tokens,
                              out + r, out_stride);
    }
    for (; r < n_rows; ++r) {
        rows_all_tokens<L, 1>(n, wb + r * w_row_bytes, w_row_bytes, xb, x_row_bytes, n_tokens,
                              out + r, out_stride);
    }
}

// GEMM with activations of the weight type L: widen them to F32 (exactly), then multiply.
template <class L>
void gemm_narrow_act(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
                     size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    thread_local std::vector<float> wide;  // [n_tokens][stride]
    const int64_t stride = (n + 15) / 16 * 16;
    if (wide.size() < size_t(stride * n_tokens)) wide.resize(size_t(stride * n_tokens));
    for (int t = 0; t < n_tokens; ++t) {
        const auto* src =
            reinterpret_cast<const uint16_t*>(static_cast<const uint8_t*>(x) + t * x_row_bytes);
        float* dst = wide.data() + t * stride;
        int64_t k = 0;
        for (; k + 8 <= n; k += 8) _mm256_storeu_ps(dst + k, L::load(src + k));
        for (; k < n; ++k) dst[k] = L::scalar(src[k]);
    }
    gemm_f32_act<L>(n, w, w_row_bytes, n_rows, wide.data(), size_t(stride) * sizeof(float),
                    n_tokens, out, out_stride);
}

// F32 -> F16 with round to nearest even, bit for bit fp32_to_fp16: vcvtps2ph keeps the top of
// a NaN's payload, which the scalar conversion drops (it makes every NaN sign | 0x7e00).
inline __m128i f32_to_f16x8(__m256 v) {
    const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
    const __m128i is_nan =
        _mm_cmpgt_epi16(_mm_and_si128(h, _mm_set1_epi16(0x7fff)), _mm_set1_epi16(0x7c00));
    return _mm_andnot_si128(_mm_and_si128(is_nan, _mm_set1_epi16(0x01ff)), h);
}

void quantize_f16(const float* src, void* dst, int64_t n) {
    auto* d = static_cast<uint16_t*>(dst);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(d + i), f32_to_f16x8(_mm256_loadu_ps(src + i)));
    }
    for (; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
}

// F32 -> BF16 as fp32_to_bf16 does it, in 32-bit lanes: round to nearest even by adding
// 0x7fff plus the lowest kept bit; a NaN keeps its top bits and becomes quiet.
inline __m256i f32_to_bf16x8_lanes(__m256i x) {
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    const __m256i bias = _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7fff));
    const __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(x, bias), 16);
    const __m256i quiet = _mm256_or_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(0x40));
    const __m256i abs = _mm256_and_si256(x, _mm256_set1_epi32(0x7fffffff));
    const __m256i is_nan = _mm256_cmpgt_epi32(abs, _mm256_set1_epi32(0x7f800000));
    return _mm256_blendv_epi8(rounded, quiet, is_nan);
}

void quantize_bf16(const float* src, void* dst, int64_t n) {
    auto* d = static_cast<uint16_t*>(dst);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i lo = f32_to_bf16x8_lanes(_mm256_castps_si256(_mm256_loadu_ps(src + i)));
        const __m256i hi = f32_to_bf16x8_lanes(_mm256_castps_si256(_mm256_loadu_ps(src + i + 8)));
        // packus works per 128-bit lane: [lo0 hi0 lo1 hi1] -> [lo0 lo1 hi0 hi1].
        const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(lo, hi), 0xd8);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i), packed);
    }
    for (; i < n; ++i) d[i] = fp32_to_bf16(src[i]);
}

}  // namespace

void register_float_avx2(KernelTable& t) {
    t[DType::F32].gemm = gemm_f32_act<F32Load>;
    t[DType::F16].quantize_row = quantize_f16;
    t[DType::F16].gemm = gemm_narrow_act<F16Load>;
    t[DType::BF16].quantize_row = quantize_bf16;
    t[DType::BF16].gemm = gemm_narrow_act<BF16Load>;
}

}  // namespace citadel
