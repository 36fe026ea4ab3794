// Scalar reference of the attention vector operations.
#include "core/fp16.h"
#include "tensor/kernels.h"

namespace citadel {
namespace {

float dot_f16_f32(int64_t n, const uint16_t* a, const float* b) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) sum += fp16_to_fp32(a[i]) * b[i];
    return sum;
}

float dot_f16_f16(int64_t n, const uint16_t* a, const uint16_t* b) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) sum += fp16_to_fp32(a[i]) * fp16_to_fp32(b[i]);
    return sum;
}

void axpy_f16_f32(int64_t n, float alpha, const uint16_t* x, float* y) {
    for (int64_t i = 0; i < n; ++i) y[i] += alpha * fp16_to_fp32(x[i]);
}

void f32_to_f16(const float* src, uint16_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

}  // namespace

void register_vec_scalar(KernelTable& t) {
    t.vec = {.dot_f16_f32 = dot_f16_f32,
             .dot_f16_f16 = dot_f16_f16,
             .axpy_f16_f32 = axpy_f16_f32,
             .f32_to_f16 = f32_to_f16};
}

}  // namespace citadel
