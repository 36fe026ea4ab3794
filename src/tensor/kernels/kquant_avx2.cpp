// AVX2 (+FMA) K-quant gemm. Weights are streamed once: each super-block is decoded in registers
// into 256 unsigned levels (8 ymm, natural element order) and dotted with up to 4 tokens at a
// time. Without VNNI the products go through vpmaddubsw (level * int8 activation, pairs summed
// to int16; at most 2 * 63 * 127 so no saturation) and vpmaddwd with the int16 scales of the
// two 16-element sub-blocks the register covers. Mins are applied through Q8_K's bsums.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/kernels.h"
#include "tensor/kernels/kquant_common.h"
#include "tensor/kernels/reduce_avx2.h"
#include "tensor/kernels/stream_prefetch.h"

namespace citadel {
namespace {

// x[i] = d * sc[i/16] * q[i] - dmin * mn16[i/16].
struct KBlock {
    __m256i q[8];  // levels of elements 32z..32z+31 in q[z]
    __m128i sc;    // int8 scale of each sub-block of 16
    __m256i mn16;  // int16 min of each sub-block of 16
    float d, dmin;
};

inline __m256i load_256(const uint8_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Q2_K / Q3_K: the level of element 128h + 32k + l sits at bits 2k of qs[32h + l].
inline void load_crumbs(const uint8_t* qs, __m256i q[8]) {
    const __m256i three = _mm256_set1_epi8(3);
    for (int h = 0; h < 2; ++h) {
        const __m256i bytes = load_256(qs + 32 * h);
        for (int k = 0; k < 4; ++k) {
            q[4 * h + k] = _mm256_and_si256(_mm256_srli_epi16(bytes, 2 * k), three);
        }
    }
}

// Adds `value` to the levels of elements 32z + l whose bit z + bit0 is set in bits[l].
inline void add_high_bits(__m256i bits, int bit0, int value, __m256i q[8]) {
    for (int z = 0; z < 8; ++z) {
        const __m256i bit = _mm256_set1_epi8(char(1 << (bit0 + z)));
        const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bits, bit), bit);
        q[z] = _mm256_add_epi8(q[z], _mm256_and_si256(set, _mm256_set1_epi8(char(value))));
    }
}

inline void load_nibbles(const uint8_t* qs, __m256i q[8]) {
    const __m256i low4 = _mm256_set1_epi8(0xF);
    for (int c = 0; c < 4; ++c) {
        const __m256i bytes = load_256(qs + 32 * c);
        q[2 * c] = _mm256_and_si256(bytes, low4);
        q[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low4);
    }
}

inline void load_scales_k4(const uint8_t* packed, KBlock& k) {
    uint32_t a[3];
    std::memcpy(a, packed, sizeof a);
    const uint32_t sc_high = (a[2] & 0x0f0f0f0fu) | ((a[0] >> 2) & 0x30303030u);
    const uint32_t mn_high = ((a[2] >> 4) & 0x0f0f0f0fu) | ((a[1] >> 2) & 0x30303030u);
    const __m128i scales = _mm_set_epi32(0, 0, int(sc_high), int(a[0] & 0x3f3f3f3fu));
    const __m128i mins = _mm_set_epi32(0, 0, int(mn_high), int(a[1] & 0x3f3f3f3fu));
    k.sc = _mm_unpacklo_epi8(scales, scales);
    k.mn16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mins, mins));
}

inline KBlock load_block(const BlockQ2_K& b) {
    KBlock k;
    load_crumbs(b.qs, k.q);
    const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
    const __m128i low4 = _mm_set1_epi8(0xF);
    k.sc = _mm_and_si128(s, low4);
    k.mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(s, 4), low4));
    k.d = fp16_to_fp32(b.d);
    k.dmin = fp16_to_fp32(b.dmin);
    return k;
}

inline KBlock load_block(const BlockQ3_K& b) {
    KBlock k;
    load_crumbs(b.qs, k.q);
    add_high_bits(load_256(b.hmask), 0, 4, k.q);
    uint32_t words[4];
    kquant::decode_scales_q3k(b.scales, words);
    k.sc = _mm_sub_epi8(_mm_set_epi32(int(words[3]), int(words[2]), int(words[1]), int(words[0])),
                        _mm_set1_epi8(32));
    k.mn16 = _mm256_slli_epi16(_mm256_cvtepi8_epi16(k.sc), 2);
    k.d = k.dmin = fp16_to_fp32(b.d);
    return k;
}

inline KBlock load_block(const BlockQ4_K& b) {
    KBlock k;
    load_nibbles(b.qs, k.q);
    load_scales_k4(b.scales, k);
    k.d = fp16_to_fp32(b.d);
    k.dmin = fp16_to_fp32(b.dmin);
    return k;
}

