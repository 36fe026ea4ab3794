// AVX-512 (VNNI) K-quant kernels. Two gemm paths:
//
//  * Few tokens (decode): weights are streamed once, one super-block at a time. Each block is
//    decoded in registers into 256 unsigned levels (4 zmm, natural element order) and dotted
//    with every token by vpdpbusd; the per-sub-block scales multiply the 32-bit partial sums and
//    the mins are applied through Q8_K's bsums.
//  * Many tokens (prompt): a super-block of 16 rows is first unpacked into a Panel whose zmm
//    lanes are the 16 rows (each dword lane holds 4 consecutive levels of its row). A token then
//    costs one vpdpbusd per 4 elements of 16 rows, with its 4 activation bytes broadcast, and
//    the per-row scales, mins and super-block factors are all applied lane-wise: no horizontal
//    sums, and the results of 16 rows land in one contiguous store.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/kernels.h"
#include "tensor/kernels/kquant_common.h"
#include "tensor/kernels/stream_prefetch.h"

namespace citadel {
namespace {

// One weight super-block decoded for the dot: x[i] = d * sc16[i/16] * q[i] - dmin * mn16[i/16].
struct KBlock {
    __m512i q[4];  // levels of elements 64k..64k+63 in q[k]
    __m512i sc16;  // int32 scale of each sub-block of 16
    __m256i mn16;  // int16 min of each sub-block of 16
    float d, dmin;
};

inline __m512i broadcast_256(const uint8_t* p) {
    return _mm512_broadcast_i64x4(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// Shifts the low 256 bits right by a and the high 256 bits by b (16-bit lanes).
inline __m512i shift_halves(__m512i v, int a, int b) {
    const __m512i counts =
        _mm512_inserti64x4(_mm512_set1_epi16(short(a)), _mm256_set1_epi16(short(b)), 1);
    return _mm512_srlv_epi16(v, counts);
}

// Q2_K / Q3_K: 2-bit levels of element 128h + 32k + l at bits 2k of qs[32h + l].
inline void load_crumbs(const uint8_t* qs, __m512i q[4]) {
    const __m512i three = _mm512_set1_epi8(3);
    for (int h = 0; h < 2; ++h) {
        const __m512i bytes = broadcast_256(qs + 32 * h);
        q[2 * h] = _mm512_and_si512(shift_halves(bytes, 0, 2), three);
        q[2 * h + 1] = _mm512_and_si512(shift_halves(bytes, 4, 6), three);
    }
}

// Byte mask of the 64 elements 64z..64z+63 whose bit is set in `bits` (32 bytes, one per
// element position l = i % 32): the first 32 elements test bit b0, the next 32 bit b0 + 1.
inline __mmask64 bit_mask(__m256i bits, int b0) {
    const uint64_t lo = _mm256_test_epi8_mask(bits, _mm256_set1_epi8(char(1 << b0)));
    const uint64_t hi = _mm256_test_epi8_mask(bits, _mm256_set1_epi8(char(1 << (b0 + 1))));
    return lo | (hi << 32);
}

inline __m512i duplicate_to_sc16(uint64_t eight) {
    const __m128i v = _mm_cvtsi64_si128(int64_t(eight));
    return _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(v, v));
}

inline __m256i duplicate_to_mn16(uint64_t eight) {
    const __m128i v = _mm_cvtsi64_si128(int64_t(eight));
    return _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(v, v));
}

// The 6-bit scales and mins of Q4_K / Q5_K, 8 bytes each.
inline void decode_scales_k4(const uint8_t* packed, uint64_t* scales, uint64_t* mins) {
    uint32_t a[3];
    std::memcpy(a, packed, sizeof a);
    const uint32_t sc_high = (a[2] & 0x0f0f0f0fu) | ((a[0] >> 2) & 0x30303030u);
    const uint32_t mn_high = ((a[2] >> 4) & 0x0f0f0f0fu) | ((a[1] >> 2) & 0x30303030u);
    *scales = (a[0] & 0x3f3f3f3fu) | (uint64_t(sc_high) << 32);
    *mins = (a[1] & 0x3f3f3f3fu) | (uint64_t(mn_high) << 32);
}

// Q4_K / Q5_K nibbles: qs[32c + l] holds element 64c + l (low) and 64c + 32 + l (high).
inline void load_nibbles(const uint8_t* qs, __m512i q[4]) {
    const __m512i low4 = _mm512_set1_epi8(0xF);
    for (int half = 0; half < 2; ++half) {
        const __m512i bytes = _mm512_loadu_si512(qs + 64 * half);
        const __m512i lo = _mm512_and_si512(bytes, low4);
        const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low4);
        q[2 * half] = _mm512_shuffle_i64x2(lo, hi, 0x44);
        q[2 * half + 1] = _mm512_shuffle_i64x2(lo, hi, 0xEE);
    }
}

inline KBlock load_block(const BlockQ2_K& b) {
    KBlock k;
    load_crumbs(b.qs, k.q);
    const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
    const __m128i low4 = _mm_set1_epi8(0xF);
    k.sc16 = _mm512_cvtepu8_epi32(_mm_and_si128(s, low4));
    k.mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), low4));
    k.d = fp16_to_fp32(b.d);
    k.dmin = fp16_to_fp32(b.dmin);
    return k;
}

