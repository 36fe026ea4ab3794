// Private helpers of the K-quant kernels: every K-quant super-block is decoded into one
// canonical form, so that the scalar reference, the SIMD kernels and the tests share a single
// statement of each bit layout:
//
//     x[i] = d * sc[i / 16] * q[i] - dmin * mn[i / 16],   q[i] unsigned, i < 256.
//
//   Q2_K: sc = 4-bit scale, mn = 4-bit min, q in 0..3.
//   Q3_K: sc = 6-bit signed scale, q = 2 low bits + (high bit ? 4 : 0) in 0..7, so the
//         format's signed value q - 4 becomes the min term mn = 4 * sc, dmin = d.
//   Q4_K: sc / mn = 6-bit scale / min of the sub-block of 32 holding i, q in 0..15.
//   Q5_K: as Q4_K with q in 0..31.
//   Q6_K: sc = int8 scale, q in 0..63 and mn = 32 * sc, dmin = d.
//
// A dot with a Q8_K block (values y, sums of 16 values bsums, scale dy) is then
//     dy * (d * sum_j sc[j] * sum_{i in j} q[i] y[i]  -  dmin * sum_j mn[j] * bsums[j])
// which is all-integer inside the parentheses.
//
// Everything here has internal linkage (anonymous namespace): the header is compiled into
// translation units with different instruction-set flags, and an inline function with
// external linkage could be merged by the linker into the AVX-512 copy.
#pragma once

#include <cstdint>
#include <cstring>

#include "core/fp16.h"
#include "tensor/blocks.h"

