// AVX-512 kernels for F32 / F16 / BF16 weights; activations are F32, F16 and BF16 respectively.
//
// A register-blocked tile of R weight rows x T tokens keeps R*T accumulators of 16 floats.
//  - F32 and F16 weights: each step converts 16 elements of every weight row to F32 once
//    (vcvtph2ps for F16) and reuses them for all T tokens in FMAs. F16 activations are widened
//    to F32 once per chunk into a per-thread buffer (exact), so the inner loop is the F32 one.
//  - BF16 weights: vdpbf16ps multiplies 32 BF16 weights by 32 BF16 activations and adds the
//    pairs of exact products to 16 F32 accumulators, as llama.cpp does on AVX512_BF16 CPUs;
//    without AVX512_BF16 the activations are widened like F16 ones.
// For many tokens the row length is cut into chunks so that the activations of a chunk stay
// in L2 while every row panel walks over them.
#include <immintrin.h>

#include <algorithm>
#include <vector>

#include "core/fp16.h"
#include "tensor/kernels.h"
#include "tensor/kernels/stream_prefetch.h"

namespace citadel {
namespace {

// Operands of one tile call: n elements of R weight rows and of T activation rows; the
// pointers already point at the chunk's first element.
struct TileArgs {
    const uint8_t* w;
    size_t w_row_bytes;
    const uint8_t* x;
    size_t x_row_bytes;
    int64_t n;
    float* out;
    size_t out_stride;
    bool accumulate;  // add to out instead of overwriting it
};

// The sums of four registers: lane i of the result is the sum of the lanes of v[i].
inline __m128 reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
    const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    // Per 128-bit lane: [a0+a2, b0+b2, c0+c2, d0+d2] + [a1+a3, b1+b3, c1+c3, d1+d3].
    const __m512 abcd = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                      _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
    const __m256 half =
        _mm256_add_ps(_mm512_castps512_ps256(abcd), _mm512_extractf32x8_ps(abcd, 1));
    return _mm_add_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1));
}

template <int R, int T>
void store(const TileArgs& a, __m512 (&acc)[R][T]) {
    if constexpr (R == 4) {
        for (int t = 0; t < T; ++t) {
            float* o = a.out + t * a.out_stride;
            __m128 v = reduce4(acc[0][t], acc[1][t], acc[2][t], acc[3][t]);
            if (a.accumulate) v = _mm_add_ps(v, _mm_loadu_ps(o));
            _mm_storeu_ps(o, v);
        }
        return;
    }
    // Fewer rows: the same order of additions for each (reduce4 of a row with itself).
    for (int t = 0; t < T; ++t) {
        for (int r = 0; r < R; ++r) {
            float* o = a.out + t * a.out_stride + r;
            const __m512 v4 = acc[r][t];
            const float v = _mm_cvtss_f32(reduce4(v4, v4, v4, v4));
            *o = a.accumulate ? *o + v : v;
        }
    }
}

