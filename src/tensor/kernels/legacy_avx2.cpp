// AVX2 kernels for the legacy block types: one block (32 quants) per 256-bit vector.
//
// Q8_0: per block and (row, token) pair the sign trick maddubs(|w|, sign(x, w)) gives the int32
// sums in 8 lanes, scaled by dw * dx into 8 float lanes: llama.cpp's order, kept because the
// greedy continuations of the trained reference models (Q8_0) depend on its last bits. Weights
// are decoded once per block and reused for every token of the tile.
// Q4_0 Q4_1 Q5_0 Q5_1: maddubs(unsigned quants, x), one float lane per row (prompts) or per
// block (decoding); see the section below for the arithmetic both share.
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

#include "tensor/blocks.h"
#include "tensor/kernels.h"
#include "tensor/kernels/reduce_avx2.h"
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
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
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

// Nibble types: unsigned quants (elements in order); x = (q - kOffset) * d, or q * d + m.
struct Q4_0 {
    using Block = BlockQ4_0;
    using Act = BlockQ8_0;
    static constexpr int kOffset = 8;
    static constexpr bool kMin = false;
    static constexpr size_t kMOffset = 0;  // no min
    static __m256i quants(const Block& b) { return unpack_nibbles(b.qs); }
};
struct Q5_0 {
    using Block = BlockQ5_0;
    using Act = BlockQ8_0;
    static constexpr int kOffset = 16;
    static constexpr bool kMin = false;
    static constexpr size_t kMOffset = 0;
    static __m256i quants(const Block& b) {
        return _mm256_or_si256(unpack_nibbles(b.qs), high_bits(b.qh));
    }
};
struct Q4_1 {
    using Block = BlockQ4_1;
    using Act = BlockQ8_1;
    static constexpr int kOffset = 0;
    static constexpr bool kMin = true;
    static constexpr size_t kMOffset = offsetof(Block, m);
    static __m256i quants(const Block& b) { return unpack_nibbles(b.qs); }
};
struct Q5_1 {
    using Block = BlockQ5_1;
    using Act = BlockQ8_1;
    static constexpr int kOffset = 0;
    static constexpr bool kMin = true;
    static constexpr size_t kMOffset = offsetof(Block, m);
    static __m256i quants(const Block& b) {
        return _mm256_or_si256(unpack_nibbles(b.qs), high_bits(b.qh));
    }
};

// Sum of w[j] * x[j] in 8 int32 lanes, w unsigned 0..31 (no saturation in maddubs).
inline __m256i dot_unsigned(__m256i w, __m256i x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}

// ---- Q8_0: R rows x T tokens, one float accumulator of 8 lanes per (row, token) ----------

// x's scales as floats: dx[t * dx_stride + i] of token t's block i. The scale of a (row,
// token) block is set1(dw) * set1(dx), which rounds as the scalar product does.
template <int R, int T>
void tile_q8_0(int64_t n_blocks, const uint8_t* w, size_t w_row_bytes, const uint8_t* x,
               size_t x_row_bytes, const float* dx, size_t dx_stride, float* out,
               size_t out_stride) {
    __m256 acc[R][T];
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n_blocks; ++i) {
        __m256i wq[R], wabs[R];
        __m256 dw[R];
        for (int r = 0; r < R; ++r) {
            const BlockQ8_0* b = reinterpret_cast<const BlockQ8_0*>(w + r * w_row_bytes) + i;
            if constexpr (R == 1) prefetch_stream(b);  // a row streamed on its own
            wq[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs));
            wabs[r] = _mm256_sign_epi8(wq[r], wq[r]);
            dw[r] = _mm256_set1_ps(half(b->d));
        }
        for (int t = 0; t < T; ++t) {
            const BlockQ8_0& a = reinterpret_cast<const BlockQ8_0*>(x + t * x_row_bytes)[i];
            const __m256i xq = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.qs));
            const __m256 dxv = _mm256_broadcast_ss(dx + t * dx_stride + i);
            for (int r = 0; r < R; ++r) {
                const __m256i pairs = _mm256_maddubs_epi16(wabs[r], _mm256_sign_epi8(xq, wq[r]));
                const __m256 s = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
                acc[r][t] = _mm256_fmadd_ps(s, _mm256_mul_ps(dw[r], dxv), acc[r][t]);
            }
        }
    }
    for (int r = 0; r < R; ++r)
        for (int t = 0; t < T; ++t) out[t * out_stride + r] = hsum8(acc[r][t]);
}

