// Scalar reference kernels for the legacy block types: Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 (weights) and
// Q8_1 (activations of Q4_1 / Q5_1). Quantizers follow llama.cpp's *_ref quantizers bit for bit
// (same rounding, same clamps), so a row quantized here equals one quantized by llama.cpp.
//
// The GEMM works on the integer quants: per block, sumi = sum(qw * qx) in int32, then
//   _0 types: dot += dw * dx * sumi                      (qw already has its offset removed)
//   _1 types: dot += dw * dx * sumi + mw * sx            (sx = dx * sum(qx), stored in Q8_1)
// which is what the SIMD variants compute as well, in a different summation order.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "core/fp16.h"
#include "tensor/blocks.h"
#include "tensor/kernels.h"

namespace citadel {
namespace {

constexpr int kQK = 32;  // every legacy type has 32 elements per block

// ---- quant extraction: q[j] = stored integer of element j, before any offset ----

inline void nibbles(const uint8_t* qs, int q[kQK]) {
    for (int j = 0; j < kQK / 2; ++j) {
        q[j] = qs[j] & 0x0F;
        q[j + kQK / 2] = qs[j] >> 4;
    }
}

inline void nibbles_with_high_bit(const uint8_t* qs, const uint8_t* qh_bytes, int q[kQK]) {
    uint32_t qh;
    std::memcpy(&qh, qh_bytes, sizeof qh);
    nibbles(qs, q);
    for (int j = 0; j < kQK; ++j) q[j] |= int((qh >> j) & 1u) << 4;
}

// ---- dequantization ----

void dequantize_q4_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ4_0*>(src);
    int q[kQK];
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float d = fp16_to_fp32(b[i].d);
        nibbles(b[i].qs, q);
        for (int j = 0; j < kQK; ++j) dst[i * kQK + j] = float(q[j] - 8) * d;
    }
}

void dequantize_q4_1(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ4_1*>(src);
    int q[kQK];
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float d = fp16_to_fp32(b[i].d);
        const float m = fp16_to_fp32(b[i].m);
        nibbles(b[i].qs, q);
        for (int j = 0; j < kQK; ++j) dst[i * kQK + j] = float(q[j]) * d + m;
    }
}

void dequantize_q5_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ5_0*>(src);
    int q[kQK];
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float d = fp16_to_fp32(b[i].d);
        nibbles_with_high_bit(b[i].qs, b[i].qh, q);
        for (int j = 0; j < kQK; ++j) dst[i * kQK + j] = float(q[j] - 16) * d;
    }
}

void dequantize_q5_1(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ5_1*>(src);
    int q[kQK];
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float d = fp16_to_fp32(b[i].d);
        const float m = fp16_to_fp32(b[i].m);
        nibbles_with_high_bit(b[i].qs, b[i].qh, q);
        for (int j = 0; j < kQK; ++j) dst[i * kQK + j] = float(q[j]) * d + m;
    }
}

void dequantize_q8_0(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ8_0*>(src);
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float d = fp16_to_fp32(b[i].d);
        for (int j = 0; j < kQK; ++j) dst[i * kQK + j] = float(b[i].qs[j]) * d;
    }
}

void dequantize_q8_1(const void* src, float* dst, int64_t n) {
    const auto* b = static_cast<const BlockQ8_1*>(src);
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float d = fp16_to_fp32(b[i].d);
        for (int j = 0; j < kQK; ++j) dst[i * kQK + j] = float(b[i].qs[j]) * d;
    }
}

// ---- quantization (llama.cpp reference semantics) ----

// The signed value of largest magnitude (the first one on ties), as Q4_0 / Q5_0 use it.
inline float signed_absmax(const float* x) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK; ++j) {
        if (amax < std::fabs(x[j])) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

inline void min_max(const float* x, float& min, float& max) {
    min = x[0];
    max = x[0];
    for (int j = 1; j < kQK; ++j) {
        min = std::min(min, x[j]);
        max = std::max(max, x[j]);
    }
}

void quantize_q4_0(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ4_0*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float* x = src + i * kQK;
        const float d = signed_absmax(x) / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = fp32_to_fp16(d);
        for (int j = 0; j < kQK / 2; ++j) {
            const int lo = std::min(15, int(int8_t(x[j] * id + 8.5f)));
            const int hi = std::min(15, int(int8_t(x[j + kQK / 2] * id + 8.5f)));
            b[i].qs[j] = uint8_t(lo | (hi << 4));
        }
    }
}

