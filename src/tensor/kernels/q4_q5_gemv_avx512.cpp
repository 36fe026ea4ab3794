// Q4_0 / Q5_0 x Q8_0 for one token (decoding) with AVX-512 VNNI, four weight rows per register.
//
// 128-bit lane r of a register holds the 16 quant bytes of block i of row r. Their low nibbles
// (elements 0..15) meet the token's first 16 bytes and their high nibbles (elements 16..31)
// its last 16, in two VNNI dots, so int32 lane 4r + k sums the products of elements
// 4k..4k+3 and 16+4k..16+4k+3 of row r (exact). Per block and four rows that is one load
// and three inserts, two masks and a shift, two dots, and the four rows' scales gathered
// into one register by masked broadcasts: about half the work of pairing two rows per
// register (q8_0_avx512.cpp), which mattered because Q4_0 decoding was compute bound.
//
// VNNI multiplies unsigned by signed bytes: the quants stay unsigned (0..15) and the dot
// starts from -8 x (sum of the token's bytes of the lane) to subtract the offset of 8.
// Each row accumulates in 16 float lanes, lanes 4k..4k+3 taking blocks k, k+4, ..., and is
// summed as the batch kernel sums (legacy_avx512.cpp): a token's result is the same decoded
// alone or in a batch. The order differs from the scalar kernel's, which the tests allow for.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "tensor/blocks.h"
#include "tensor/kernels/row_groups.h"

namespace citadel {
namespace {

constexpr int kQK = 32;

// One block of the token, ready for the kernel.
struct alignas(64) TokenBlock {
    __m512i lo;     // elements 0..15 in every 128-bit lane
    __m512i hi;     // elements 16..31 in every 128-bit lane
    __m512i start;  // -offset x (x[4k..4k+3] + x[16+4k..16+4k+3]) in lane k of each 128-bit lane
    __m512 d;       // the block's scale in every lane
};

void prepare_token(const BlockQ8_0* x, int64_t nb, int offset, TokenBlock* out) {
    const __m512i ones = _mm512_set1_epi8(1);
    for (int64_t i = 0; i < nb; ++i) {
        TokenBlock& t = out[i];
        t.lo = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].qs)));
        t.hi =
            _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x[i].qs + 16)));
        const __m512i sum = _mm512_dpbusd_epi32(
            _mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, t.lo), ones, t.hi);
        t.start = _mm512_mullo_epi32(sum, _mm512_set1_epi32(-offset));
        t.d = _mm512_set1_ps(_cvtsh_ss(x[i].d));
    }
}

// The quants of block i of four rows, 128-bit lane r for row r.
template <class Block>
inline __m512i quads(const Block* const* r, int64_t i) {
    auto q = [&](int k) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(r[k][i].qs)); };
    __m512i v = _mm512_castsi128_si512(q(0));
    v = _mm512_inserti32x4(v, q(1), 1);
    v = _mm512_inserti32x4(v, q(2), 2);
    return _mm512_inserti32x4(v, q(3), 3);
}

// The nibbles of block i of four rows: elements 0..15 in `lo`, 16..31 in `hi`.
template <class Block>
inline void nibbles(const Block* const* r, int64_t i, __m512i& lo, __m512i& hi) {
    const __m512i low4 = _mm512_set1_epi8(0x0F);
    const __m512i q = quads(r, i);
    lo = _mm512_and_si512(q, low4);
    hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), low4);
}

// Levels of block i of four rows: elements 0..15 in `lo`, 16..31 in `hi`.
struct Q4 {
    using Block = BlockQ4_0;
    static constexpr int kOffset = 8;
    static void levels(const Block* const* r, int64_t i, __m512i& lo, __m512i& hi) {
        nibbles(r, i, lo, hi);
    }
};

// Q5_0: the fifth bit of element j is bit j of qh.
struct Q5 {
    using Block = BlockQ5_0;
    static constexpr int kOffset = 16;
    static void levels(const Block* const* r, int64_t i, __m512i& lo, __m512i& hi) {
        nibbles(r, i, lo, hi);
        uint64_t mlo = 0, mhi = 0;
        for (int k = 0; k < 4; ++k) {
            uint32_t h;
            std::memcpy(&h, r[k][i].qh, 4);
            mlo |= uint64_t(h & 0xFFFF) << (16 * k);
            mhi |= uint64_t(h >> 16) << (16 * k);
        }
        const __m512i bit4 = _mm512_set1_epi8(0x10);
        lo = _mm512_or_si512(lo, _mm512_maskz_mov_epi8(_cvtu64_mask64(mlo), bit4));
        hi = _mm512_or_si512(hi, _mm512_maskz_mov_epi8(_cvtu64_mask64(mhi), bit4));
    }
};

