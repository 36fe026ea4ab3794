// Scalar reference of the attention vector operations.
#include <cmath>

#include "core/fp16.h"
#include "tensor/kernels.h"

namespace citadel {
namespace {

float dot_f16_f32(int64_t n, const uint16_t* a, const float* b) {
    float sum = 0.0f;
    for (int64_t i = 0; i < n; ++i) sum += fp16_to_fp32(a[i]) * b[i];
    return sum;
}

// Dot of two F16 vectors with the exact rounding of llama.cpp's AVX-512 build (whose
// attention we match token for token): whole groups of 64 go through 4 x 16 FMA lanes,
// summed in the order of _mm512_reduce_add_ps; the tail is summed in double.
float dot_f16_f16(int64_t n, const uint16_t* a, const uint16_t* b) {
    const int64_t n_groups = n / 64 * 64;
    float lanes[4][16] = {};
    for (int64_t i = 0; i < n_groups; i += 64) {
        for (int r = 0; r < 4; ++r) {
            for (int l = 0; l < 16; ++l) {
                const int64_t k = i + r * 16 + l;
                lanes[r][l] = std::fma(fp16_to_fp32(a[k]), fp16_to_fp32(b[k]), lanes[r][l]);
            }
        }
    }
    float v[16];
    for (int l = 0; l < 16; ++l) v[l] = (lanes[0][l] + lanes[2][l]) + (lanes[1][l] + lanes[3][l]);
    float h8[8], h4[4];
    for (int l = 0; l < 8; ++l) h8[l] = v[l + 8] + v[l];
    for (int l = 0; l < 4; ++l) h4[l] = h8[l + 4] + h8[l];
    double sum = double((h4[0] + h4[2]) + (h4[1] + h4[3]));
    for (int64_t i = n_groups; i < n; ++i) sum += double(fp16_to_fp32(a[i]) * fp16_to_fp32(b[i]));
    return float(sum);
}

void axpy_f16_f32(int64_t n, float alpha, const uint16_t* x, float* y) {
    for (int64_t i = 0; i < n; ++i) y[i] += alpha * fp16_to_fp32(x[i]);
}

void f32_to_f16(const float* src, uint16_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

void scale_f16(int64_t n, uint16_t* y, float s) {
    for (int64_t i = 0; i < n; ++i) y[i] = fp32_to_fp16(fp16_to_fp32(y[i]) * s);
}

void mad_f16(int64_t n, uint16_t* y, const uint16_t* x, float s) {
    for (int64_t i = 0; i < n; ++i) {
        y[i] = fp32_to_fp16(std::fma(fp16_to_fp32(x[i]), s, fp16_to_fp32(y[i])));
    }
}

void swiglu(int64_t n, float* gate, const float* up) {
    for (int64_t i = 0; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace

float dot_f16_f16_compat(int64_t n, const uint16_t* a, const uint16_t* b) {
    return dot_f16_f16(n, a, b);
}

void register_vec_scalar(KernelTable& t) {
    t.vec = {.dot_f16_f32 = dot_f16_f32,
             .dot_f16_f16 = dot_f16_f16,
             .axpy_f16_f32 = axpy_f16_f32,
             .f32_to_f16 = f32_to_f16,
             .scale_f16 = scale_f16,
             .mad_f16 = mad_f16,
             .swiglu = swiglu};
}

}  // namespace citadel