// How to load 16 (or, masked, fewer) weights as F32.
struct F32Load {
    using T = float;
    static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
    static __m512 load_tail(const float* p, __mmask16 m) { return _mm512_maskz_loadu_ps(m, p); }
};
struct F16Load {
    using T = uint16_t;
    static __m512 load(const uint16_t* p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    static __m512 load_tail(const uint16_t* p, __mmask16 m) {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
    }
};
struct BF16Load {
    using T = uint16_t;
    static __m512 widen(__m256i h) {
        return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
    static __m512 load(const uint16_t* p) {
        return widen(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    static __m512 load_tail(const uint16_t* p, __mmask16 m) {
        return widen(_mm256_maskz_loadu_epi16(m, p));
    }
};

// Tile of weights L times F32 activations, with FMAs.
template <class L>
struct FmaTile {
    template <int R, int T>
    static void run(const TileArgs& a) {
        const typename L::T* w[R];
        const float* x[T];
        for (int r = 0; r < R; ++r) {
            w[r] = reinterpret_cast<const typename L::T*>(a.w + r * a.w_row_bytes);
        }
        for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const float*>(a.x + t * a.x_row_bytes);
        __m512 acc[R][T];
        for (int r = 0; r < R; ++r)
            for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
        int64_t k = 0;
        for (; k + 16 <= a.n; k += 16) {
            __m512 wv[R];
            for (int r = 0; r < R; ++r) wv[r] = L::load(w[r] + k);
            for (int t = 0; t < T; ++t) {
                const __m512 xv = _mm512_loadu_ps(x[t] + k);
                for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
            }
        }
        if (k < a.n) {
            const __mmask16 m = __mmask16(_bzhi_u32(~0u, unsigned(a.n - k)));
            __m512 wv[R];
            for (int r = 0; r < R; ++r) wv[r] = L::load_tail(w[r] + k, m);
            for (int t = 0; t < T; ++t) {
                const __m512 xv = _mm512_maskz_loadu_ps(m, x[t] + k);
                for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
            }
        }
        store(a, acc);
    }
};

inline __m512bh as_bf16x32(__m512i v) {
    return reinterpret_cast<__m512bh&>(v);
}

// Tile of BF16 weights times BF16 activations, with vdpbf16ps (32 elements a step). Masked
// tail loads zero both operands, so absent elements add 0 * 0.
struct Bf16DotTile {
    template <int R, int T>
    static void run(const TileArgs& a) {
        const uint16_t* w[R];
        const uint16_t* x[T];
        for (int r = 0; r < R; ++r)
            w[r] = reinterpret_cast<const uint16_t*>(a.w + r * a.w_row_bytes);
        for (int t = 0; t < T; ++t)
            x[t] = reinterpret_cast<const uint16_t*>(a.x + t * a.x_row_bytes);
        __m512 acc[R][T];
        for (int r = 0; r < R; ++r)
            for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
        int64_t k = 0;
        for (; k + 32 <= a.n; k += 32) {
            __m512bh wv[R];
            for (int r = 0; r < R; ++r) wv[r] = as_bf16x32(_mm512_loadu_si512(w[r] + k));
            for (int t = 0; t < T; ++t) {
                const __m512bh xv = as_bf16x32(_mm512_loadu_si512(x[t] + k));
                for (int r = 0; r < R; ++r) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv[r], xv);
            }
        }
        if (k < a.n) {
            const __mmask32 m = _bzhi_u32(~0u, unsigned(a.n - k));
            __m512bh wv[R];
            for (int r = 0; r < R; ++r) wv[r] = as_bf16x32(_mm512_maskz_loadu_epi16(m, w[r] + k));
            for (int t = 0; t < T; ++t) {
                const __m512bh xv = as_bf16x32(_mm512_maskz_loadu_epi16(m, x[t] + k));
                for (int r = 0; r < R; ++r) acc[r][t] = _mm512_dpbf16_ps(acc[r][t], wv[r], xv);
            }
        }
        store(a, acc);
    }
};

constexpr int kRows = 4;    // rows per register tile
constexpr int kTokens = 6;  // tokens per register tile

// One register tile of T tokens against every row of the chunk, in panels of kRows rows:
// the tokens' activations stay in L1 while the weights (half their size for 16-bit types)
// stream from L2.
template <class K, int T>
void rows_of_token_tile(TileArgs a, int n_rows) {
    for (int r0 = 0; r0 < n_rows; r0 += kRows) {
        switch (std::min(kRows, n_rows - r0)) {
            case 1:
                K::template run<1, T>(a);
                break;
            case 2:
                K::template run<2, T>(a);
                break;
            case 3:
                K::template run<3, T>(a);
                break;
            default:
                K::template run<4, T>(a);
                break;
        }
        a.w += kRows * a.w_row_bytes;
        a.out += kRows;
    }
}

// One token tile of nt <= kTokens tokens against every row of the chunk.
template <class K>
void token_tile(const TileArgs& a, int n_rows, int nt) {
    switch (nt) {
        case 1:
            return rows_of_token_tile<K, 1>(a, n_rows);
        case 2:
            return rows_of_token_tile<K, 2>(a, n_rows);
        case 3:
            return rows_of_token_tile<K, 3>(a, n_rows);
        case 4:
            return rows_of_token_tile<K, 4>(a, n_rows);
        case 5:
            return rows_of_token_tile<K, 5>(a, n_rows);
        default:
            return rows_of_token_tile<K, kTokens>(a, n_rows);
    }
}

// All rows and tokens of one chunk, token tile after token tile.
template <class K>
void chunk_all_rows(TileArgs a, int n_rows, int n_tokens) {
    for (int t = 0; t < n_tokens; t += kTokens) {
        token_tile<K>(a, n_rows, std::min(kTokens, n_tokens - t));
        a.x += kTokens * a.x_row_bytes;
        a.out += kTokens * a.out_stride;
    }
}

// Length of the chunks of the row length whose activations stay in L2 while every row panel
// walks over them (act_bytes per element and token, for a full tile of kChunkTokens tokens): a
// multiple of the step, balanced so the last chunk is not a sliver. It depends on n only, never
// on the number of tokens of the call: each chunk is summed on its own and added to the last,
// so the chunks decide the rounding, and a token must get the same bits decoded alone as in a
// batch (gemv_f16 sums in the same chunks).
int64_t chunk_length(int64_t n, int act_bytes) {
    constexpr int64_t kChunkBytes = 512 * 1024;
    constexpr int64_t kChunkTokens = 64;  // the matmul's token tile
    const int64_t chunk = std::max<int64_t>(256, kChunkBytes / (int64_t(act_bytes) * kChunkTokens));
    const int64_t n_chunks = (n + chunk - 1) / chunk;
    return (n / n_chunks + 31) / 32 * 32;
}

// GEMM whose activations go to the tile as they are (F32 for F32, BF16 for vdpbf16ps).
template <class K, class W, class X>
void gemm_direct(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
                 size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    const int64_t chunk = chunk_length(n, sizeof(X));
    for (int64_t k0 = 0; k0 < n; k0 += chunk) {
        const TileArgs a{static_cast<const uint8_t*>(w) + k0 * sizeof(W),
                         w_row_bytes,
                         static_cast<const uint8_t*>(x) + k0 * sizeof(X),
                         x_row_bytes,
                         std::min(chunk, n - k0),
                         out,
                         out_stride,
                         k0 > 0};
        chunk_all_rows<K>(a, n_rows, n_tokens);
    }
}

// Widens elements [k0, k0 + len) of nt activation rows of a 16-bit type L to F32 (exactly).
template <class L>
void widen_rows(const uint8_t* x, size_t x_row_bytes, int nt, int64_t k0, int64_t len, float* dst,
                int64_t stride) {
    for (int t = 0; t < nt; ++t) {
        const auto* src = reinterpret_cast<const uint16_t*>(x + t * x_row_bytes) + k0;
        float* d = dst + t * stride;
        int64_t k = 0;
        for (; k + 16 <= len; k += 16) _mm512_storeu_ps(d + k, L::load(src + k));
        if (k < len) {
            const __mmask16 m = __mmask16(_bzhi_u32(~0u, unsigned(len - k)));
            _mm512_mask_storeu_ps(d + k, m, L::load_tail(src + k, m));
        }
    }
}

// GEMM of L weights and activations of the same 16-bit type: the activations of each token
// tile are widened to F32 (exactly) into a small per-thread buffer just before the tile's
// panels read them (it stays in L1; widening a whole task's tokens at once wrote a buffer
// larger than L1 and cost ~4 % of an F16 prompt), then multiplied with FMAs. Buffer rows are
// padded by 16 floats so that the tile's rows do not share L1 sets.
template <class L>
void gemm_widened(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
                  size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    thread_local std::vector<float> wide;  // [kTokens][stride]
    const int64_t chunk = chunk_length(n, 2 * sizeof(float));
    const int64_t stride = chunk + 16;
    if (wide.size() < size_t(stride * kTokens)) wide.resize(size_t(stride * kTokens));
    const auto* xb = static_cast<const uint8_t*>(x);
    for (int64_t k0 = 0; k0 < n; k0 += chunk) {
        const int64_t len = std::min(chunk, n - k0);
        TileArgs a{static_cast<const uint8_t*>(w) + k0 * sizeof(uint16_t),
                   w_row_bytes,
                   reinterpret_cast<const uint8_t*>(wide.data()),
                   size_t(stride) * sizeof(float),
                   len,
                   out,
                   out_stride,
                   k0 > 0};
        for (int t = 0; t < n_tokens; t += kTokens) {
            const int nt = std::min(kTokens, n_tokens - t);
            widen_rows<L>(xb + t * x_row_bytes, x_row_bytes, nt, k0, len, wide.data(), stride);
            a.out = out + t * out_stride;
            token_tile<FmaTile<L>>(a, n_rows, nt);
        }
    }
}

// One row's dot with x over elements [k0, end) in the prompt tile's lanes and steps.
inline __m512 dot_f16_chunk(const uint16_t* w, const float* x, int64_t k0, int64_t end) {
    __m512 acc = _mm512_setzero_ps();
    int64_t i = k0;
    for (; i + 16 <= end; i += 16) {
        if (i % 32 == 0) prefetch_stream(w + i);  // 32 elements: one line
        acc = _mm512_fmadd_ps(F16Load::load(w + i), _mm512_loadu_ps(x + i), acc);
    }
    if (i < end) {
        const __mmask16 tail = __mmask16(_bzhi_u32(~0u, unsigned(end - i)));
        acc = _mm512_fmadd_ps(F16Load::load_tail(w + i, tail), _mm512_maskz_loadu_ps(tail, x + i),
                              acc);
    }
    return acc;
}

// One token (decoding) with F16 weights: the activation row is widened to F32 once, and the
// rows are streamed one at a time in memory order (stream_prefetch.h). Each row is summed in
// the prompt tile's chunks and order (store(): lane 0 of reduce4 depends on its own row only),
// so a token decodes the same alone or in a batch.
void gemv_f16(int64_t n, const uint8_t* w, size_t w_row_bytes, int n_rows, const uint16_t* x,
              float* out) {
    thread_local std::vector<float> xf;
    xf.resize(size_t(n) + 16);
    widen_rows<F16Load>(reinterpret_cast<const uint8_t*>(x), 0, 1, 0, n, xf.data(), 0);
    const int64_t chunk = chunk_length(n, 2 * sizeof(float));
    prefetch_stream_start(w, size_t(n_rows) * w_row_bytes);
    for (int r = 0; r < n_rows; ++r) {
        const auto* row = reinterpret_cast<const uint16_t*>(w + size_t(r) * w_row_bytes);
        float sum = 0.0f;
        for (int64_t k0 = 0; k0 < n; k0 += chunk) {
            const __m512 acc = dot_f16_chunk(row, xf.data(), k0, std::min(n, k0 + chunk));
            const float part = _mm_cvtss_f32(reduce4(acc, acc, acc, acc));
            sum = k0 == 0 ? part : part + sum;
        }
        out[r] = sum;
    }
}

void gemm_f16(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
              size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    if (n_tokens == 1) {
        gemv_f16(n, static_cast<const uint8_t*>(w), w_row_bytes, n_rows,
                 static_cast<const uint16_t*>(x), out);
        return;
    }
    gemm_widened<F16Load>(n, w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, out, out_stride);
}

// F32 -> F16 with round to nearest even, bit for bit fp32_to_fp16: vcvtps2ph keeps the top of
// a NaN's payload, which the scalar conversion drops (it makes every NaN sign | 0x7e00).
inline __m256i f32_to_f16x16(__m512 v) {
    const __m256i h = _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
    const __mmask16 is_nan = _mm256_cmpgt_epi16_mask(_mm256_and_si256(h, _mm256_set1_epi16(0x7fff)),
                                                     _mm256_set1_epi16(0x7c00));
    return _mm256_mask_blend_epi16(is_nan, h,
                                   _mm256_and_si256(h, _mm256_set1_epi16(int16_t(0xfe00))));
}

void quantize_f16(const float* src, void* dst, int64_t n) {
    auto* d = static_cast<uint16_t*>(dst);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i),
                            f32_to_f16x16(_mm512_loadu_ps(src + i)));
    }
    if (i < n) {
        const __mmask16 m = __mmask16(_bzhi_u32(~0u, unsigned(n - i)));
        _mm256_mask_storeu_epi16(d + i, m, f32_to_f16x16(_mm512_maskz_loadu_ps(m, src + i)));
    }
}

