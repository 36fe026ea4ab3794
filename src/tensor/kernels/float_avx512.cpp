// AVX-512 GEMM for F32 / F16 / BF16 weights with F32 activations.
//
// A register-blocked tile of R weight rows x T tokens keeps R*T accumulators of 16 floats; each
// step converts 16 elements of every weight row to F32 once (vcvtph2ps, or a shift for BF16)
// and reuses them for all T tokens. For many tokens the row length is cut into chunks so that
// the activations of a chunk stay in L2 while every row panel walks over them.
#include <immintrin.h>

#include <algorithm>

#include "tensor/kernels.h"

namespace citadel {
namespace {

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

// Operands of one tile call: elements [k0, k1) of R rows and T tokens.
struct TileArgs {
    const uint8_t* w;
    size_t w_row_bytes;
    const uint8_t* x;
    size_t x_row_bytes;
    int64_t k0, k1;
    float* out;
    size_t out_stride;
    bool accumulate;  // add to out instead of overwriting it
};

template <class L, int R, int T>
void tile(const TileArgs& a) {
    const typename L::T* w[R];
    const float* x[T];
    for (int r = 0; r < R; ++r) {
        w[r] = reinterpret_cast<const typename L::T*>(a.w + r * a.w_row_bytes);
    }
    for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const float*>(a.x + t * a.x_row_bytes);
    __m512 acc[R][T];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
    int64_t k = a.k0;
    for (; k + 16 <= a.k1; k += 16) {
        __m512 wv[R];
        for (int r = 0; r < R; ++r) wv[r] = L::load(w[r] + k);
        for (int t = 0; t < T; ++t) {
            const __m512 xv = _mm512_loadu_ps(x[t] + k);
            for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    if (k < a.k1) {
        const __mmask16 m = __mmask16((1u << (a.k1 - k)) - 1);
        __m512 wv[R];
        for (int r = 0; r < R; ++r) wv[r] = L::load_tail(w[r] + k, m);
        for (int t = 0; t < T; ++t) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, x[t] + k);
            for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    for (int t = 0; t < T; ++t) {
        for (int r = 0; r < R; ++r) {
            float* o = a.out + t * a.out_stride + r;
            const float v = _mm512_reduce_add_ps(acc[r][t]);
            *o = a.accumulate ? *o + v : v;
        }
    }
}

constexpr int kRows = 4;    // rows per register tile
constexpr int kTokens = 6;  // tokens per register tile

// All tokens of one panel of R rows, in register tiles of kTokens.
template <class L, int R>
void panel(TileArgs a, int n_tokens) {
    int t = 0;
    for (; t + kTokens <= n_tokens; t += kTokens) {
        tile<L, R, kTokens>(a);
        a.x += kTokens * a.x_row_bytes;
        a.out += kTokens * a.out_stride;
    }
    switch (n_tokens - t) {
        case 1:
            tile<L, R, 1>(a);
            break;
        case 2:
            tile<L, R, 2>(a);
            break;
        case 3:
            tile<L, R, 3>(a);
            break;
        case 4:
            tile<L, R, 4>(a);
            break;
        case 5:
            tile<L, R, 5>(a);
            break;
        default:
            break;
    }
}

template <class L>
void panel_rows(const TileArgs& a, int rows, int n_tokens) {
    switch (rows) {
        case 1:
            panel<L, 1>(a, n_tokens);
            break;
        case 2:
            panel<L, 2>(a, n_tokens);
            break;
        case 3:
            panel<L, 3>(a, n_tokens);
            break;
        default:
            panel<L, 4>(a, n_tokens);
            break;
    }
}

// Chunk of the row length whose activations (all tokens) stay in L2.
constexpr int64_t kChunkBytes = 512 * 1024;

template <class L>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
          size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    int64_t chunk = kChunkBytes / (int64_t(sizeof(float)) * n_tokens);
    chunk = std::max<int64_t>(256, chunk / 16 * 16);
    const int64_t n_chunks = (n + chunk - 1) / chunk;
    chunk = (n / n_chunks + 15) / 16 * 16;  // balanced chunks
    for (int64_t k0 = 0; k0 < n; k0 += chunk) {
        for (int r0 = 0; r0 < n_rows; r0 += kRows) {
            TileArgs a{static_cast<const uint8_t*>(w) + r0 * w_row_bytes,
                       w_row_bytes,
                       static_cast<const uint8_t*>(x),
                       x_row_bytes,
                       k0,
                       std::min(n, k0 + chunk),
                       out + r0,
                       out_stride,
                       k0 > 0};
            panel_rows<L>(a, std::min(kRows, n_rows - r0), n_tokens);
        }
    }
}

}  // namespace

void register_float_avx512(KernelTable& t) {
    t[DType::F32].gemm = gemm<F32Load>;
    t[DType::F16].gemm = gemm<F16Load>;
    t[DType::BF16].gemm = gemm<BF16Load>;
}

}  // namespace citadel