template <int R>
void rows_q8_0(int64_t n_blocks, const uint8_t* w, size_t w_row_bytes, const uint8_t* x,
               size_t x_row_bytes, const float* dx, int n_tokens, float* out, size_t out_stride) {
    int t = 0;
    const size_t dx_stride = size_t(n_blocks);
    for (; t + 4 <= n_tokens; t += 4) {
        tile_q8_0<R, 4>(n_blocks, w, w_row_bytes, x + t * x_row_bytes, x_row_bytes,
                        dx + t * dx_stride, dx_stride, out + t * out_stride, out_stride);
    }
    if (t + 2 <= n_tokens) {
        tile_q8_0<R, 2>(n_blocks, w, w_row_bytes, x + t * x_row_bytes, x_row_bytes,
                        dx + t * dx_stride, dx_stride, out + t * out_stride, out_stride);
        t += 2;
    }
    if (t < n_tokens) {
        tile_q8_0<R, 1>(n_blocks, w, w_row_bytes, x + t * x_row_bytes, x_row_bytes,
                        dx + t * dx_stride, dx_stride, out + t * out_stride, out_stride);
    }
}

constexpr int kStreamMaxTokens = 4;

void gemm_q8_0(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
               size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(x);
    const int64_t nb = n / kQK;
    thread_local std::vector<float> dx;
    dx.resize(size_t(nb) * size_t(n_tokens));
    for (int t = 0; t < n_tokens; ++t) {
        const auto* a = reinterpret_cast<const BlockQ8_0*>(xb + t * x_row_bytes);
        for (int64_t i = 0; i < nb; ++i) dx[size_t(t * nb + i)] = half(a[i].d);
    }
    int r = 0;
    // Few tokens (decoding): every row is read once, so rows go one at a time in memory order
    // (stream_prefetch.h); the arithmetic of a (row, token) pair is the same either way.
    if (n_tokens < kStreamMaxTokens) {
        for (; r < n_rows; ++r) {
            rows_q8_0<1>(nb, wb + r * w_row_bytes, w_row_bytes, xb, x_row_bytes, dx.data(),
                         n_tokens, out + r, out_stride);
        }
        return;
    }
    // Prompts: 2 rows x 4 tokens per tile (measured best of 4x2, 2x3, 3x3, 2x4, 1x4: 4x2
    // spills its accumulators).
    for (; r + 2 <= n_rows; r += 2) {
        rows_q8_0<2>(nb, wb + r * w_row_bytes, w_row_bytes, xb, x_row_bytes, dx.data(), n_tokens,
                     out + r, out_stride);
    }
    for (; r < n_rows; ++r) {
        rows_q8_0<1>(nb, wb + r * w_row_bytes, w_row_bytes, xb, x_row_bytes, dx.data(), n_tokens,
                     out + r, out_stride);
    }
}

// ---- Nibble types (Q4_0 Q4_1 Q5_0 Q5_1) ------------------------------------------------------
//
// The arithmetic of a (row, token) pair: each block's int32 dot is exact (the unsigned quants
// times x, less kOffset * sum(x)); in float, block i goes into partial sum i % 8 as
// p = fma(float(dot), dw * dx, p) (and q += mw * sx for Q4_1 / Q5_1), and the result is
// ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)) (+ the same tree of the q). Both paths
// below do exactly that, so a token gets the same bits decoded alone or in a batch.
//
// Prompts (lanes are rows): each panel of 8 rows is decoded once into PanelBlocks, where the
// register of a group of 4 rows holds 8 quants of each row (qword j = row j); per token the
// products of 4 chunks sum in int16 (at most 4 * 2 * 31 * 127 < 2^15) and one madd per group
// and one hadd give the 8 rows' dots in one vector, so the float work is shared by 8 rows.
// Decoding (lanes are blocks): a row at a time in memory order (stream_prefetch.h); the dots
// of 8 consecutive blocks are reduced by a hadd tree into one vector, whose lane c is partial
// sum c.

