// Vector exponential for AVX-512 kernels (include only from *_avx512.cpp files).
#pragma once

#include <immintrin.h>

#include "tensor/kernels/exp_poly.h"

namespace citadel {

// exp_poly.h's operations on 16 floats.
struct Vec512 {
    using Reg = __m512;
    static Reg set1(float v) { return _mm512_set1_ps(v); }
    static Reg mul(Reg a, Reg b) { return _mm512_mul_ps(a, b); }
    static Reg fma(Reg a, Reg b, Reg c) { return _mm512_fmadd_ps(a, b, c); }
    static Reg fnma(Reg a, Reg b, Reg c) { return _mm512_fnmadd_ps(a, b, c); }
    static Reg round(Reg a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT); }
};

// e^x for 16 lanes (exp_poly.h), scaled by 2^n with scalef. Inputs below -87 give ~0.
inline __m512 exp512(__m512 x) {
    __m512 n;
    const __m512 r = exp_reduce<Vec512>(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), n);
    return _mm512_scalef_ps(exp_taylor<Vec512>(r), n);
}

}  // namespace citadel
