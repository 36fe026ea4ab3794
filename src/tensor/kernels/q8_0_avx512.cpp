// Q8_0 x Q8_0 GEMM for AVX-512 VNNI with llama.cpp's rounding to the bit (see the scalar
// dot_row_q8_0): every output keeps eight float lanes, lane j accumulating
// fma(d_w * d_x, sum of the products of bytes 4j..4j+3) block after block, and the lanes
// are summed as hsum_float_8 does. Prompting, two tokens of one row share a 16-lane register,
// so each block costs one VNNI dot, one conversion, one multiply and one FMA per pair of
// outputs; decoding, two blocks of one row share it and the row is read in memory order.
//
// VNNI multiplies unsigned by signed bytes: weights are made unsigned by flipping their sign
// bit (w + 128), and the dot starts from -128 * (sum of the four activations) to cancel it.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "tensor/blocks.h"
#include "tensor/kernels.h"
#include "tensor/kernels/stream_prefetch.h"

namespace citadel {
namespace {

constexpr int kQK = kQK8_0;

// Activations of two tokens for one block: both tokens' bytes side by side, the VNNI start
// values (-128 x lane sums) and the activation scales, each spread over its 8 lanes.
struct PairBlock {
    __m512i x;
    __m512i start;
    __m512 dx;
};

// -offset * sum of each group of four bytes of a 32-byte block, as 8 int32 lanes.
__m256i vnni_start(const int8_t* qs, int offset = 128) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs));
    const __m256i sums = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), x);
    return _mm256_mullo_epi32(sums, _mm256_set1_epi32(-offset));
}

__m512i join(__m256i lo, __m256i hi) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

// F16 scale to float with F16C (exact, as fp16_to_fp32).
inline float h2f(f16_t d) {
    return _cvtsh_ss(d);
}

// [a x 8 | b x 8] as floats.
__m512 broadcast_d_pair(f16_t a, f16_t b) {
    const __m256i h = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(short(a))),
                                              _mm_set1_epi16(short(b)), 1);
    return _mm512_cvtph_ps(h);
}

// Token t and t2 (t2 may repeat t for an odd tail) of every block, packed for the kernel.
void pack_pair(const BlockQ8_0* a, const BlockQ8_0* b, int64_t nb, PairBlock* out) {
    for (int64_t i = 0; i < nb; ++i) {
        const __m256i xa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs));
        const __m256i xb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[i].qs));
        out[i].x = join(xa, xb);
        out[i].start = join(vnni_start(a[i].qs), vnni_start(b[i].qs));
        out[i].dx = broadcast_d_pair(a[i].d, b[i].d);
    }
}

// hsum_float_8 of each 8-lane half: (l + h)[0..3] -> (0 + 2) + (1 + 3).
void store_halves(__m512 acc, float* lo, float* hi) {
    const __m256 halves[2] = {_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1)};
    float* dst[2] = {lo, hi};
    for (int h = 0; h < 2; ++h) {
        if (dst[h] == nullptr) continue;
        __m128 s =
            _mm_add_ps(_mm256_extractf128_ps(halves[h], 1), _mm256_castps256_ps128(halves[h]));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        *dst[h] = _mm_cvtss_f32(s);
    }
}