// The scales of block i of four rows as floats, row r in lanes 4r..4r+3.
template <class Block>
inline __m512 scales(const Block* const* r, int64_t i) {
    auto h = [&](int k) { return _mm_loadu_si16(&r[k][i].d); };
    __m256i s = _mm256_broadcastw_epi16(h(0));
    s = _mm256_mask_broadcastw_epi16(s, 0x00F0, h(1));
    s = _mm256_mask_broadcastw_epi16(s, 0x0F00, h(2));
    s = _mm256_mask_broadcastw_epi16(s, 0xF000, h(3));
    return _mm512_cvtph_ps(s);
}

// Row r's 16 accumulator lanes as the batch kernel (legacy_avx512.cpp) holds them: lanes
// 4k..4k+3 from acc[k] (blocks k, k+4, k+8, ...), summed by the same reduction, so a token
// gets the same result decoded alone or in a batch. acc[k] holds four rows, row r in its
// 128-bit lane r.
inline void store_rows(const __m512 (&acc)[4], float* out, int rows) {
    const __m512 t0 = _mm512_shuffle_f32x4(acc[0], acc[1], 0x44);
    const __m512 t1 = _mm512_shuffle_f32x4(acc[0], acc[1], 0xEE);
    const __m512 t2 = _mm512_shuffle_f32x4(acc[2], acc[3], 0x44);
    const __m512 t3 = _mm512_shuffle_f32x4(acc[2], acc[3], 0xEE);
    const __m512 row[4] = {_mm512_shuffle_f32x4(t0, t2, 0x88), _mm512_shuffle_f32x4(t0, t2, 0xDD),
                           _mm512_shuffle_f32x4(t1, t3, 0x88), _mm512_shuffle_f32x4(t1, t3, 0xDD)};
    for (int r = 0; r < rows; ++r) out[r] = _mm512_reduce_add_ps(row[r]);
}

template <class K>
void gemv(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x, float* out) {
    using Block = typename K::Block;
    const int64_t nb = n / kQK;
    thread_local std::vector<TokenBlock> token;
    if (token.size() < size_t(nb)) token.resize(size_t(nb));
    prepare_token(static_cast<const BlockQ8_0*>(x), nb, K::kOffset, token.data());

    const auto* wb = static_cast<const uint8_t*>(w);
    const size_t ahead = group_prefetch_distance(w_row_bytes);
    for (int r0 = 0; r0 < n_rows; r0 += 8) {
        const int rows = std::min(8, n_rows - r0);
        const Block* wr[8];
        group_rows(wb, w_row_bytes, r0, rows, wr);
        // acc[g][k]: rows 4g..4g+3, blocks k, k+4, k+8, ... (the batch kernel's lanes).
        __m512 acc[2][4];
        for (auto& a : acc)
            for (__m512& v : a) v = _mm512_setzero_ps();
        for (int64_t i = 0; i < nb; ++i) {
            const TokenBlock& t = token[size_t(i)];
            // Rows advance 18 (Q5_0: 22) bytes a block: every other block covers every line.
            if ((i & 1) == 0) {
                for (int r = 0; r < 8; ++r) {
                    _mm_prefetch(reinterpret_cast<const char*>(&wr[r][i]) + ahead, _MM_HINT_T0);
                }
            }
            for (int g = 0; g < 2; ++g) {
                const Block* const* r = &wr[4 * g];
                __m512i lo, hi;
                K::levels(r, i, lo, hi);
                const __m512i dot =
                    _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(t.start, lo, t.lo), hi, t.hi);
                const __m512 d = _mm512_mul_ps(scales(r, i), t.d);
                __m512& a = acc[g][i & 3];
                a = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), d, a);
            }
        }
        store_rows(acc[0], out + r0, std::min(rows, 4));
        if (rows > 4) store_rows(acc[1], out + r0 + 4, rows - 4);
    }
}

}  // namespace

void gemv_q4_0_avx512(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
                      float* out) {
    gemv<Q4>(n, w, w_row_bytes, n_rows, x, out);
}

void gemv_q5_0_avx512(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
                      float* out) {
    gemv<Q5>(n, w, w_row_bytes, n_rows, x, out);
}

}  // namespace citadel