inline KBlock load_block(const BlockQ3_K& b) {
    KBlock k;
    load_crumbs(b.qs, k.q);
    const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.hmask));
    const __m512i four = _mm512_set1_epi8(4);
    for (int z = 0; z < 4; ++z) {
        k.q[z] = _mm512_mask_add_epi8(k.q[z], bit_mask(high, 2 * z), k.q[z], four);
    }
    uint32_t words[4];
    kquant::decode_scales_q3k(b.scales, words);
    const __m128i biased =
        _mm_set_epi32(int(words[3]), int(words[2]), int(words[1]), int(words[0]));
    k.sc16 = _mm512_cvtepi8_epi32(_mm_sub_epi8(biased, _mm_set1_epi8(32)));
    k.mn16 = _mm256_slli_epi16(_mm512_cvtepi32_epi16(k.sc16), 2);
    k.d = k.dmin = fp16_to_fp32(b.d);
    return k;
}

inline KBlock load_block(const BlockQ4_K& b) {
    KBlock k;
    load_nibbles(b.qs, k.q);
    uint64_t scales, mins;
    decode_scales_k4(b.scales, &scales, &mins);
    k.sc16 = duplicate_to_sc16(scales);
    k.mn16 = duplicate_to_mn16(mins);
    k.d = fp16_to_fp32(b.d);
    k.dmin = fp16_to_fp32(b.dmin);
    return k;
}

inline KBlock load_block(const BlockQ5_K& b) {
    KBlock k;
    load_nibbles(b.qs, k.q);
    const __m256i high = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b.qh));
    const __m512i sixteen = _mm512_set1_epi8(16);
    for (int z = 0; z < 4; ++z) {
        k.q[z] = _mm512_mask_add_epi8(k.q[z], bit_mask(high, 2 * z), k.q[z], sixteen);
    }
    uint64_t scales, mins;
    decode_scales_k4(b.scales, &scales, &mins);
    k.sc16 = duplicate_to_sc16(scales);
    k.mn16 = duplicate_to_mn16(mins);
    k.d = fp16_to_fp32(b.d);
    k.dmin = fp16_to_fp32(b.dmin);
    return k;
}

// Q6_K: for each half h, ql[64h..64h+63] holds elements 128h + 0..63 in its low nibbles and
// 128h + 64..127 in its high nibbles; qh[32h + l] holds the top 2 bits of the four elements
// 128h + 32k + l at bits 2k.
inline KBlock load_block(const BlockQ6_K& b) {
    KBlock k;
    const __m512i low4 = _mm512_set1_epi8(0xF);
    const __m512i top2 = _mm512_set1_epi8(0x30);
    for (int h = 0; h < 2; ++h) {
        const __m512i low = _mm512_loadu_si512(b.ql + 64 * h);
        const __m512i high = broadcast_256(b.qh + 32 * h);
        // (a & 0x0F) | (b & 0x30) with one ternary-logic op: select a where the mask is set.
        const __m512i high_a =
            _mm512_and_si512(_mm512_slli_epi16(shift_halves(high, 0, 2), 4), top2);
        const __m512i high_b =
            _mm512_and_si512(_mm512_slli_epi16(shift_halves(high, 4, 6), 4), top2);
        k.q[2 * h] = _mm512_ternarylogic_epi32(low, high_a, low4, 0xE4);
        k.q[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(low, 4), high_b, low4, 0xE4);
    }
    const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
    k.sc16 = _mm512_cvtepi8_epi32(s);
    k.mn16 = _mm256_slli_epi16(_mm256_cvtepi8_epi16(s), 5);
    k.d = k.dmin = fp16_to_fp32(b.d);
    return k;
}

