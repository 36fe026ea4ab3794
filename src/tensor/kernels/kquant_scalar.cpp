// Scalar reference kernels of the K-quants (Q2_K..Q6_K with Q8_K activations). Readable on
// purpose: every SIMD variant is tested against these.
#include <cstring>

#include "tensor/blocks.h"
#include "tensor/kernels.h"
#include "tensor/kernels/kquant_common.h"

namespace citadel {
namespace {

using kquant::Unpacked;

template <typename Block>
void dequantize_row(const void* src, float* dst, int64_t n) {
    Unpacked u;
    for (int64_t b = 0; b < n / kQK_K; ++b) {
        kquant::unpack(*kquant::block_at<Block>(src, b), u);
        for (int i = 0; i < kQK_K; ++i) {
            const float scale = u.d * float(u.sc[i / 16]);
            const float min = u.dmin * float(u.mn[i / 16]);
            dst[b * kQK_K + i] = scale * float(u.q[i]) - min;
        }
    }
}

void dequantize_row_q8_k(const void* src, float* dst, int64_t n) {
    for (int64_t b = 0; b < n / kQK_K; ++b) {
        const BlockQ8_K& x = *kquant::block_at<BlockQ8_K>(src, b);
        for (int i = 0; i < kQK_K; ++i) dst[b * kQK_K + i] = x.d * float(x.qs[i]);
    }
}

// Contribution of one unpacked weight super-block and one Q8_K block to a dot product; the
// SIMD kernels form the same two integer sums and combine them in the same order.
float block_dot(const Unpacked& w, const BlockQ8_K& x) {
    int32_t scaled_sum = 0;
    for (int j = 0; j < 16; ++j) {
        int32_t sum = 0;
        for (int i = 16 * j; i < 16 * j + 16; ++i) sum += int32_t(w.q[i]) * x.qs[i];
        scaled_sum += int32_t(w.sc[j]) * sum;
    }
    int32_t min_sum = 0;
    for (int j = 0; j < 16; ++j) min_sum += int32_t(w.mn[j]) * x.bsums[j];
    const float part = float(scaled_sum) * (w.d * x.d);
    return part + float(min_sum) * -(w.dmin * x.d);
}

template <typename Block>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
          size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    const auto* w_bytes = static_cast<const uint8_t*>(w);
    const auto* x_bytes = static_cast<const uint8_t*>(x);
    Unpacked u;
    for (int r = 0; r < n_rows; ++r) {
        for (int t = 0; t < n_tokens; ++t) out[t * out_stride + r] = 0.0f;
        for (int64_t b = 0; b < n / kQK_K; ++b) {
            kquant::unpack(*kquant::block_at<Block>(w_bytes + r * w_row_bytes, b), u);
            for (int t = 0; t < n_tokens; ++t) {
                const auto& xb = *kquant::block_at<BlockQ8_K>(x_bytes + t * x_row_bytes, b);
                out[t * out_stride + r] += block_dot(u, xb);
            }
        }
    }
}

template <typename Block>
TypeKernels kquant_kernels(QuantizeRowFn quantize) {
    return TypeKernels{.dequantize_row = dequantize_row<Block>,
                       .quantize_row = quantize,
                       .act_type = DType::Q8_K,
                       .gemm = gemm<Block>};
}

}  // namespace

void register_kquant_scalar(KernelTable& t) {
    t[DType::Q2_K] = kquant_kernels<BlockQ2_K>(kquant::quantize_row_q2_k);
    t[DType::Q3_K] = kquant_kernels<BlockQ3_K>(kquant::quantize_row_q3_k);
    t[DType::Q4_K] = kquant_kernels<BlockQ4_K>(kquant::quantize_row_q4_k);
    t[DType::Q5_K] = kquant_kernels<BlockQ5_K>(kquant::quantize_row_q5_k);
    t[DType::Q6_K] = kquant_kernels<BlockQ6_K>(kquant::quantize_row_q6_k);
    t[DType::Q8_K] = TypeKernels{.dequantize_row = dequantize_row_q8_k,
                                 .quantize_row = kquant::quantize_row_q8_k,
                                 .act_type = DType::Q8_K,
                                 .gemm = nullptr};
}

}  // namespace citadel
