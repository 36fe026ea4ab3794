// 16 x 16 float transpose in AVX-512 registers (for *_avx512.cpp files only).
#pragma once

#include <immintrin.h>

namespace citadel {

// In place: r[i] lane j <- r[j] lane i.
inline void transpose16(__m512 r[16]) {
    __m512 t[16], u[16];
    for (int i = 0; i < 8; ++i) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    // u[4g + j], 128-bit lane L: column 4L + j of rows 4g..4g+3.
    for (int g = 0; g < 4; ++g) {
        const __m512* q = &t[4 * g];
        u[4 * g + 0] = _mm512_shuffle_ps(q[0], q[2], 0x44);
        u[4 * g + 1] = _mm512_shuffle_ps(q[0], q[2], 0xEE);
        u[4 * g + 2] = _mm512_shuffle_ps(q[1], q[3], 0x44);
        u[4 * g + 3] = _mm512_shuffle_ps(q[1], q[3], 0xEE);
    }
    // Column c = 4L + j: lane L of u[j], u[4 + j], u[8 + j], u[12 + j].
    for (int j = 0; j < 4; ++j) {
        const __m512 v = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
        const __m512 w = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
        const __m512 v2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
        const __m512 w2 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
        r[j] = _mm512_shuffle_f32x4(v, v2, 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(v, v2, 0xDD);
        r[4 + j] = _mm512_shuffle_f32x4(w, w2, 0x88);
        r[12 + j] = _mm512_shuffle_f32x4(w, w2, 0xDD);
    }
}

}  // namespace citadel