// kRows rows x kPairs token pairs over all blocks. A non-zero `prefetch` fetches the
// weights that many bytes further on (the next group of rows) while this one computes.
template <int kRows, int kPairs>
void tile_tokens(int64_t nb, const BlockQ8_0* const* w, const PairBlock* const* x, __m512* acc,
                 size_t prefetch = 0) {
    const __m512i flip = _mm512_set1_epi8(char(0x80));
    for (int k = 0; k < kRows * kPairs; ++k) acc[k] = _mm512_setzero_ps();
    for (int64_t i = 0; i < nb; ++i) {
        for (int r = 0; r < kRows; ++r) {
            if (prefetch) {
                _mm_prefetch(reinterpret_cast<const char*>(&w[r][i]) + prefetch, _MM_HINT_T0);
            }
            const __m256i wq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[r][i].qs));
            const __m512i wu = _mm512_xor_si512(_mm512_broadcast_i64x4(wq), flip);
            const __m512 dw = _mm512_set1_ps(h2f(w[r][i].d));
            for (int p = 0; p < kPairs; ++p) {
                const PairBlock& xb = x[p][i];
                const __m512i dot = _mm512_dpbusd_epi32(xb.start, wu, xb.x);
                const __m512 d = _mm512_mul_ps(dw, xb.dx);
                acc[r * kPairs + p] =
                    _mm512_fmadd_ps(d, _mm512_cvtepi32_ps(dot), acc[r * kPairs + p]);
            }
        }
    }
}

// Prompt processing: tokens in pairs, tiles of up to 4 rows x 3 pairs.
void gemm_tokens(int64_t n, const uint8_t* w, size_t w_row_bytes, int n_rows, const uint8_t* x,
                 size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    const int64_t nb = n / kQK;
    const int n_pairs = (n_tokens + 1) / 2;
    thread_local std::vector<PairBlock> packed;
    packed.resize(size_t(n_pairs * nb));
    for (int p = 0; p < n_pairs; ++p) {
        const int t0 = 2 * p, t1 = std::min(2 * p + 1, n_tokens - 1);
        pack_pair(reinterpret_cast<const BlockQ8_0*>(x + size_t(t0) * x_row_bytes),
                  reinterpret_cast<const BlockQ8_0*>(x + size_t(t1) * x_row_bytes), nb,
                  &packed[size_t(p * nb)]);
    }
    auto row = [&](int r) {
        return reinterpret_cast<const BlockQ8_0*>(w + size_t(r) * w_row_bytes);
    };
    for (int r0 = 0; r0 < n_rows; r0 += 4) {
        const int rows = std::min(4, n_rows - r0);
        for (int p0 = 0; p0 < n_pairs; p0 += 3) {
            const int pairs = std::min(3, n_pairs - p0);
            const BlockQ8_0* wr[4];
            const PairBlock* xp[3];
            for (int r = 0; r < rows; ++r) wr[r] = row(r0 + r);
            for (int p = 0; p < pairs; ++p) xp[p] = &packed[size_t((p0 + p) * nb)];
            __m512 acc[12];
            // Few tokens reuse a group of rows only a few times: fetch the next group early.
            const size_t prefetch = p0 == 0 && r0 + 8 <= n_rows ? 4 * w_row_bytes : 0;
            if (rows == 4 && pairs == 3) {
                tile_tokens<4, 3>(nb, wr, xp, acc, prefetch);
            } else if (rows == 4) {
                // A short last column of pairs (e.g. 16 decoding sequences = 8 pairs).
                __m512 part[8];
                if (pairs == 2) {
                    tile_tokens<4, 2>(nb, wr, xp, part, prefetch);
                } else {
                    tile_tokens<4, 1>(nb, wr, xp, part, prefetch);
                }
                for (int r = 0; r < 4; ++r) {
                    for (int p = 0; p < pairs; ++p) acc[r * 3 + p] = part[r * pairs + p];
                }
            } else {
                // Edge tiles one row and one pair at a time (same arithmetic per output).
                for (int r = 0; r < rows; ++r) {
                    for (int p = 0; p < pairs; ++p) {
                        tile_tokens<1, 1>(nb, &wr[r], &xp[p], &acc[r * 3 + p]);
                    }
                }
            }
            for (int r = 0; r < rows; ++r) {
                for (int p = 0; p < pairs; ++p) {
                    const int t0 = 2 * (p0 + p), t1 = t0 + 1;
                    store_halves(
                        acc[r * 3 + p], &out[size_t(t0) * out_stride + size_t(r0 + r)],
                        t1 < n_tokens ? &out[size_t(t1) * out_stride + size_t(r0 + r)] : nullptr);
                }
            }
        }
    }
}