void quantize_q4_1(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ4_1*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float* x = src + i * kQK;
        float min, max;
        min_max(x, min, max);
        const float d = (max - min) / 15;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = fp32_to_fp16(d);
        b[i].m = fp32_to_fp16(min);
        for (int j = 0; j < kQK / 2; ++j) {
            const int lo = std::min(15, int(int8_t((x[j] - min) * id + 0.5f)));
            const int hi = std::min(15, int(int8_t((x[j + kQK / 2] - min) * id + 0.5f)));
            b[i].qs[j] = uint8_t(lo | (hi << 4));
        }
    }
}

void quantize_q5_0(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ5_0*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float* x = src + i * kQK;
        const float d = signed_absmax(x) / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = fp32_to_fp16(d);
        uint32_t qh = 0;
        for (int j = 0; j < kQK / 2; ++j) {
            const int lo = std::min(31, int(int8_t(x[j] * id + 16.5f)));
            const int hi = std::min(31, int(int8_t(x[j + kQK / 2] * id + 16.5f)));
            b[i].qs[j] = uint8_t((lo & 0x0F) | ((hi & 0x0F) << 4));
            qh |= uint32_t((lo >> 4) & 1) << j;
            qh |= uint32_t((hi >> 4) & 1) << (j + kQK / 2);
        }
        std::memcpy(b[i].qh, &qh, sizeof qh);
    }
}

void quantize_q5_1(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ5_1*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float* x = src + i * kQK;
        float min, max;
        min_max(x, min, max);
        const float d = (max - min) / 31;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = fp32_to_fp16(d);
        b[i].m = fp32_to_fp16(min);
        uint32_t qh = 0;
        for (int j = 0; j < kQK / 2; ++j) {
            const int lo = uint8_t((x[j] - min) * id + 0.5f);
            const int hi = uint8_t((x[j + kQK / 2] - min) * id + 0.5f);
            b[i].qs[j] = uint8_t((lo & 0x0F) | ((hi & 0x0F) << 4));
            qh |= uint32_t((lo >> 4) & 1) << j;
            qh |= uint32_t((hi >> 4) & 1) << (j + kQK / 2);
        }
        std::memcpy(b[i].qh, &qh, sizeof qh);
    }
}

// d = amax / 127, q = round(x / d); returns d. The reference (weights) form multiplies by
// 1/d and rounds half away from zero; the runtime (activations) form multiplies by 127/amax
// and rounds half to even, as llama.cpp's x86 code does.
template <bool kRuntime>
inline float quantize_block_q8(const float* x, int8_t* qs) {
    float amax = 0.0f;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    if (kRuntime) {
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        for (int j = 0; j < kQK; ++j) qs[j] = int8_t(std::nearbyint(x[j] * id));
    } else {
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        for (int j = 0; j < kQK; ++j) qs[j] = int8_t(std::round(x[j] * id));
    }
    return d;
}

template <bool kRuntime>
void quantize_q8_0(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ8_0*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i)
        b[i].d = fp32_to_fp16(quantize_block_q8<kRuntime>(src + i * kQK, b[i].qs));
}

template <bool kRuntime>
void quantize_q8_1(const float* src, void* dst, int64_t n) {
    auto* b = static_cast<BlockQ8_1*>(dst);
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float d = quantize_block_q8<kRuntime>(src + i * kQK, b[i].qs);
        int sum = 0;
        for (int j = 0; j < kQK; ++j) sum += b[i].qs[j];
        b[i].d = fp32_to_fp16(d);
        b[i].s = fp32_to_fp16(float(sum) * d);
    }
}

// ---- GEMM ----

inline int dot_block(const int* qw, const int8_t* qx) {
    int sum = 0;
    for (int j = 0; j < kQK; ++j) sum += qw[j] * qx[j];
    return sum;
}

// Dot of one weight row with one activation row; Traits says how to read a weight block.
template <class Traits>
float dot_row(int64_t n, const typename Traits::Block* w, const typename Traits::Act* x) {
    float sum = 0.0f;
    int q[kQK];
    for (int64_t i = 0; i < n / kQK; ++i) {
        Traits::quants(w[i], q);
        const int sumi = dot_block(q, x[i].qs);
        sum += Traits::combine(w[i], x[i], sumi);
    }
    return sum;
}

