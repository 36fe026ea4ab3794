// AVX-512 (VNNI) kernels for the legacy block types.
//
// Everything works on "groups" of 4 blocks (128 elements) held in two 64-byte vectors: vector 0
// has elements 0..15 of block k in its 128-bit lane k, vector 1 elements 16..31. So int32 lanes
// 4k..4k+3 always belong to block k, and one float vector of scales (dk in lanes 4k..4k+3)
// scales a whole group: per group and (row, token) pair the work is
//     i   = dpbusd(dpbusd(init, w0, x0), w1, x1)      (int32, exact)
//     acc = fma(float(i), dw * dx, acc)               (+ fma(mw, sx, acc) for Q4_1 / Q5_1)
// vpdpbusd multiplies unsigned by signed bytes: weights are made unsigned (Q4 / Q5 quants as
// they are, Q8_0 quants + 128) and activations stay signed; the offset is removed through
// init = -offset * (sum of the four activations in the lane), computed once per token.
//
// Activations are repacked per call into ActGroup records; weights are either decoded straight
// from the file blocks, row after row in memory order (few tokens: memory bound, weights read
// once), or, for many tokens, decoded once per panel of 4 rows into WeightGroup records that
// every token tile reuses. Both paths do the same arithmetic for a (row, token) pair, so a
// token gets the same bits decoded alone or in a batch.
#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "tensor/blocks.h"
#include "tensor/kernels.h"
#include "tensor/kernels/stream_prefetch.h"

