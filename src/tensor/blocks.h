// On-disk block layouts of the quantized GGUF types (little endian, packed as in the files).
// Each block holds block_elems consecutive elements of one row.
#pragma once

#include <cstdint>

namespace citadel {

constexpr int kQK4_0 = 32;
constexpr int kQK4_1 = 32;
constexpr int kQK5_0 = 32;
constexpr int kQK5_1 = 32;
constexpr int kQK8_0 = 32;
constexpr int kQK8_1 = 32;
constexpr int kQK_K = 256;        // super-block size of the K-quants
constexpr int kKScaleBytes = 12;  // packed 6-bit scales and mins of Q3_K / Q4_K / Q5_K

using f16_t = uint16_t;  // IEEE half, stored as raw bits

// x = (q - 8) * d; qs[j] holds element j in its low nibble and j + 16 in its high nibble.
struct BlockQ4_0 {
    f16_t d;
    uint8_t qs[kQK4_0 / 2];
};
// x = q * d + m; nibbles as in Q4_0.
struct BlockQ4_1 {
    f16_t d;
    f16_t m;
    uint8_t qs[kQK4_1 / 2];
};
// x = (q - 16) * d; low 4 bits as in Q4_0, bit 4 of element j is bit j of qh.
struct BlockQ5_0 {
    f16_t d;
    uint8_t qh[4];
    uint8_t qs[kQK5_0 / 2];
};
// x = q * d + m; bits as in Q5_0.
struct BlockQ5_1 {
    f16_t d;
    f16_t m;
    uint8_t qh[4];
    uint8_t qs[kQK5_1 / 2];
};
// x = q * d.
struct BlockQ8_0 {
    f16_t d;
    int8_t qs[kQK8_0];
};
// x = q * d; s = d * sum(q) (used as the activation format for Q4_1 / Q5_1 dots).
struct BlockQ8_1 {
    f16_t d;
    f16_t s;
    int8_t qs[kQK8_1];
};

// 16 sub-blocks of 16: x = d * (scales[i] & 15) * q - dmin * (scales[i] >> 4), q in 0..3.
struct BlockQ2_K {
    uint8_t scales[kQK_K / 16];
    uint8_t qs[kQK_K / 4];
    f16_t d;
    f16_t dmin;
};
// 16 sub-blocks of 16 with 6-bit signed scales; q in -4..3 (2 low bits + inverted high bit).
struct BlockQ3_K {
    uint8_t hmask[kQK_K / 8];
    uint8_t qs[kQK_K / 4];
    uint8_t scales[kKScaleBytes];
    f16_t d;
};
// 8 sub-blocks of 32 with 6-bit scales and mins: x = d * sc * q - dmin * m, q in 0..15.
struct BlockQ4_K {
    f16_t d;
    f16_t dmin;
    uint8_t scales[kKScaleBytes];
    uint8_t qs[kQK_K / 2];
};
// As Q4_K with a fifth bit per element in qh: q in 0..31.
struct BlockQ5_K {
    f16_t d;
    f16_t dmin;
    uint8_t scales[kKScaleBytes];
    uint8_t qh[kQK_K / 8];
    uint8_t qs[kQK_K / 2];
};
// 16 sub-blocks of 16 with int8 scales: x = d * scales[i] * (q - 32), q in 0..63.
struct BlockQ6_K {
    uint8_t ql[kQK_K / 2];
    uint8_t qh[kQK_K / 4];
    int8_t scales[kQK_K / 16];
    f16_t d;
};
// Activation format for K-quant dots: float scale, int8 values, sums of each 16 values.
struct BlockQ8_K {
    float d;
    int8_t qs[kQK_K];
    int16_t bsums[kQK_K / 16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace citadel