inline int32_t load_i32(const void* p) {
    int32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

inline const BlockQ8_K* act_block(const void* x, size_t x_row_bytes, int t, int64_t b) {
    return reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(x) +
                                              size_t(t) * x_row_bytes) +
           b;
}

// ---- few tokens: stream the weights ------------------------------------------------------

// The sums of the lanes of a (16 lanes) and of b (8 lanes), both reduced in one register.
inline void sum_pair(__m512i a, __m256i b, int32_t& sum_a, int32_t& sum_b) {
    const __m256i a8 = _mm256_add_epi32(_mm512_castsi512_si256(a), _mm512_extracti64x4_epi64(a, 1));
    __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(a8), b, 1);
    v = _mm512_add_epi32(v, _mm512_shuffle_i32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_add_epi32(v, _mm512_shuffle_epi32(v, _MM_PERM_BADC));
    v = _mm512_add_epi32(v, _mm512_shuffle_epi32(v, _MM_PERM_CDAB));
    sum_a = _mm512_cvtsi512_si32(v);
    sum_b = _mm_cvtsi128_si32(_mm512_extracti32x4_epi32(v, 2));
}

// Dots one weight row with T tokens; out_t[t] receives the result of token t. Each block's
// integer sums are added across lanes (exactly) and applied as the panel kernel applies them
// to its row lane (one fma for the levels, one for the mins), so a token gets the same result
// here, decoded alone, as inside a batch.
template <typename Block, int T>
void direct_row(int64_t n_blocks, const Block* w, const void* x, size_t x_row_bytes, float* out,
                size_t out_stride) {
    float acc[T] = {};
    const __m512i lane_quad = _mm512_srli_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), 2);
    for (int64_t b = 0; b < n_blocks; ++b) {
        prefetch_stream_block<sizeof(Block)>(&w[b]);
        const KBlock k = load_block(w[b]);
        __m512i scale[4];
        for (int z = 0; z < 4; ++z) {
            const __m512i idx = _mm512_add_epi32(lane_quad, _mm512_set1_epi32(4 * z));
            scale[z] = _mm512_permutexvar_epi32(idx, k.sc16);
        }
        for (int t = 0; t < T; ++t) {
            const BlockQ8_K* xb = act_block(x, x_row_bytes, t, b);
            __m512i isum = _mm512_setzero_si512();
            for (int z = 0; z < 4; ++z) {
                const __m512i xv = _mm512_loadu_si512(xb->qs + 64 * z);
                const __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), k.q[z], xv);
                isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(dot, scale[z]));
            }
            const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb->bsums));
            const __m256i msum = _mm256_madd_epi16(k.mn16, bsums);
            int32_t levels_sum, mins_sum;
            sum_pair(isum, msum, levels_sum, mins_sum);
            const float levels = float(levels_sum);
            const float mins = float(mins_sum);
            acc[t] = std::fma(levels, k.d * xb->d, acc[t]);
            acc[t] = std::fma(-mins, k.dmin * xb->d, acc[t]);
        }
    }
    for (int t = 0; t < T; ++t) out[size_t(t) * out_stride] = acc[t];
}

// direct_row as the RowDot of gemm_by_token_groups.
struct DirectRow {
    template <typename Block, int T>
    static void run(int64_t n_blocks, const Block* w, const uint8_t* x, size_t x_row_bytes,
                    float* out, size_t out_stride) {
        direct_row<Block, T>(n_blocks, w, x, x_row_bytes, out, out_stride);
    }
};

template <typename Block>
void direct_gemm(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
                 size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    prefetch_stream_start(w, size_t(n_rows) * w_row_bytes);
    kquant::gemm_by_token_groups<DirectRow, Block>(n, w, w_row_bytes, n_rows, x, x_row_bytes,
                                                   n_tokens, out, out_stride);
}

// ---- many tokens: 16-row panels -------------------------------------------------------------

constexpr int kPanelRows = 16;
constexpr int kTokenTile = 64;

