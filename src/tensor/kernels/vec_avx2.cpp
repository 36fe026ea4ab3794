// AVX2 + F16C attention vector operations.
#include <immintrin.h>

#include <cmath>

#include "core/fp16.h"
#include "tensor/kernels.h"
#include "tensor/kernels/reduce_avx2.h"

namespace citadel {

float dot_f16_f16_compat(int64_t n, const uint16_t* a, const uint16_t* b);  // vec_scalar.cpp

namespace {

__m256 load_f16x8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

float dot_f16_f32(int64_t n, const uint16_t* a, const float* b) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(load_f16x8(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(load_f16x8(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    float sum = hsum8(_mm256_add_ps(acc0, acc1));
    for (; i < n; ++i) sum += fp16_to_fp32(a[i]) * b[i];
    return sum;
}

void axpy_f16_f32(int64_t n, float alpha, const uint16_t* x, float* y) {
    const __m256 va = _mm256_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16x8(x + i), _mm256_loadu_ps(y + i)));
    }
    for (; i < n; ++i) y[i] += alpha * fp16_to_fp32(x[i]);
}

void f32_to_f16(const float* src, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
    }
    for (; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

void scale_f16(int64_t n, uint16_t* y, float s) {
    const __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 r = _mm256_mul_ps(load_f16x8(y + i), vs);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                         _mm256_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; ++i) y[i] = fp32_to_fp16(fp16_to_fp32(y[i]) * s);
}

void mad_f16(int64_t n, uint16_t* y, const uint16_t* x, float s) {
    const __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 r = _mm256_fmadd_ps(load_f16x8(x + i), vs, load_f16x8(y + i));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                         _mm256_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; ++i) {
        y[i] = fp32_to_fp16(std::fma(fp16_to_fp32(x[i]), s, fp16_to_fp32(y[i])));
    }
}

}  // namespace

void register_vec_avx2(KernelTable& t) {
    const auto scalar_swiglu = t.vec.swiglu;  // no AVX2 exp yet
    t.vec = {.dot_f16_f32 = dot_f16_f32,
             .dot_f16_f16 = dot_f16_f16_compat,  // rounding defined by the scalar one
             .axpy_f16_f32 = axpy_f16_f32,
             .f32_to_f16 = f32_to_f16,
             .scale_f16 = scale_f16,
             .mad_f16 = mad_f16,
             .swiglu = scalar_swiglu};
}

}  // namespace citadel