constexpr int kLanes = 8;
constexpr int kLaneOf[kLanes] = {0, 1, 4, 5, 2, 3, 6, 7};  // a hadd tree's order (self-inverse)
constexpr int kPanelTokens = 4;                            // tokens per pass over a packed panel

struct PanelBlock {
    __m256i w[2][4];  // [group of 4 rows][chunk k]: elements 8k..8k+7 of each row of the group
    __m256 d, m;      // scales and mins of the 8 rows, lanes in kLaneOf order
};

// Per token and block, what every row needs of the activations: dx, sx (Q8_1) as floats and
// kOffset * sum(x). Rows of `stride` entries, zero past the last block.
struct ActSums {
    std::vector<float> dx, sx;
    std::vector<int32_t> corr;
    size_t stride = 0;
};

template <class Q>
void act_sums(const uint8_t* x, size_t x_row_bytes, int n_tokens, int64_t nb, ActSums& s) {
    using Act = typename Q::Act;
    s.stride = size_t((nb + kLanes - 1) / kLanes * kLanes);
    s.dx.assign(s.stride * size_t(n_tokens), 0.0f);
    s.sx.assign(Q::kMin ? s.dx.size() : 0, 0.0f);
    s.corr.assign(Q::kOffset ? s.dx.size() : 0, 0);
    for (int t = 0; t < n_tokens; ++t) {
        const Act* a = reinterpret_cast<const Act*>(x + t * x_row_bytes);
        const size_t row = size_t(t) * s.stride;
        for (int64_t i = 0; i < nb; ++i) {
            s.dx[row + size_t(i)] = half(a[i].d);
            if constexpr (Q::kMin) s.sx[row + size_t(i)] = half(a[i].s);
            if constexpr (Q::kOffset != 0) {
                const __m256i sum8 =
                    dot_unsigned(_mm256_set1_epi8(1),
                                 _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a[i].qs)));
                __m128i v =
                    _mm_add_epi32(_mm256_castsi256_si128(sum8), _mm256_extracti128_si256(sum8, 1));
                v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
                v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1));
                s.corr[row + size_t(i)] = Q::kOffset * _mm_cvtsi128_si32(v);
            }
        }
    }
}

// The half at byte offset `off` of 8 blocks, lane l from block at[kLaneOf[l]], as floats.
// (Inserted one by one: 8 small stores read back as one vector would stall store forwarding.)
template <class Q>
inline __m256 lane_halves(const typename Q::Block* const (&at)[kLanes], size_t off) {
    auto h = [&](int l) {
        uint16_t v;
        std::memcpy(&v, reinterpret_cast<const uint8_t*>(at[kLaneOf[l]]) + off, 2);
        return int(v);
    };
    __m128i v = _mm_cvtsi32_si128(h(0));
    v = _mm_insert_epi16(v, h(1), 1);
    v = _mm_insert_epi16(v, h(2), 2);
    v = _mm_insert_epi16(v, h(3), 3);
    v = _mm_insert_epi16(v, h(4), 4);
    v = _mm_insert_epi16(v, h(5), 5);
    v = _mm_insert_epi16(v, h(6), 6);
    v = _mm_insert_epi16(v, h(7), 7);
    return _mm256_cvtph_ps(v);
}

// The half at byte offset `off` of the consecutive blocks first[0..7], lane l from block l.
template <class Q>
inline __m256 consecutive_halves(const typename Q::Block* first, size_t off) {
    constexpr int kSize = int(sizeof(typename Q::Block));
    const __m256i at = _mm256_setr_epi32(0, kSize, 2 * kSize, 3 * kSize, 4 * kSize, 5 * kSize,
                                         6 * kSize, 7 * kSize);
    const int* base = reinterpret_cast<const int*>(reinterpret_cast<const uint8_t*>(first) + off);
    const __m256i words =
        _mm256_and_si256(_mm256_i32gather_epi32(base, at, 1), _mm256_set1_epi32(0xffff));
    const __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(words, words), 0x08);
    return _mm256_cvtph_ps(_mm256_castsi256_si128(packed));
}