// F32 -> BF16 as fp32_to_bf16 does it (vcvtneps2bf16 would flush subnormals to zero): round
// to nearest even by adding 0x7fff plus the lowest kept bit; a NaN keeps its top bits, quiet.
inline __m256i f32_to_bf16x16(__m512 v) {
    const __m512i x = _mm512_castps_si512(v);
    const __m512i high = _mm512_srli_epi32(x, 16);
    const __m512i bias =
        _mm512_add_epi32(_mm512_and_si512(high, _mm512_set1_epi32(1)), _mm512_set1_epi32(0x7fff));
    const __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(x, bias), 16);
    const __m512i quiet = _mm512_or_si512(high, _mm512_set1_epi32(0x40));
    const __m512i abs = _mm512_and_si512(x, _mm512_set1_epi32(0x7fffffff));
    const __mmask16 is_nan = _mm512_cmpgt_epi32_mask(abs, _mm512_set1_epi32(0x7f800000));
    return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(is_nan, rounded, quiet));
}

void quantize_bf16(const float* src, void* dst, int64_t n) {
    auto* d = static_cast<uint16_t*>(dst);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + i),
                            f32_to_bf16x16(_mm512_loadu_ps(src + i)));
    }
    if (i < n) {
        const __mmask16 m = __mmask16(_bzhi_u32(~0u, unsigned(n - i)));
        _mm256_mask_storeu_epi16(d + i, m, f32_to_bf16x16(_mm512_maskz_loadu_ps(m, src + i)));
    }
}

}  // namespace

void register_float_avx512(KernelTable& t) {
    t[DType::F32].gemm = gemm_direct<FmaTile<F32Load>, float, float>;
    t[DType::F16].quantize_row = quantize_f16;
    t[DType::F16].gemm = gemm_f16;
    t[DType::BF16].quantize_row = quantize_bf16;
    // vdpbf16ps needs AVX512_BF16, which the AVX-512 table does not otherwise require.
    t[DType::BF16].gemm = __builtin_cpu_supports("avx512bf16")
                              ? gemm_direct<Bf16DotTile, uint16_t, uint16_t>
                              : gemm_widened<BF16Load>;
}

}  // namespace citadel