// One super-block of 16 rows, lane r of every vector belonging to row r. Sub-blocks have
// kSub elements (32 for Q4_K / Q5_K, whose scales are per 32; else 16).
struct alignas(64) Panel {
    uint32_t q[64][kPanelRows];  // [group of 4 elements][row]
    int32_t sc[16][kPanelRows];  // [sub-block][row]
    int32_t mn[8][kPanelRows];   // [pair of 16-element sub-blocks][row]: two int16 mins
    float d[kPanelRows];
    float dmin[kPanelRows];
};

// Rows decoded in natural order before the transpose into a Panel.
struct alignas(64) RowScratch {
    uint8_t q[kPanelRows][kQK_K];
    int32_t sc[kPanelRows][16];
    int16_t mn[kPanelRows][16];
};

template <typename Block, int kSub>
void unpack_panel(const uint8_t* w, size_t w_row_bytes, int rows, int64_t b, RowScratch& s,
                  Panel& p) {
    for (int r = 0; r < rows; ++r) {
        const KBlock k = load_block(reinterpret_cast<const Block*>(w + size_t(r) * w_row_bytes)[b]);
        for (int z = 0; z < 4; ++z) _mm512_store_si512(s.q[r] + 64 * z, k.q[z]);
        _mm512_store_si512(s.sc[r], k.sc16);
        _mm256_store_si256(reinterpret_cast<__m256i*>(s.mn[r]), k.mn16);
        p.d[r] = k.d;
        p.dmin[r] = k.dmin;
    }
    const __m512i row = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i q_index = _mm512_slli_epi32(row, 6);  // 64 dwords per row
    for (int g = 0; g < 64; ++g) {
        const __m512i v =
            _mm512_i32gather_epi32(_mm512_add_epi32(q_index, _mm512_set1_epi32(g)), s.q, 4);
        _mm512_store_si512(p.q[g], v);
    }
    const __m512i sc_index = _mm512_slli_epi32(row, 4);
    for (int j = 0; j < kQK_K / kSub; ++j) {
        const __m512i idx = _mm512_add_epi32(sc_index, _mm512_set1_epi32(j * kSub / 16));
        _mm512_store_si512(p.sc[j], _mm512_i32gather_epi32(idx, s.sc, 4));
    }
    const __m512i mn_index = _mm512_slli_epi32(row, 3);
    for (int pair = 0; pair < 8; ++pair) {
        const __m512i idx = _mm512_add_epi32(mn_index, _mm512_set1_epi32(pair));
        _mm512_store_si512(p.mn[pair], _mm512_i32gather_epi32(idx, s.mn, 4));
    }
}

// Adds one super-block's contribution for T tokens to acc[t][row] (16 floats per token).
template <int kSub, int T>
void panel_tokens(const Panel& p, const void* x, size_t x_row_bytes, int64_t b, float* acc) {
    constexpr int kGroups = kSub / 4;
    const BlockQ8_K* xb[T];
    for (int t = 0; t < T; ++t) xb[t] = act_block(x, x_row_bytes, t, b);
    __m512i isum[T];
    for (int t = 0; t < T; ++t) isum[t] = _mm512_setzero_si512();
    for (int j = 0; j < kQK_K / kSub; ++j) {
        __m512i wq[kGroups];
        for (int g = 0; g < kGroups; ++g) wq[g] = _mm512_load_si512(p.q[j * kGroups + g]);
        const __m512i scale = _mm512_load_si512(p.sc[j]);
        for (int t = 0; t < T; ++t) {
            const int8_t* xq = xb[t]->qs + j * kSub;
            __m512i dot =
                _mm512_dpbusd_epi32(_mm512_setzero_si512(), wq[0], _mm512_set1_epi32(load_i32(xq)));
            for (int g = 1; g < kGroups; ++g) {
                dot = _mm512_dpbusd_epi32(dot, wq[g], _mm512_set1_epi32(load_i32(xq + 4 * g)));
            }
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(dot, scale));
        }
    }
    __m512i msum[T];
    for (int t = 0; t < T; ++t) msum[t] = _mm512_setzero_si512();
    for (int pair = 0; pair < 8; ++pair) {
        const __m512i mins = _mm512_load_si512(p.mn[pair]);
        for (int t = 0; t < T; ++t) {
            const __m512i sums = _mm512_set1_epi32(load_i32(xb[t]->bsums + 2 * pair));
            msum[t] = _mm512_dpwssd_epi32(msum[t], mins, sums);
        }
    }
    const __m512 d = _mm512_load_ps(p.d);
    const __m512 dmin = _mm512_load_ps(p.dmin);
    for (int t = 0; t < T; ++t) {
        const __m512 dx = _mm512_set1_ps(xb[t]->d);
        __m512 a = _mm512_load_ps(acc + 16 * t);
        a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(d, dx), a);
        a = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(msum[t]), _mm512_mul_ps(dmin, dx), a);
        _mm512_store_ps(acc + 16 * t, a);
    }
}