// Offset types: x = (q - offset) * d, activations Q8_0.
template <class B, int kOffset, bool kFive>
struct OffsetTraits {
    using Block = B;
    using Act = BlockQ8_0;
    static void quants(const B& b, int q[kQK]) {
        if constexpr (kFive) {
            nibbles_with_high_bit(b.qs, b.qh, q);
        } else {
            nibbles(b.qs, q);
        }
        for (int j = 0; j < kQK; ++j) q[j] -= kOffset;
    }
    static float combine(const B& b, const Act& x, int sumi) {
        return float(sumi) * (fp16_to_fp32(b.d) * fp16_to_fp32(x.d));
    }
};

// Min types: x = q * d + m, activations Q8_1.
template <class B, bool kFive>
struct MinTraits {
    using Block = B;
    using Act = BlockQ8_1;
    static void quants(const B& b, int q[kQK]) {
        if constexpr (kFive) {
            nibbles_with_high_bit(b.qs, b.qh, q);
        } else {
            nibbles(b.qs, q);
        }
    }
    static float combine(const B& b, const Act& x, int sumi) {
        return float(sumi) * (fp16_to_fp32(b.d) * fp16_to_fp32(x.d)) +
               fp16_to_fp32(b.m) * fp16_to_fp32(x.s);
    }
};

struct Q8Traits {
    using Block = BlockQ8_0;
    using Act = BlockQ8_0;
    static void quants(const Block& b, int q[kQK]) {
        for (int j = 0; j < kQK; ++j) q[j] = b.qs[j];
    }
    static float combine(const Block& b, const Act& x, int sumi) {
        return float(sumi) * (fp16_to_fp32(b.d) * fp16_to_fp32(x.d));
    }
};

// Q8_0 x Q8_0 with llama.cpp's x86 rounding, to the bit: eight float lanes, lane j
// accumulating fma(d_w * d_x, sum of products of bytes 4j..4j+3) block by block, then summed
// as hsum_float_8 does. Greedy continuations of Q8_0 models then match llama.cpp's exactly.
float dot_row_q8_0(int64_t n, const BlockQ8_0* w, const BlockQ8_0* x) {
    float lanes[8] = {};
    for (int64_t i = 0; i < n / kQK; ++i) {
        const float d = fp16_to_fp32(w[i].d) * fp16_to_fp32(x[i].d);
        for (int j = 0; j < 8; ++j) {
            int sum = 0;
            for (int k = 4 * j; k < 4 * j + 4; ++k) sum += int(w[i].qs[k]) * int(x[i].qs[k]);
            lanes[j] = std::fma(d, float(sum), lanes[j]);
        }
    }
    float half[4];
    for (int j = 0; j < 4; ++j) half[j] = lanes[j + 4] + lanes[j];
    return (half[0] + half[2]) + (half[1] + half[3]);
}

template <class Traits>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
          size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(x);
    for (int t = 0; t < n_tokens; ++t) {
        const auto* xr = reinterpret_cast<const typename Traits::Act*>(xb + t * x_row_bytes);
        for (int r = 0; r < n_rows; ++r) {
            const auto* wr = reinterpret_cast<const typename Traits::Block*>(wb + r * w_row_bytes);
            if constexpr (std::is_same_v<Traits, Q8Traits>) {
                out[t * out_stride + r] = dot_row_q8_0(n, wr, xr);
            } else {
                out[t * out_stride + r] = dot_row<Traits>(n, wr, xr);
            }
        }
    }
}

}  // namespace

void register_legacy_scalar(KernelTable& t) {
    t[DType::Q4_0] = {dequantize_q4_0, quantize_q4_0, DType::Q8_0,
                      gemm<OffsetTraits<BlockQ4_0, 8, false>>};
    t[DType::Q5_0] = {dequantize_q5_0, quantize_q5_0, DType::Q8_0,
                      gemm<OffsetTraits<BlockQ5_0, 16, true>>};
    t[DType::Q4_1] = {dequantize_q4_1, quantize_q4_1, DType::Q8_1,
                      gemm<MinTraits<BlockQ4_1, false>>};
    t[DType::Q5_1] = {dequantize_q5_1, quantize_q5_1, DType::Q8_1,
                      gemm<MinTraits<BlockQ5_1, true>>};
    t[DType::Q8_0] = {dequantize_q8_0, quantize_q8_0<false>, DType::Q8_0, gemm<Q8Traits>,
                      quantize_q8_0<true>};
    // Q8_1 is an activation format only: no gemm.
    t[DType::Q8_1] = {dequantize_q8_1, quantize_q8_1<false>, DType::Q8_1, nullptr,
                      quantize_q8_1<true>};
}

}  // namespace citadel
