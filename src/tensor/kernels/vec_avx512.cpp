// AVX-512 attention vector operations.
#include <immintrin.h>

#include <cmath>

#include "core/fp16.h"
#include "tensor/kernels.h"
#include "tensor/kernels/exp_avx512.h"

namespace citadel {
namespace {

__m512 load_f16x16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

float dot_f16_f32(int64_t n, const uint16_t* a, const float* b) {
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm512_fmadd_ps(load_f16x16(a + i), _mm512_loadu_ps(b + i), acc0);
        acc1 = _mm512_fmadd_ps(load_f16x16(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
    }
    if (i + 16 <= n) {
        acc0 = _mm512_fmadd_ps(load_f16x16(a + i), _mm512_loadu_ps(b + i), acc0);
        i += 16;
    }
    float sum = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
    for (; i < n; ++i) sum += fp16_to_fp32(a[i]) * b[i];
    return sum;
}

// Same rounding as the scalar dot_f16_f16 (llama.cpp's AVX-512 build, see there).
float dot_f16_f16(int64_t n, const uint16_t* a, const uint16_t* b) {
    const int64_t n_groups = n / 64 * 64;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                     _mm512_setzero_ps()};
    for (int64_t i = 0; i < n_groups; i += 64) {
        for (int r = 0; r < 4; ++r) {
            acc[r] =
                _mm512_fmadd_ps(load_f16x16(a + i + 16 * r), load_f16x16(b + i + 16 * r), acc[r]);
        }
    }
    const __m512 v = _mm512_add_ps(_mm512_add_ps(acc[0], acc[2]), _mm512_add_ps(acc[1], acc[3]));
    double sum = double(_mm512_reduce_add_ps(v));
    for (int64_t i = n_groups; i < n; ++i) sum += double(fp16_to_fp32(a[i]) * fp16_to_fp32(b[i]));
    return float(sum);
}

void axpy_f16_f32(int64_t n, float alpha, const uint16_t* x, float* y) {
    const __m512 va = _mm512_set1_ps(alpha);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, load_f16x16(x + i), _mm512_loadu_ps(y + i)));
    }
    for (; i < n; ++i) y[i] += alpha * fp16_to_fp32(x[i]);
}

void f32_to_f16(const float* src, uint16_t* dst, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256i h = _mm512_cvtps_ph(_mm512_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), h);
    }
    for (; i < n; ++i) dst[i] = fp32_to_fp16(src[i]);
}

void scale_f16(int64_t n, uint16_t* y, float s) {
    const __m512 vs = _mm512_set1_ps(s);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 r = _mm512_mul_ps(load_f16x16(y + i), vs);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                            _mm512_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; ++i) y[i] = fp32_to_fp16(fp16_to_fp32(y[i]) * s);
}

void mad_f16(int64_t n, uint16_t* y, const uint16_t* x, float s) {
    const __m512 vs = _mm512_set1_ps(s);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 r = _mm512_fmadd_ps(load_f16x16(x + i), vs, load_f16x16(y + i));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                            _mm512_cvtps_ph(r, _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; ++i) {
        y[i] = fp32_to_fp16(std::fma(fp16_to_fp32(x[i]), s, fp16_to_fp32(y[i])));
    }
}

void swiglu(int64_t n, float* gate, const float* up) {
    const __m512 one = _mm512_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 g = _mm512_loadu_ps(gate + i);
        const __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), g));
        const __m512 silu = _mm512_div_ps(g, _mm512_add_ps(one, e));
        _mm512_storeu_ps(gate + i, _mm512_mul_ps(silu, _mm512_loadu_ps(up + i)));
    }
    for (; i < n; ++i) gate[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
}

}  // namespace

void register_vec_avx512(KernelTable& t) {
    t.vec = {.dot_f16_f32 = dot_f16_f32,
             .dot_f16_f16 = dot_f16_f16,
             .axpy_f16_f32 = axpy_f16_f32,
             .f32_to_f16 = f32_to_f16,
             .scale_f16 = scale_f16,
             .mad_f16 = mad_f16,
             .swiglu = swiglu};
}

}  // namespace citadel