// Lane l: the sum of the 8 int32 lanes of v[kLaneOf[l]].
inline __m256i reduce8(const __m256i (&v)[kLanes]) {
    const __m256i a =
        _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[4], v[5]));
    const __m256i b =
        _mm256_hadd_epi32(_mm256_hadd_epi32(v[2], v[3]), _mm256_hadd_epi32(v[6], v[7]));
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20),
                            _mm256_permute2x128_si256(a, b, 0x31));
}

// ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)), lane by lane.
inline __m256 tree8(const __m256 (&p)[kLanes]) {
    return _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(p[0], p[1]), _mm256_add_ps(p[2], p[3])),
                         _mm256_add_ps(_mm256_add_ps(p[4], p[5]), _mm256_add_ps(p[6], p[7])));
}

// The same tree over the 8 lanes of v.
inline float tree8_lanes(__m256 v) {
    const __m256 pairs = _mm256_hadd_ps(v, v);          // p0+p1, p2+p3, .. | p4+p5, p6+p7, ..
    const __m256 quads = _mm256_hadd_ps(pairs, pairs);  // (p0+p1)+(p2+p3) | (p4+p5)+(p6+p7)
    return _mm_cvtss_f32(
        _mm_add_ss(_mm256_castps256_ps128(quads), _mm256_extractf128_ps(quads, 1)));
}

// Qword transpose: q[j] holds 4 chunks of row j; afterwards q[k] holds chunk k of rows 0..3.
inline void transpose_qwords(__m256i (&q)[4]) {
    const __m256i t0 = _mm256_unpacklo_epi64(q[0], q[1]);  // chunks 0, 2 of rows 0, 1
    const __m256i t1 = _mm256_unpackhi_epi64(q[0], q[1]);  // chunks 1, 3
    const __m256i t2 = _mm256_unpacklo_epi64(q[2], q[3]);
    const __m256i t3 = _mm256_unpackhi_epi64(q[2], q[3]);
    q[0] = _mm256_permute2x128_si256(t0, t2, 0x20);
    q[1] = _mm256_permute2x128_si256(t1, t3, 0x20);
    q[2] = _mm256_permute2x128_si256(t0, t2, 0x31);
    q[3] = _mm256_permute2x128_si256(t1, t3, 0x31);
}

template <class Q>
void pack_panel(const uint8_t* const (&rows)[kLanes], int64_t n_blocks, PanelBlock* panel) {
    using Block = typename Q::Block;
    for (int64_t i = 0; i < n_blocks; ++i) {
        const Block* b[kLanes];
        for (int j = 0; j < kLanes; ++j) b[j] = reinterpret_cast<const Block*>(rows[j]) + i;
        PanelBlock& p = panel[i];
        for (int g = 0; g < 2; ++g) {
            __m256i q[4];
            for (int j = 0; j < 4; ++j) q[j] = Q::quants(*b[4 * g + j]);
            transpose_qwords(q);
            for (int k = 0; k < 4; ++k) p.w[g][k] = q[k];
        }
        p.d = lane_halves<Q>(b, offsetof(Block, d));
        if constexpr (Q::kMin) p.m = lane_halves<Q>(b, Q::kMOffset);
    }
}

// The 8 rows' dots (unsigned quants times x) of one token's block against a packed block.
inline __m256i panel_dots(const PanelBlock& p, const int8_t* xq) {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i dots = _mm256_setzero_si256();
    for (int g = 0; g < 2; ++g) {
        __m256i s16 = _mm256_setzero_si256();
        for (int k = 0; k < 4; ++k) {
            int64_t chunk;
            std::memcpy(&chunk, xq + 8 * k, 8);
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(_mm256_load_si256(&p.w[g][k]),
                                                             _mm256_set1_epi64x(chunk)));
        }
        const __m256i s32 = _mm256_madd_epi16(s16, ones);
        dots = g == 0 ? s32 : _mm256_hadd_epi32(dots, s32);
    }
    return dots;
}