namespace citadel::kquant {
namespace {

struct Unpacked {
    uint8_t q[kQK_K];
    int16_t sc[kQK_K / 16];
    int16_t mn[kQK_K / 16];
    float d;
    float dmin;
};

// Scale and min of sub-block j (of 8) from the packed 12 bytes of Q4_K / Q5_K.
inline void scale_min_k4(int j, const uint8_t* s, int* scale, int* min) {
    if (j < 4) {
        *scale = s[j] & 63;
        *min = s[j + 4] & 63;
    } else {
        *scale = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

// 6-bit signed scale of sub-block j (of 16) from the packed 12 bytes of Q3_K.
inline int scale_q3k(int j, const uint8_t* s) {
    const int low = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
    const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
    return (low | (high << 4)) - 32;
}

// All 16 scales of Q3_K at once, biased by +32 (0..63): byte j of the 16 bytes in words[4]
// is scale_q3k(j) + 32. Low nibbles sit in bytes 0..7 (j < 8 low half, j >= 8 high half), the
// 2 high bits of scale j at bits 2 * (j / 4) of byte 8 + j % 4.
inline void decode_scales_q3k(const uint8_t* packed, uint32_t words[4]) {
    uint32_t a[3];
    std::memcpy(a, packed, sizeof a);
    const uint32_t low4 = 0x0f0f0f0fu, low2 = 0x03030303u;
    words[0] = (a[0] & low4) | ((a[2] & low2) << 4);
    words[1] = (a[1] & low4) | (((a[2] >> 2) & low2) << 4);
    words[2] = ((a[0] >> 4) & low4) | (((a[2] >> 4) & low2) << 4);
    words[3] = ((a[1] >> 4) & low4) | (((a[2] >> 6) & low2) << 4);
}

// Q2_K and Q3_K pack element i (of 256) in bits 2*k of qs[32 * h + l], with h = i / 128,
// k = (i % 128) / 32, l = i % 32.
inline int crumb_k(const uint8_t* qs, int i) {
    const int h = i / 128, k = (i % 128) / 32, l = i % 32;
    return (qs[32 * h + l] >> (2 * k)) & 3;
}

inline void unpack(const BlockQ2_K& b, Unpacked& u) {
    u.d = fp16_to_fp32(b.d);
    u.dmin = fp16_to_fp32(b.dmin);
    for (int j = 0; j < 16; ++j) {
        u.sc[j] = int16_t(b.scales[j] & 0xF);
        u.mn[j] = int16_t(b.scales[j] >> 4);
    }
    for (int i = 0; i < kQK_K; ++i) u.q[i] = uint8_t(crumb_k(b.qs, i));
}

inline void unpack(const BlockQ3_K& b, Unpacked& u) {
    u.d = fp16_to_fp32(b.d);
    u.dmin = u.d;
    for (int j = 0; j < 16; ++j) {
        u.sc[j] = int16_t(scale_q3k(j, b.scales));
        u.mn[j] = int16_t(4 * u.sc[j]);
    }
    for (int i = 0; i < kQK_K; ++i) {
        const int h = i / 128, k = (i % 128) / 32, l = i % 32;
        const int high = (b.hmask[l] >> (4 * h + k)) & 1;
        u.q[i] = uint8_t(crumb_k(b.qs, i) + 4 * high);
    }
}

// Q4_K / Q5_K: element i sits in qs[32 * (i / 64) + i % 32], low nibble when i % 64 < 32.
inline int nibble_k(const uint8_t* qs, int i) {
    const uint8_t byte = qs[32 * (i / 64) + i % 32];
    return (i % 64) < 32 ? (byte & 0xF) : (byte >> 4);
}

inline void unpack_scales_k4(const uint8_t* packed, Unpacked& u) {
    for (int j = 0; j < 8; ++j) {
        int scale, min;
        scale_min_k4(j, packed, &scale, &min);
        u.sc[2 * j] = u.sc[2 * j + 1] = int16_t(scale);
        u.mn[2 * j] = u.mn[2 * j + 1] = int16_t(min);
    }
}

inline void unpack(const BlockQ4_K& b, Unpacked& u) {
    u.d = fp16_to_fp32(b.d);
    u.dmin = fp16_to_fp32(b.dmin);
    unpack_scales_k4(b.scales, u);
    for (int i = 0; i < kQK_K; ++i) u.q[i] = uint8_t(nibble_k(b.qs, i));
}

inline void unpack(const BlockQ5_K& b, Unpacked& u) {
    u.d = fp16_to_fp32(b.d);
    u.dmin = fp16_to_fp32(b.dmin);
    unpack_scales_k4(b.scales, u);
    for (int i = 0; i < kQK_K; ++i) {
        const int high = (b.qh[i % 32] >> (i / 32)) & 1;
        u.q[i] = uint8_t(nibble_k(b.qs, i) + 16 * high);
    }
}

// Q6_K: element i = 128 h + 32 k + l has its low 4 bits in ql[64 h + 32 (k & 1) + l]
// (high nibble when k >= 2) and its top 2 bits at bits 2k of qh[32 h + l].
inline void unpack(const BlockQ6_K& b, Unpacked& u) {
    u.d = fp16_to_fp32(b.d);
    u.dmin = u.d;
    for (int j = 0; j < 16; ++j) {
        u.sc[j] = b.scales[j];
        u.mn[j] = int16_t(32 * b.scales[j]);
    }
    for (int i = 0; i < kQK_K; ++i) {
        const int h = i / 128, k = (i % 128) / 32, l = i % 32;
        const uint8_t low_byte = b.ql[64 * h + 32 * (k & 1) + l];
        const int low = k >= 2 ? (low_byte >> 4) : (low_byte & 0xF);
        const int high = (b.qh[32 * h + l] >> (2 * k)) & 3;
        u.q[i] = uint8_t(low | (high << 4));
    }
}

template <typename Block>
inline const Block* block_at(const void* row, int64_t index) {
    return static_cast<const Block*>(row) + index;
}

// The GEMM of the kernels that read each weight row once per group of up to four tokens:
// calls RowDot::template run<Block, T>(n_blocks, row, x, x_row_bytes, out, out_stride) with
// T in 1..4 for every row and token group (RowDot is the ISA file's own row kernel).
template <class RowDot, typename Block>
inline void gemm_by_token_groups(int64_t n, const void* w, size_t w_row_bytes, int n_rows,
                                 const void* x, size_t x_row_bytes, int n_tokens, float* out,
                                 size_t out_stride) {
    const int64_t n_blocks = n / kQK_K;
    for (int t0 = 0; t0 < n_tokens; t0 += 4) {
        const uint8_t* xt = static_cast<const uint8_t*>(x) + size_t(t0) * x_row_bytes;
        float* ot = out + size_t(t0) * out_stride;
        for (int r = 0; r < n_rows; ++r) {
            const auto* wr = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) +
                                                            size_t(r) * w_row_bytes);
            switch (n_tokens - t0) {
                case 1:
                    RowDot::template run<Block, 1>(n_blocks, wr, xt, x_row_bytes, ot + r,
                                                   out_stride);
                    break;
                case 2:
                    RowDot::template run<Block, 2>(n_blocks, wr, xt, x_row_bytes, ot + r,
                                                   out_stride);
                    break;
                case 3:
                    RowDot::template run<Block, 3>(n_blocks, wr, xt, x_row_bytes, ot + r,
                                                   out_stride);
                    break;
                default:
                    RowDot::template run<Block, 4>(n_blocks, wr, xt, x_row_bytes, ot + r,
                                                   out_stride);
                    break;
            }
        }
    }
}

}  // namespace
}  // namespace citadel::kquant

namespace citadel::kquant {

// Quantizers (kquant_quantize.cpp, baseline instruction set). n is a multiple of 256.
void quantize_row_q8_k(const float* src, void* dst, int64_t n);
void quantize_row_q2_k(const float* src, void* dst, int64_t n);
void quantize_row_q3_k(const float* src, void* dst, int64_t n);
void quantize_row_q4_k(const float* src, void* dst, int64_t n);
void quantize_row_q5_k(const float* src, void* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n);

}  // namespace citadel::kquant