namespace citadel {

namespace {

constexpr int kQK = 32;
constexpr int kGroupBlocks = 4;

// One activation group of one token.
struct alignas(64) ActGroup {
    int8_t x0[64];    // elements 0..15 of each block
    int8_t x1[64];    // elements 16..31 of each block
    float d[16];      // scale of block k in lanes 4k..4k+3
    int32_t aux[16];  // offset types: -offset * lane sum; min types: float sx in lane 4k
};

// One weight group of one row, decoded.
struct alignas(64) WeightGroup {
    __m512i w0, w1;  // unsigned quants, lanes as in ActGroup
    __m512 d, m;     // scales (and mins for Q4_1 / Q5_1) broadcast to their 4 lanes
};

// ---- byte layouts of a group of 4 blocks -------------------------------------------------

// A block type's layout: bytes per block, where d, m, qh and qs sit (-1: absent).
template <int kBytes, int kM, int kQh, int kQs, bool kNibbles>
struct Layout {
    static constexpr int bytes = kBytes;
    static constexpr int m_off = kM;
    static constexpr int qh_off = kQh;
    static constexpr int qs_off = kQs;
    static constexpr bool nibbles = kNibbles;
    static constexpr int group_bytes = 4 * kBytes;
    static constexpr int tail_base = group_bytes > 128 ? group_bytes - 128 : 0;
};

using LayoutQ4_0 = Layout<sizeof(BlockQ4_0), -1, -1, 2, true>;
using LayoutQ4_1 = Layout<sizeof(BlockQ4_1), 2, -1, 4, true>;
using LayoutQ5_0 = Layout<sizeof(BlockQ5_0), -1, 2, 6, true>;
using LayoutQ5_1 = Layout<sizeof(BlockQ5_1), 2, 4, 8, true>;
using LayoutQ8_0 = Layout<sizeof(BlockQ8_0), -1, -1, 2, false>;
using LayoutQ8_1 = Layout<sizeof(BlockQ8_1), 2, -1, 4, false>;

// Word indices for vpermt2w over a 128-byte window starting at byte `base` of the group.
struct WordIndex {
    alignas(64) uint16_t v[32];
    __m512i load() const { return _mm512_load_si512(v); }
};

// Words 0..15: d of block l/4; words 16..31: m (or s) of block (l-16)/4.
template <class L>
constexpr WordIndex scale_index() {
    WordIndex ix{};
    for (int l = 0; l < 16; ++l) {
        ix.v[l] = uint16_t((l / 4) * L::bytes / 2);
        ix.v[16 + l] = uint16_t(((l / 4) * L::bytes + (L::m_off < 0 ? 0 : L::m_off)) / 2);
    }
    return ix;
}

// 16 bytes of each block starting at qs + `first`, block k in 128-bit lane k.
template <class L>
constexpr WordIndex quant_index(int first, int base) {
    WordIndex ix{};
    for (int w = 0; w < 32; ++w) {
        ix.v[w] = uint16_t(((w / 8) * L::bytes + L::qs_off + first + 2 * (w % 8) - base) / 2);
    }
    return ix;
}

// Words 0..3: low halves of each block's qh; words 4..7: high halves.
template <class L>
constexpr WordIndex high_bit_index() {
    WordIndex ix{};
    for (int w = 0; w < 8; ++w) ix.v[w] = uint16_t(((w % 4) * L::bytes + L::qh_off) / 2 + w / 4);
    return ix;
}

template <class L>
struct Indices {
    static constexpr WordIndex scales = scale_index<L>();
    static constexpr WordIndex lo = quant_index<L>(0, 0);
    static constexpr WordIndex hi = quant_index<L>(16, L::tail_base);
    static constexpr WordIndex qh = high_bit_index<L>();
};

// The 128 bytes of a group starting at `base` (fewer if the group is shorter; no over-read).
template <class L>
inline void load_window(const uint8_t* p, int base, __m512i& a, __m512i& b) {
    a = _mm512_loadu_si512(p + base);
    constexpr int rest = L::group_bytes - 64;
    if constexpr (rest >= 64) {
        b = _mm512_loadu_si512(p + base + 64);
    } else {
        b = _mm512_maskz_loadu_epi8((__mmask64(1) << rest) - 1, p + base + 64);
    }
}

// Decodes 4 consecutive blocks of a weight row.
template <class L>
inline WeightGroup decode_weights(const uint8_t* p) {
    __m512i a, b;
    load_window<L>(p, 0, a, b);
    WeightGroup g;
    const __m512i sc = _mm512_permutex2var_epi16(a, Indices<L>::scales.load(), b);
    g.d = _mm512_cvtph_ps(_mm512_castsi512_si256(sc));
    g.m = L::m_off >= 0 ? _mm512_cvtph_ps(_mm512_extracti64x4_epi64(sc, 1)) : _mm512_setzero_ps();
    if constexpr (!L::nibbles) {
        const __m512i flip = _mm512_set1_epi8(char(0x80));
        g.w0 = _mm512_xor_si512(_mm512_permutex2var_epi16(a, Indices<L>::lo.load(), b), flip);
        __m512i c, e;
        load_window<L>(p, L::tail_base, c, e);
        g.w1 = _mm512_xor_si512(_mm512_permutex2var_epi16(c, Indices<L>::hi.load(), e), flip);
        return g;
    }
    const __m512i q = _mm512_permutex2var_epi16(a, Indices<L>::lo.load(), b);
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    g.w0 = _mm512_and_si512(q, low4);
    g.w1 = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
    if constexpr (L::qh_off >= 0) {
        const __m128i h =
            _mm512_castsi512_si128(_mm512_permutex2var_epi16(a, Indices<L>::qh.load(), b));
        const __m512i bit4 = _mm512_set1_epi8(0x10);
        g.w0 = _mm512_or_si512(g.w0, _mm512_maskz_mov_epi8(_mm_cvtsi128_si64(h), bit4));
        g.w1 = _mm512_or_si512(g.w1, _mm512_maskz_mov_epi8(_mm_extract_epi64(h, 1), bit4));
    }
    return g;
}

// Copies the last (partial) group of a row into `buf`, zero-padded to 4 blocks.
template <class L>
inline const uint8_t* padded_tail(const uint8_t* row, int64_t n_blocks, uint8_t* buf) {
    const int64_t full = n_blocks / kGroupBlocks * kGroupBlocks;
    std::memset(buf, 0, L::group_bytes);
    std::memcpy(buf, row + full * L::bytes, size_t(n_blocks - full) * L::bytes);
    return buf;
}

// ---- activations --------------------------------------------------------------------------

// Packs one activation row (Q8_0 or Q8_1 blocks). kOffset: the weight type's quant offset.
template <class L, int kOffset>
void pack_activation_row(const uint8_t* row, int64_t n_blocks, ActGroup* out) {
    alignas(64) uint8_t tail[L::group_bytes];
    const int64_t n_groups = (n_blocks + kGroupBlocks - 1) / kGroupBlocks;
    for (int64_t g = 0; g < n_groups; ++g) {
        const bool partial = (g + 1) * kGroupBlocks > n_blocks;
        const uint8_t* p =
            partial ? padded_tail<L>(row, n_blocks, tail) : row + g * kGroupBlocks * L::bytes;
        __m512i a, b, c, e;
        load_window<L>(p, 0, a, b);
        load_window<L>(p, L::tail_base, c, e);
        const __m512i x0 = _mm512_permutex2var_epi16(a, Indices<L>::lo.load(), b);
        const __m512i x1 = _mm512_permutex2var_epi16(c, Indices<L>::hi.load(), e);
        const __m512i sc = _mm512_permutex2var_epi16(a, Indices<L>::scales.load(), b);
        ActGroup& o = out[g];
        _mm512_store_si512(o.x0, x0);
        _mm512_store_si512(o.x1, x1);
        _mm512_store_ps(o.d, _mm512_cvtph_ps(_mm512_castsi512_si256(sc)));
        if constexpr (L::m_off >= 0) {  // Q8_1: s of block k in lane 4k, zero elsewhere
            const __m512i s = _mm512_maskz_mov_epi16(0x1111'0000u, sc);
            _mm512_store_ps(o.aux, _mm512_cvtph_ps(_mm512_extracti64x4_epi64(s, 1)));
        } else {
            const __m512i off = _mm512_set1_epi8(char(kOffset));
            __m512i sum = _mm512_dpbusd_epi32(_mm512_setzero_si512(), off, x0);
            sum = _mm512_dpbusd_epi32(sum, off, x1);
            _mm512_store_si512(o.aux, _mm512_sub_epi32(_mm512_setzero_si512(), sum));
        }
    }
}

// ---- the tile kernel ----------------------------------------------------------------------

// The weight groups of one row straight from the file's blocks (few tokens: the rows are
// streamed one at a time in memory order, see stream_prefetch.h).
template <class L>
struct RawRow {
    const uint8_t* row;
    const uint8_t* tail;  // the last group zero-padded, when the row ends inside a group
    int64_t full_groups;
    WeightGroup get(int, int64_t g) const {
        if (g < full_groups) {
            const uint8_t* p = row + g * L::group_bytes;
            prefetch_stream(p);
            return decode_weights<L>(p);
        }
        return decode_weights<L>(tail);
    }
};

// Weight groups decoded beforehand: panel[g * 4 + r].
struct PackedWeights {
    const WeightGroup* panel;
    WeightGroup get(int r, int64_t g) const { return panel[g * 4 + r]; }
};

// out[t][r] for R rows x T tokens over n_groups groups.
template <int R, int T, bool kMin, class Weights>
void tile(const Weights& w, const ActGroup* x, int64_t n_groups, float* out, size_t out_stride) {
    __m512 acc[R][T];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
    for (int64_t g = 0; g < n_groups; ++g) {
        WeightGroup wg[R];
        for (int r = 0; r < R; ++r) wg[r] = w.get(r, g);
        for (int t = 0; t < T; ++t) {
            const ActGroup& a = x[t * n_groups + g];
            const __m512i x0 = _mm512_load_si512(a.x0);
            const __m512i x1 = _mm512_load_si512(a.x1);
            const __m512 dx = _mm512_load_ps(a.d);
            for (int r = 0; r < R; ++r) {
                __m512i i = kMin ? _mm512_setzero_si512() : _mm512_load_si512(a.aux);
                i = _mm512_dpbusd_epi32(i, wg[r].w0, x0);
                i = _mm512_dpbusd_epi32(i, wg[r].w1, x1);
                const __m512 scale = _mm512_mul_ps(wg[r].d, dx);
                acc[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i), scale, acc[r][t]);
                if constexpr (kMin) {
                    acc[r][t] = _mm512_fmadd_ps(wg[r].m, _mm512_load_ps(a.aux), acc[r][t]);
                }
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) out[t * out_stride + r] = _mm512_reduce_add_ps(acc[r][t]);
}

constexpr int kTokensPerTile = 3;

// Runs tile<R, T> for all tokens in steps of kTokensPerTile.
template <int R, bool kMin, class Weights>
void tile_all_tokens(const Weights& w, const ActGroup* x, int64_t n_groups, int n_tokens,
                     float* out, size_t out_stride) {
    int t = 0;
    for (; t + kTokensPerTile <= n_tokens; t += kTokensPerTile) {
        tile<R, kTokensPerTile, kMin>(w, x + t * n_groups, n_groups, out + t * out_stride,
                                      out_stride);
    }
    const ActGroup* xt = x + t * n_groups;
    float* ot = out + t * out_stride;
    switch (n_tokens - t) {
        case 1:
            tile<R, 1, kMin>(w, xt, n_groups, ot, out_stride);
            break;
        case 2:
            tile<R, 2, kMin>(w, xt, n_groups, ot, out_stride);
            break;
        default:
            break;
    }
}

template <bool kMin, class Weights>
void rows_all_tokens(int n_rows, const Weights& w, const ActGroup* x, int64_t n_groups,
                     int n_tokens, float* out, size_t out_stride) {
    switch (n_rows) {
        case 1:
            tile_all_tokens<1, kMin>(w, x, n_groups, n_tokens, out, out_stride);
            break;
        case 2:
            tile_all_tokens<2, kMin>(w, x, n_groups, n_tokens, out, out_stride);
            break;
        case 3:
            tile_all_tokens<3, kMin>(w, x, n_groups, n_tokens, out, out_stride);
            break;
        default:
            tile_all_tokens<4, kMin>(w, x, n_groups, n_tokens, out, out_stride);
            break;
    }
}

struct Scratch {
    std::vector<ActGroup> act;
    std::vector<WeightGroup> panel;
};
thread_local Scratch scratch;

// Few tokens: every row is read once, so rows go one at a time in memory order.
template <class L, bool kMin>
void rows_streamed(const uint8_t* wb, size_t w_row_bytes, int n_rows, const ActGroup* act,
                   int64_t n_blocks, int n_tokens, float* out, size_t out_stride) {
    const int64_t n_groups = (n_blocks + kGroupBlocks - 1) / kGroupBlocks;
    prefetch_stream_start(wb, size_t(n_rows) * w_row_bytes);
    alignas(64) uint8_t tail[L::group_bytes];
    RawRow<L> raw{};
    raw.full_groups = n_blocks / kGroupBlocks;
    for (int r = 0; r < n_rows; ++r) {
        raw.row = wb + size_t(r) * w_row_bytes;
        if (raw.full_groups < n_groups) raw.tail = padded_tail<L>(raw.row, n_blocks, tail);
        tile_all_tokens<1, kMin>(raw, act, n_groups, n_tokens, out + r, out_stride);
    }
}

// Many tokens: each panel of 4 rows is decoded once and reused by every token tile.
template <class L, bool kMin>
void rows_packed(const uint8_t* wb, size_t w_row_bytes, int n_rows, const ActGroup* act,
                 int64_t n_blocks, int n_tokens, float* out, size_t out_stride) {
    const int64_t n_groups = (n_blocks + kGroupBlocks - 1) / kGroupBlocks;
    if (scratch.panel.size() < size_t(n_groups * 4)) scratch.panel.resize(n_groups * 4);
    WeightGroup* panel = scratch.panel.data();
    alignas(64) uint8_t tail[L::group_bytes];
    RawRow<L> raw{};
    raw.full_groups = n_blocks / kGroupBlocks;
    for (int r0 = 0; r0 < n_rows; r0 += 4) {
        const int rows = std::min(4, n_rows - r0);
        for (int r = 0; r < 4; ++r) {
            raw.row = wb + size_t(r0 + std::min(r, rows - 1)) * w_row_bytes;
            if (raw.full_groups < n_groups) raw.tail = padded_tail<L>(raw.row, n_blocks, tail);
            for (int64_t g = 0; g < n_groups; ++g) panel[g * 4 + r] = raw.get(r, g);
        }
        rows_all_tokens<kMin>(rows, PackedWeights{panel}, act, n_groups, n_tokens, out + r0,
                              out_stride);
    }
}

// Below this many tokens the weights are decoded on the fly (each row is read once anyway).
constexpr int kPackMinTokens = 4;

template <class L, class ActL, int kOffset>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
          size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    constexpr bool kMin = ActL::m_off >= 0;
    const int64_t n_blocks = n / kQK;
    const int64_t n_groups = (n_blocks + kGroupBlocks - 1) / kGroupBlocks;
    if (scratch.act.size() < size_t(n_groups * n_tokens)) scratch.act.resize(n_groups * n_tokens);
    ActGroup* act = scratch.act.data();
    const auto* xb = static_cast<const uint8_t*>(x);
    for (int t = 0; t < n_tokens; ++t) {
        pack_activation_row<ActL, kOffset>(xb + t * x_row_bytes, n_blocks, act + t * n_groups);
    }
    const auto* wb = static_cast<const uint8_t*>(w);
    if (n_tokens < kPackMinTokens) {
        rows_streamed<L, kMin>(wb, w_row_bytes, n_rows, act, n_blocks, n_tokens, out, out_stride);
    } else {
        rows_packed<L, kMin>(wb, w_row_bytes, n_rows, act, n_blocks, n_tokens, out, out_stride);
    }
}

// ---- activation quantizers (bit-identical to the scalar reference) ------------------------

// round-half-away-from-zero, as roundf
inline __m512 round_away(__m512 v) {
    const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512 frac = _mm512_abs_ps(_mm512_sub_ps(v, t));
    const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    const __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(v, _mm512_set1_ps(-0.0f)));
    return _mm512_mask_add_ps(t, up, t, one);
}

// Quantizes 32 floats to int8 with d = amax / 127; returns d, stores the quant sum.
// kRuntime: the activation form (127/amax, round half to even), see TypeKernels.
template <bool kRuntime>
inline float quantize_block_q8(const float* x, int8_t* qs, int* sum) {
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    const float d = amax / 127;
    __m512i q0, q1;
    if (kRuntime) {
        const __m512 vid = _mm512_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        constexpr int kNearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
        q0 = _mm512_cvttps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(v0, vid), kNearest));
        q1 = _mm512_cvttps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(v1, vid), kNearest));
    } else {
        const __m512 vid = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
        q0 = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(v0, vid)));
        q1 = _mm512_cvttps_epi32(round_away(_mm512_mul_ps(v1, vid)));
    }
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(qs + 16), _mm512_cvtepi32_epi8(q1));
    *sum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
    return d;
}