// T tokens (x: T rows of activations, s: their sums) against a packed panel; writes the rows
// kLaneOf[l] < n_valid.
template <class Q, int T>
void panel_tokens(const PanelBlock* panel, int64_t n_blocks, const uint8_t* x, size_t x_row_bytes,
                  const ActSums& s, int t0, int n_valid, float* out, size_t out_stride) {
    using Act = typename Q::Act;
    __m256 part[T][kLanes], mins[T][kLanes];
    for (int t = 0; t < T; ++t)
        for (int c = 0; c < kLanes; ++c) part[t][c] = mins[t][c] = _mm256_setzero_ps();
    for (int64_t i = 0; i < n_blocks; ++i) {
        const PanelBlock& p = panel[i];
        const int c = int(i % kLanes);
        for (int t = 0; t < T; ++t) {
            const Act& a = reinterpret_cast<const Act*>(x + t * x_row_bytes)[i];
            const size_t at = size_t(t0 + t) * s.stride + size_t(i);
            __m256i dots = panel_dots(p, a.qs);
            if constexpr (Q::kOffset != 0) {
                dots = _mm256_sub_epi32(dots, _mm256_set1_epi32(s.corr[at]));
            }
            part[t][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dots),
                                         _mm256_mul_ps(p.d, _mm256_set1_ps(s.dx[at])), part[t][c]);
            if constexpr (Q::kMin) {
                mins[t][c] =
                    _mm256_add_ps(mins[t][c], _mm256_mul_ps(p.m, _mm256_set1_ps(s.sx[at])));
            }
        }
    }
    for (int t = 0; t < T; ++t) {
        __m256 sum = tree8(part[t]);
        if constexpr (Q::kMin) sum = _mm256_add_ps(sum, tree8(mins[t]));
        alignas(32) float v[kLanes];
        _mm256_store_ps(v, sum);
        for (int l = 0; l < kLanes; ++l)
            if (kLaneOf[l] < n_valid) out[t * out_stride + kLaneOf[l]] = v[l];
    }
}

template <class Q, int T>
void panel_all_tokens(const PanelBlock* panel, int64_t nb, const uint8_t* x, size_t x_row_bytes,
                      const ActSums& s, int t0, int n_tokens, int n_valid, float* out,
                      size_t out_stride) {
    int t = 0;
    for (; t + T <= n_tokens; t += T) {
        panel_tokens<Q, T>(panel, nb, x + t * x_row_bytes, x_row_bytes, s, t0 + t, n_valid,
                           out + t * out_stride, out_stride);
    }
    if constexpr (T > 1) {
        if (t < n_tokens) {
            panel_all_tokens<Q, T - 1>(panel, nb, x + t * x_row_bytes, x_row_bytes, s, t0 + t,
                                       n_tokens - t, n_valid, out + t * out_stride, out_stride);
        }
    }
}