template <int kSub>
void panel_all_tokens(const Panel& p, const void* x, size_t x_row_bytes, int n_tokens, int64_t b,
                      float* acc) {
    const auto* xt = static_cast<const uint8_t*>(x);
    int t = 0;
    for (; t + 8 <= n_tokens; t += 8)
        panel_tokens<kSub, 8>(p, xt + t * x_row_bytes, x_row_bytes, b, acc + 16 * t);
    const uint8_t* xr = xt + t * x_row_bytes;
    float* ar = acc + 16 * t;
    switch (n_tokens - t) {
        case 1:
            panel_tokens<kSub, 1>(p, xr, x_row_bytes, b, ar);
            break;
        case 2:
            panel_tokens<kSub, 2>(p, xr, x_row_bytes, b, ar);
            break;
        case 3:
            panel_tokens<kSub, 3>(p, xr, x_row_bytes, b, ar);
            break;
        case 4:
            panel_tokens<kSub, 4>(p, xr, x_row_bytes, b, ar);
            break;
        case 5:
            panel_tokens<kSub, 5>(p, xr, x_row_bytes, b, ar);
            break;
        case 6:
            panel_tokens<kSub, 6>(p, xr, x_row_bytes, b, ar);
            break;
        case 7:
            panel_tokens<kSub, 7>(p, xr, x_row_bytes, b, ar);
            break;
        default:
            break;
    }
}

template <typename Block, int kSub>
void panel_gemm(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
                size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    static thread_local Panel panel;
    static thread_local RowScratch scratch;
    alignas(64) float acc[kTokenTile * kPanelRows];
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(x);
    for (int r0 = 0; r0 < n_rows; r0 += kPanelRows) {
        const int rows = std::min(kPanelRows, n_rows - r0);
        if (rows < kPanelRows) {  // padding rows: zero levels and factors
            std::memset(&scratch, 0, sizeof scratch);
            std::fill(panel.d, panel.d + kPanelRows, 0.0f);
            std::fill(panel.dmin, panel.dmin + kPanelRows, 0.0f);
        }
        const __mmask16 row_mask = __mmask16((1u << rows) - 1);
        for (int t0 = 0; t0 < n_tokens; t0 += kTokenTile) {
            const int nt = std::min(kTokenTile, n_tokens - t0);
            std::fill(acc, acc + nt * kPanelRows, 0.0f);
            for (int64_t b = 0; b < n / kQK_K; ++b) {
                unpack_panel<Block, kSub>(wb + size_t(r0) * w_row_bytes, w_row_bytes, rows, b,
                                          scratch, panel);
                panel_all_tokens<kSub>(panel, xb + size_t(t0) * x_row_bytes, x_row_bytes, nt, b,
                                       acc);
            }
            for (int t = 0; t < nt; ++t) {
                _mm512_mask_storeu_ps(out + size_t(t0 + t) * out_stride + r0, row_mask,
                                      _mm512_load_ps(acc + 16 * t));
            }
        }
    }
}

constexpr int kPanelMinTokens = 4;

template <typename Block, int kSub>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
          size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    if (n_tokens < kPanelMinTokens) {
        direct_gemm<Block>(n, w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, out, out_stride);
    } else {
        panel_gemm<Block, kSub>(n, w, w_row_bytes, n_rows, x, x_row_bytes, n_tokens, out,
                                out_stride);
    }
}

}  // namespace

void register_kquant_avx512(KernelTable& t) {
    t[DType::Q2_K].gemm = gemm<BlockQ2_K, 16>;
    t[DType::Q3_K].gemm = gemm<BlockQ3_K, 16>;
    t[DType::Q4_K].gemm = gemm<BlockQ4_K, 32>;
    t[DType::Q5_K].gemm = gemm<BlockQ5_K, 32>;
    t[DType::Q6_K].gemm = gemm<BlockQ6_K, 16>;
}

}  // namespace citadel
