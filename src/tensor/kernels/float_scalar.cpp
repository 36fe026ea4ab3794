// Scalar reference kernels for the float weight types F32, F16 and BF16.
//
// Activations are F32 for all three: converting them to F16 / BF16 (as llama.cpp does) would
// add a rounding error per element for no gain on a CPU that converts weights to F32 anyway.
#include "core/fp16.h"
#include "tensor/kernels.h"

namespace citadel {
namespace {

void dequantize_f32(const void* src, float* dst, int64_t n) {
    const auto* s = static_cast<const float*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = s[i];
}

void dequantize_f16(const void* src, float* dst, int64_t n) {
    const auto* s = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(s[i]);
}

void dequantize_bf16(const void* src, float* dst, int64_t n) {
    const auto* s = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(s[i]);
}

void quantize_f32(const float* src, void* dst, int64_t n) {
    auto* d = static_cast<float*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = src[i];
}

void quantize_f16(const float* src, void* dst, int64_t n) {
    auto* d = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_fp16(src[i]);
}

void quantize_bf16(const float* src, void* dst, int64_t n) {
    auto* d = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = fp32_to_bf16(src[i]);
}

struct F32Weight {
    using T = float;
    static float load(T v) { return v; }
};
struct F16Weight {
    using T = uint16_t;
    static float load(T v) { return fp16_to_fp32(v); }
};
struct BF16Weight {
    using T = uint16_t;
    static float load(T v) { return bf16_to_fp32(v); }
};

template <class W>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
          size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(x);
    for (int t = 0; t < n_tokens; ++t) {
        const auto* xr = reinterpret_cast<const float*>(xb + t * x_row_bytes);
        for (int r = 0; r < n_rows; ++r) {
            const auto* wr = reinterpret_cast<const typename W::T*>(wb + r * w_row_bytes);
            float sum = 0.0f;
            for (int64_t i = 0; i < n; ++i) sum += W::load(wr[i]) * xr[i];
            out[t * out_stride + r] = sum;
        }
    }
}

}  // namespace

void register_float_scalar(KernelTable& t) {
    t[DType::F32] = {dequantize_f32, quantize_f32, DType::F32, gemm<F32Weight>};
    t[DType::F16] = {dequantize_f16, quantize_f16, DType::F32, gemm<F16Weight>};
    t[DType::BF16] = {dequantize_bf16, quantize_bf16, DType::F32, gemm<BF16Weight>};
}

}  // namespace citadel