template <bool kRuntime>
void quantize_q8_0(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ8_0*>(dst);
    int sum;
    for (int64_t i = 0; i < n / kQK; ++i) {
        b[i].d = fp32_to_fp16(quantize_block_q8<kRuntime>(src + i * kQK, b[i].qs, &sum));
    }
}

template <bool kRuntime>
void quantize_q8_1(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ8_1*>(dst);
    int sum;
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float d = quantize_block_q8<kRuntime>(src + i * kQK, b[i].qs, &sum);
        b[i].d = fp32_to_fp16(d);
        b[i].s = fp32_to_fp16(float(sum) * d);
    }
}

}  // namespace

void register_legacy_avx512(KernelTable& t) {
    t[DType::Q4_0].gemm = gemm<LayoutQ4_0, LayoutQ8_0, 8>;
    t[DType::Q5_0].gemm = gemm<LayoutQ5_0, LayoutQ8_0, 16>;
    t[DType::Q8_0].gemm = gemm<LayoutQ8_0, LayoutQ8_0, 128>;
    t[DType::Q4_1].gemm = gemm<LayoutQ4_1, LayoutQ8_1, 0>;
    t[DType::Q5_1].gemm = gemm<LayoutQ5_1, LayoutQ8_1, 0>;
    t[DType::Q8_0].quantize_row = quantize_q8_0<false>;
    t[DType::Q8_1].quantize_row = quantize_q8_1<false>;
    t[DType::Q8_0].quantize_act_row = quantize_q8_0<true>;
    t[DType::Q8_1].quantize_act_row = quantize_q8_1<true>;
}

}  // namespace citadel
