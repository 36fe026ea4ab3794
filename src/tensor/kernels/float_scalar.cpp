// Scalar reference kernels for the float weight types F32, F16 and BF16.
//
// As in llama.cpp, activations take the weight's own type: F16 weights multiply F16
// activations and BF16 weights BF16 activations (both rounded to nearest even by quantize_row).
// Every product of two F16 or two BF16 values is exact in F32, so a dot product here is the
// F32 sum of exact products; that is what AVX-512 BF16's vdpbf16ps computes as well, and what
// makes our logits agree with llama.cpp's to ~1e-7 in KL instead of ~1e-5.
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

// Element type of both operands (weights and activations) and its value as F32.
struct F32Type {
    using T = float;
    static float load(T v) { return v; }
};
struct F16Type {
    using T = uint16_t;
    static float load(T v) { return fp16_to_fp32(v); }
};
struct BF16Type {
    using T = uint16_t;
    static float load(T v) { return bf16_to_fp32(v); }
};

template <class E>
void gemm(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
          size_t x_row_bytes, int n_tokens, float* out, size_t out_stride) {
    using T = typename E::T;
    const auto* wb = static_cast<const uint8_t*>(w);
    const auto* xb = static_cast<const uint8_t*>(x);
    for (int t = 0; t < n_tokens; ++t) {
        const auto* xr = reinterpret_cast<const T*>(xb + t * x_row_bytes);
        for (int r = 0; r < n_rows; ++r) {
            const auto* wr = reinterpret_cast<const T*>(wb + r * w_row_bytes);
            float sum = 0.0f;
            for (int64_t i = 0; i < n; ++i) sum += E::load(wr[i]) * E::load(xr[i]);
            out[t * out_stride + r] = sum;
        }
    }
}

}  // namespace

void register_float_scalar(KernelTable& t) {
    t[DType::F32] = {dequantize_f32, quantize_f32, DType::F32, gemm<F32Type>};
    t[DType::F16] = {dequantize_f16, quantize_f16, DType::F16, gemm<F16Type>};
    t[DType::BF16] = {dequantize_bf16, quantize_bf16, DType::BF16, gemm<BF16Type>};
}

}  // namespace citadel