// Blocks i0 + kLaneOf[j] of one row against one token: partial sums c += block i0 + c. With
// kTail, only the first n_here lanes are blocks of the row (the last block stands in for the
// others, whose sums are kept).
template <class Q, bool kTail>
inline void row_step(const typename Q::Block* blocks, const typename Q::Act* x, const ActSums& s,
                     int64_t i0, int n_here, __m256& part, __m256& mins) {
    using Block = typename Q::Block;
    const Block* b[kLanes];
    __m256i v[kLanes];
    for (int j = 0; j < kLanes; ++j) {
        const int64_t i = i0 + (kTail ? std::min(kLaneOf[j], n_here - 1) : kLaneOf[j]);
        b[j] = blocks + i;
        v[j] = dot_unsigned(Q::quants(*b[j]),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x[i].qs)));
    }
    __m256i dots = reduce8(v);
    if constexpr (Q::kOffset != 0) {
        dots = _mm256_sub_epi32(
            dots, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.corr.data() + i0)));
    }
    __m256 next = _mm256_fmadd_ps(
        _mm256_cvtepi32_ps(dots),
        _mm256_mul_ps(kTail ? lane_halves<Q>(b, offsetof(Block, d))
                            : consecutive_halves<Q>(blocks + i0, offsetof(Block, d)),
                      _mm256_loadu_ps(s.dx.data() + i0)),
        part);
    __m256 next_min = mins;
    if constexpr (Q::kMin) {
        next_min = _mm256_add_ps(
            mins, _mm256_mul_ps(kTail ? lane_halves<Q>(b, Q::kMOffset)
                                      : consecutive_halves<Q>(blocks + i0, Q::kMOffset),
                                _mm256_loadu_ps(s.sx.data() + i0)));
    }
    if constexpr (kTail) {
        const __m256 keep = _mm256_cmp_ps(_mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7),
                                          _mm256_set1_ps(float(n_here)), _CMP_GE_OQ);
        next = _mm256_blendv_ps(next, part, keep);
        next_min = _mm256_blendv_ps(next_min, mins, keep);
    }
    part = next;
    mins = next_min;
}

// One row against one token (decoding), 8 blocks at a time in memory order.
template <class Q>
float row_direct(const uint8_t* row, int64_t nb, const uint8_t* x, const ActSums& s) {
    using Block = typename Q::Block;
    using Act = typename Q::Act;
    const Block* blocks = reinterpret_cast<const Block*>(row);
    const Act* xa = reinterpret_cast<const Act*>(x);
    prefetch_stream_start(row, size_t(nb) * sizeof(Block));
    __m256 part = _mm256_setzero_ps(), mins = _mm256_setzero_ps();
    int64_t i0 = 0;
    for (; i0 + kLanes <= nb; i0 += kLanes) {
        for (size_t off = 0; off < kLanes * sizeof(Block); off += 64) {
            prefetch_stream(reinterpret_cast<const uint8_t*>(blocks + i0) + off);
        }
        row_step<Q, false>(blocks, xa, s, i0, kLanes, part, mins);
    }
    if (i0 < nb) row_step<Q, true>(blocks, xa, s, i0, int(nb - i0), part, mins);
    const float sum = tree8_lanes(part);
    return Q::kMin ? sum + tree8_lanes(mins) : sum;
}

template <class Q>
void gemm_nibbles(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
                  size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(x);
    const int64_t nb = n / kQK;
    thread_local ActSums sums;
    act_sums<Q>(xb, x_row_bytes, n_tokens, nb, sums);
    if (n_tokens == 1) {
        for (int r = 0; r < n_rows; ++r) out[r] = row_direct<Q>(wb + r * w_row_bytes, nb, xb, sums);
        return;
    }
    thread_local std::vector<PanelBlock> panel;
    if (panel.size() < size_t(nb)) panel.resize(size_t(nb));
    for (int r0 = 0; r0 < n_rows; r0 += kLanes) {
        const int n_valid = std::min(kLanes, n_rows - r0);
        const uint8_t* rows[kLanes];  // past the last row: the last row again
        for (int j = 0; j < kLanes; ++j) rows[j] = wb + std::min(r0 + j, n_rows - 1) * w_row_bytes;
        pack_panel<Q>(rows, nb, panel.data());
        panel_all_tokens<Q, kPanelTokens>(panel.data(), nb, xb, x_row_bytes, sums, 0, n_tokens,
                                          n_valid, out + r0, out_stride);
    }
}

}  // namespace

void register_legacy_avx2(KernelTable& t) {
    t[DType::Q4_0].gemm = gemm_nibbles<Q4_0>;
    t[DType::Q4_1].gemm = gemm_nibbles<Q4_1>;
    t[DType::Q5_0].gemm = gemm_nibbles<Q5_0>;
    t[DType::Q5_1].gemm = gemm_nibbles<Q5_1>;
    t[DType::Q8_0].gemm = gemm_q8_0;
}

}  // namespace citadel
