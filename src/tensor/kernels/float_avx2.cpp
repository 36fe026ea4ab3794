// AVX2 GEMM for F32 / F16 / BF16 weights with F32 activations: the AVX-512 scheme with 8 lanes
// (R rows x T tokens of accumulators, each weight vector converted once per step and reused
// for all T tokens); a row length that is not a multiple of 8 ends in a scalar tail.
#include <immintrin.h>

#include "core/fp16.h"
#include "tensor/kernels.h"

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

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

template <class L, int R, int T>
void tile(int64_t n, const uint8_t* wb, size_t w_row_bytes, const uint8_t* xb, size_t x_row_bytes,
          float* out, size_t out_stride) {
    const typename L::T* w[R];
    const float* x[T];
    for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const typename L::T*>(wb + r * w_row_bytes);
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const float*>(xb + t * x_row_bytes);
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        __m256 wv[R];
        for (int r = 0; r < R; ++r) wv[r] = L::load(w[r] + k);
        for (int t = 0; t < T; ++t) {
            const __m256 xv = _mm256_loadu_ps(x[t] + k);
            for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    for (int t = 0; t < T; ++t) {
        for (int r = 0; r < R; ++r) {
            float sum = hsum(acc[r][t]);
            for (int64_t j = k; j < n; ++j) sum += L::scalar(w[r][j]) * x[t][j];
            out[t * out_stride + r] = sum;
        }
    }
}

template <class L, int R>
void rows_all_tokens(int64_t n, const uint8_t* w, size_t w_row_bytes, const uint8_t* x,
                     size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    int t = 0;
    for (; t + 3 <= n_tokens; t += 3) {
        tile<L, R, 3>(n, w, w_row_bytes, x + t * x_row_bytes, x_row_bytes, out + t * out_stride,
                      out_stride);
    }
    const uint8_t* xt = x + t * x_row_bytes;
    float* ot = out + t * out_stride;
    if (n_tokens - t == 2) tile<L, R, 2>(n, w, w_row_bytes, xt, x_row_bytes, ot, out_stride);
    if (n_tokens - t == 1) tile<L, R, 1>(n, w, w_row_bytes, xt, x_row_bytes, ot, out_stride);
}

template <class L>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
          size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(x);
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

}  // namespace

void register_float_avx2(KernelTable& t) {
    t[DType::F32].gemm = gemm<F32Load>;
    t[DType::F16].gemm = gemm<F16Load>;
    t[DType::BF16].gemm = gemm<BF16Load>;
}

}  // namespace citadel
