// AVX2 kernels for the legacy block types: one block (32 quants) per 256-bit vector.
//
// Per block and (row, token) pair: _0 types decode the weights to signed bytes (offset
// removed) and use the sign trick maddubs(|w|, sign(x, w)); _1 types keep the weights unsigned
// and use maddubs(w, x) directly, plus m * s. The int32 sums are scaled by dw * dx in float.
// Weights are decoded once per block and reused for every token of the tile.
#include <immintrin.h>

#include <cstring>

#include "tensor/blocks.h"
#include "tensor/kernels.h"
#include "tensor/kernels/stream_prefetch.h"

namespace citadel {
namespace {

constexpr int kQK = 32;

inline float half(uint16_t h) {
    return _cvtsh_ss(h);
}

// 16 bytes of nibbles -> 32 bytes: low nibbles (elements 0..15), then high (16..31).
inline __m256i unpack_nibbles(const uint8_t* qs) {
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    const __m128i low4 = _mm_set1_epi8(0x0F);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), low4), _mm_and_si128(q, low4));
}

// 0x10 in byte j where bit j of qh is set.
inline __m256i high_bits(const uint8_t* qh_bytes) {
    uint32_t qh;
    std::memcpy(&qh, qh_bytes, sizeof qh);
    const __m256i shuf = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                          2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32(int(qh)), shuf);
    const __m256i bits = _mm256_set1_epi64x(0x8040201008040201LL);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(v, bits), bits);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

struct Decoded {
    __m256i q;  // signed (offset types) or unsigned (min types) quants
    float d, m;
};

struct Q4_0 {
    using Block = BlockQ4_0;
    using Act = BlockQ8_0;
    static constexpr bool kMin = false;
    static Decoded decode(const Block& b) {
        return {_mm256_sub_epi8(unpack_nibbles(b.qs), _mm256_set1_epi8(8)), half(b.d), 0.0f};
    }
};
struct Q5_0 {
    using Block = BlockQ5_0;
    using Act = BlockQ8_0;
    static constexpr bool kMin = false;
    static Decoded decode(const Block& b) {
        const __m256i q = _mm256_or_si256(unpack_nibbles(b.qs), high_bits(b.qh));
        return {_mm256_sub_epi8(q, _mm256_set1_epi8(16)), half(b.d), 0.0f};
    }
};
struct Q8_0 {
    using Block = BlockQ8_0;
    using Act = BlockQ8_0;
    static constexpr bool kMin = false;
    static Decoded decode(const Block& b) {
        return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs)), half(b.d), 0.0f};
    }
};
struct Q4_1 {
    using Block = BlockQ4_1;
    using Act = BlockQ8_1;
    static constexpr bool kMin = true;
    static Decoded decode(const Block& b) { return {unpack_nibbles(b.qs), half(b.d), half(b.m)}; }
};
struct Q5_1 {
    using Block = BlockQ5_1;
    using Act = BlockQ8_1;
    static constexpr bool kMin = true;
    static Decoded decode(const Block& b) {
        return {_mm256_or_si256(unpack_nibbles(b.qs), high_bits(b.qh)), half(b.d), half(b.m)};
    }
};

// Sum of w[j] * x[j] in 8 int32 lanes; w signed (kMin false) or unsigned (kMin true).
template <bool kMin>
inline __m256i dot_bytes(__m256i w, __m256i x) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i p;
    if constexpr (kMin) {
        p = _mm256_maddubs_epi16(w, x);  // unsigned 0..31 times signed: no saturation
    } else {
        p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    }
    return _mm256_madd_epi16(p, ones);
}

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// R rows x T tokens over all blocks.
template <class Q, int R, int T>
void tile(int64_t n_blocks, const uint8_t* w, size_t w_row_bytes, const uint8_t* x,
          size_t x_row_bytes, float* out, size_t out_stride) {
    using Block = typename Q::Block;
    using Act = typename Q::Act;
    __m256 acc[R][T];
    float min_sum[R][T] = {};
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n_blocks; ++i) {
        Decoded wd[R];
        for (int r = 0; r < R; ++r) {
            const Block* b = reinterpret_cast<const Block*>(w + r * w_row_bytes) + i;
            if constexpr (R == 1) prefetch_stream(b);  // a row streamed on its own
            wd[r] = Q::decode(*b);
        }
        for (int t = 0; t < T; ++t) {
            const Act& a = reinterpret_cast<const Act*>(x + t * x_row_bytes)[i];
            const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
            const float dx = half(a.d);
            for (int r = 0; r < R; ++r) {
                const __m256 s = _mm256_cvtepi32_ps(dot_bytes<Q::kMin>(wd[r].q, xq));
                acc[r][t] = _mm256_fmadd_ps(s, _mm256_set1_ps(wd[r].d * dx), acc[r][t]);
                if constexpr (Q::kMin) min_sum[r][t] += wd[r].m * half(a.s);
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) out[t * out_stride + r] = hsum(acc[r][t]) + min_sum[r][t];
}

template <class Q, int R>
void rows_all_tokens(int64_t n_blocks, const uint8_t* w, size_t w_row_bytes, const uint8_t* x,
                     size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    int t = 0;
    for (; t + 2 <= n_tokens; t += 2) {
        tile<Q, R, 2>(n_blocks, w, w_row_bytes, x + t * x_row_bytes, x_row_bytes,
                      out + t * out_stride, out_stride);
    }
    if (t < n_tokens) {
        tile<Q, R, 1>(n_blocks, w, w_row_bytes, x + t * x_row_bytes, x_row_bytes,
                      out + t * out_stride, out_stride);
    }
}

constexpr int kStreamMaxTokens = 4;

template <class Q>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
          size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(x);
    const int64_t nb = n / kQK;
    int r = 0;
    // Few tokens (decoding): every row is read once, so rows go one at a time in memory order
    // (stream_prefetch.h); the arithmetic of a (row, token) pair is the same either way.
    if (n_tokens < kStreamMaxTokens) {
        for (; r < n_rows; ++r) {
            rows_all_tokens<Q, 1>(nb, wb + r * w_row_bytes, w_row_bytes, xb, x_row_bytes, n_tokens,
                                  out + r, out_stride);
        }
        return;
    }
    for (; r + 4 <= n_rows; r += 4) {
        rows_all_tokens<Q, 4>(nb, wb + r * w_row_bytes, w_row_bytes, xb, x_row_bytes, n_tokens,
                              out + r, out_stride);
    }
    for (; r < n_rows; ++r) {
        rows_all_tokens<Q, 1>(nb, wb + r * w_row_bytes, w_row_bytes, xb, x_row_bytes, n_tokens,
                              out + r, out_stride);
    }
}

}  // namespace

void register_legacy_avx2(KernelTable& t) {
    t[DType::Q4_0].gemm = gemm<Q4_0>;
    t[DType::Q4_1].gemm = gemm<Q4_1>;
    t[DType::Q5_0].gemm = gemm<Q5_0>;
    t[DType::Q5_1].gemm = gemm<Q5_1>;
    t[DType::Q8_0].gemm = gemm<Q8_0>;
}

}  // namespace citadel