// Decoding: one token, one row at a time in memory order (see stream_prefetch.h). Two blocks of the
// row share a register for the dot; their scaled sums are then added to the row's 8 lanes one block
// after the other, as the batch kernel adds them, so the result is the same bits.
struct TokenPair {  // blocks 2p and 2p + 1 of the token (a missing second block is zero)
    __m512i x;
    __m512i start;
    __m512 dx;
};

void pack_token(const BlockQ8_0* x, int64_t nb, TokenPair* out) {
    for (int64_t p = 0; 2 * p < nb; ++p) {
        const BlockQ8_0& a = x[2 * p];
        const bool second = 2 * p + 1 < nb;
        const BlockQ8_0& b = second ? x[2 * p + 1] : a;
        const __m256i xa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
        const __m256i xb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qs));
        out[p].x = join(xa, xb);
        out[p].start = join(vnni_start(a.qs), vnni_start(b.qs));
        out[p].dx = broadcast_d_pair(a.d, b.d);
    }
}

// Row r's dot with the token, summed as store_halves sums one half.
inline float dot_row(const BlockQ8_0* w, int64_t nb, const TokenPair* x) {
    const __m512i flip = _mm512_set1_epi8(char(0x80));
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2) {
        const TokenPair& t = x[i / 2];
        prefetch_stream(&w[i]);  // two blocks are 68 bytes: about one prefetch per line
        const __m512i wq = join(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qs)),
                                _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i + 1].qs)));
        const __m512i dot = _mm512_dpbusd_epi32(t.start, _mm512_xor_si512(wq, flip), t.x);
        const __m512 d = _mm512_mul_ps(broadcast_d_pair(w[i].d, w[i + 1].d), t.dx);
        const __m512 c = _mm512_cvtepi32_ps(dot);
        acc = _mm256_fmadd_ps(_mm512_castps512_ps256(d), _mm512_castps512_ps256(c), acc);
        acc = _mm256_fmadd_ps(_mm512_extractf32x8_ps(d, 1), _mm512_extractf32x8_ps(c, 1), acc);
    }
    if (i < nb) {  // odd block count: the last block alone
        const TokenPair& t = x[i / 2];
        const __m256i wq =
            _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w[i].qs)),
                             _mm256_set1_epi8(char(0x80)));
        const __m256i dot =
            _mm256_dpbusd_epi32(_mm512_castsi512_si256(t.start), wq, _mm512_castsi512_si256(t.x));
        const __m256 d = _mm256_mul_ps(_mm256_set1_ps(h2f(w[i].d)), _mm512_castps512_ps256(t.dx));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot), acc);
    }
    float sum;
    store_halves(_mm512_castps256_ps512(acc), &sum, nullptr);
    return sum;
}

void gemv_rows(int64_t n, const uint8_t* w, size_t w_row_bytes, int n_rows, const BlockQ8_0* x,
               float* out) {
    const int64_t nb = n / kQK;
    prefetch_stream_start(w, size_t(n_rows) * w_row_bytes);
    thread_local std::vector<TokenPair> token;
    token.resize(size_t((nb + 1) / 2));
    pack_token(x, nb, token.data());
    for (int r = 0; r < n_rows; ++r) {
        out[r] = dot_row(reinterpret_cast<const BlockQ8_0*>(w + size_t(r) * w_row_bytes), nb,
                         token.data());
    }
}

void gemm_q8_0(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
               size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(x);
    if (n_tokens >= 2) {
        gemm_tokens(n, wb, w_row_bytes, n_rows, xb, x_row_bytes, n_tokens, out, out_stride);
        return;
    }
    gemv_rows(n, wb, w_row_bytes, n_rows, reinterpret_cast<const BlockQ8_0*>(xb), out);
}

}  // namespace

void register_q8_0_avx512(KernelTable& t) {
    t[DType::Q8_0].gemm = gemm_q8_0;
}

}  // namespace citadel