inline KBlock load_block(const BlockQ5_K& b) {
    KBlock k;
    load_nibbles(b.qs, k.q);
    add_high_bits(load_256(b.qh), 0, 16, k.q);
    load_scales_k4(b.scales, k);
    k.d = fp16_to_fp32(b.d);
    k.dmin = fp16_to_fp32(b.dmin);
    return k;
}

// Q6_K: element 128h + 32k + l = nibble (k >= 2 high) of ql[64h + 32(k & 1) + l] with the 2
// bits at 2k of qh[32h + l] on top.
inline KBlock load_block(const BlockQ6_K& b) {
    KBlock k;
    const __m256i low4 = _mm256_set1_epi8(0xF);
    const __m256i top2 = _mm256_set1_epi8(0x30);
    for (int h = 0; h < 2; ++h) {
        const __m256i high = load_256(b.qh + 32 * h);
        for (int kk = 0; kk < 4; ++kk) {
            const __m256i low_bytes = load_256(b.ql + 64 * h + 32 * (kk & 1));
            const __m256i low =
                _mm256_and_si256(kk >= 2 ? _mm256_srli_epi16(low_bytes, 4) : low_bytes, low4);
            const __m256i top = _mm256_and_si256(2 * kk >= 4 ? _mm256_srli_epi16(high, 2 * kk - 4)
                                                             : _mm256_slli_epi16(high, 4 - 2 * kk),
                                                 top2);
            k.q[4 * h + kk] = _mm256_or_si256(low, top);
        }
    }
    k.sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales));
    k.mn16 = _mm256_slli_epi16(_mm256_cvtepi8_epi16(k.sc), 5);
    k.d = k.dmin = fp16_to_fp32(b.d);
    return k;
}

template <typename Block, int T>
void row_dot(int64_t n_blocks, const Block* w, const uint8_t* x, size_t x_row_bytes, float* out,
             size_t out_stride) {
    __m256 acc[T];
    for (int t = 0; t < T; ++t) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < n_blocks; ++b) {
        prefetch_stream_block<sizeof(Block)>(&w[b]);
        const KBlock k = load_block(w[b]);
        __m256i scale[8];  // int16 scales of the two sub-blocks of register z
        for (int z = 0; z < 8; ++z) {
            const __m128i pick =
                _mm_set_epi64x(0x0101010101010101LL * (2 * z + 1), 0x0101010101010101LL * (2 * z));
            scale[z] = _mm256_cvtepi8_epi16(_mm_shuffle_epi8(k.sc, pick));
        }
        for (int t = 0; t < T; ++t) {
            const auto* xb = reinterpret_cast<const BlockQ8_K*>(x + size_t(t) * x_row_bytes) + b;
            __m256i isum = _mm256_setzero_si256();
            for (int z = 0; z < 8; ++z) {
                const __m256i xv =
                    _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb->qs + 32 * z));
                const __m256i pairs = _mm256_maddubs_epi16(k.q[z], xv);
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(pairs, scale[z]));
            }
            const __m256i bsums = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb->bsums));
            const __m256i msum = _mm256_madd_epi16(k.mn16, bsums);
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(k.d * xb->d), acc[t]);
            acc[t] =
                _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_set1_ps(k.dmin * xb->d), acc[t]);
        }
    }
    for (int t = 0; t < T; ++t) out[size_t(t) * out_stride] = hsum8(acc[t]);
}

// row_dot as the RowDot of gemm_by_token_groups.
struct RowDotAvx2 {
    template <typename Block, int T>
    static void run(int64_t n_blocks, const Block* w, const uint8_t* x, size_t x_row_bytes,
                    float* out, size_t out_stride) {
        row_dot<Block, T>(n_blocks, w, x, x_row_bytes, out, out_stride);
    }
};

template <typename Block>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
          size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    prefetch_stream_start(w, size_t(n_rows) * w_row_bytes);
    kquant::gemm_by_token_groups<RowDotAvx2, Block>(n, w, w_row_bytes, n_rows, x, x_row_bytes,
                                                    n_tokens, out, out_stride);
}

}  // namespace

void register_kquant_avx2(KernelTable& t) {
    t[DType::Q2_K].gemm = gemm<BlockQ2_K>;
    t[DType::Q3_K].gemm = gemm<BlockQ3_K>;
    t[DType::Q4_K].gemm = gemm<BlockQ4_K>;
    t[DType::Q5_K].gemm = gemm<BlockQ5_K>;
    t[DType::Q6_K].gemm = gemm<BlockQ6_K>;
}

}  // namespace citadel
