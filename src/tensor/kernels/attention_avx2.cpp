// AVX2 attention tile: the frame of attention_frame.h on 8-float registers (8 keys per key
// tile). Heads whose sizes are not multiples of 8 use the scalar tile.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "tensor/kernels.h"
#include "tensor/kernels/attention_frame.h"
#include "tensor/kernels/exp_poly.h"
#include "tensor/kernels/reduce_avx2.h"

namespace citadel {

void attention_tile_scalar(const AttentionTile& a);  // attention_scalar.cpp

namespace {

using attention::Tile;

__m256 load_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// exp_poly.h's operations on 8 floats.
struct Vec256 {
    using Reg = __m256;
    static Reg set1(float v) { return _mm256_set1_ps(v); }
    static Reg mul(Reg a, Reg b) { return _mm256_mul_ps(a, b); }
    static Reg fma(Reg a, Reg b, Reg c) { return _mm256_fmadd_ps(a, b, c); }
    static Reg fnma(Reg a, Reg b, Reg c) { return _mm256_fnmadd_ps(a, b, c); }
    static Reg round(Reg a) {
        return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
};

// e^x for 8 lanes (exp_poly.h), x clamped to [-87, 88], scaled by 2^n built in the exponent
// bits.
__m256 exp256(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    __m256 n;
    const __m256 p = exp_taylor<Vec256>(exp_reduce<Vec256>(x, n));
    const __m256i bits =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

// r[i] becomes column i of the 8x8 matrix whose rows were r[0..7].
void transpose8(__m256 (&r)[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        for (int h = 0; h < 2; ++h) {
            u[i + h] = _mm256_shuffle_ps(t[i + h], t[i + 2 + h], _MM_SHUFFLE(1, 0, 1, 0));
            u[i + 2 + h] = _mm256_shuffle_ps(t[i + h], t[i + 2 + h], _MM_SHUFFLE(3, 2, 3, 2));
        }
    }
    // u[k] (rows 0-3) and u[4 + k] (rows 4-7) hold columns order[k] (low 128 bits) and
    // order[k] + 4 (high 128 bits).
    const int order[4] = {0, 2, 1, 3};
    for (int k = 0; k < 4; ++k) {
        r[order[k]] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x20);
        r[order[k] + 4] = _mm256_permute2f128_ps(u[k], u[4 + k], 0x31);
    }
}

// The kernel of attention_frame.h on 8-float registers.
struct Avx2 : Vec256 {
    static constexpr int kLanes = 8;
    static constexpr int kWide = 2;
    static constexpr int chains(int q) { return q >= 3 ? 2 : q == 1 ? 8 : 4; }
    static Reg zero() { return _mm256_setzero_ps(); }
    static Reg load(const float* p) { return _mm256_load_ps(p); }
    static void store(float* p, Reg v) { _mm256_store_ps(p, v); }
    static Reg add(Reg a, Reg b) { return _mm256_add_ps(a, b); }
    static float hmax(Reg v) { return hmax8(v); }
    static float hsum(Reg v) { return hsum8(v); }
    static Reg exp(Reg v) { return exp256(v); }
    static Reg masked_scale(Reg v, int visible, float scale) {
        const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256 seen = _mm256_cmp_ps(lane, _mm256_set1_ps(float(visible)), _CMP_LT_OQ);
        return _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_mul_ps(v, _mm256_set1_ps(scale)),
                                seen);
    }

    // Converts keys j0..j0+nk-1 (transposed) and values to F32; missing keys are zero.
    static void load_keys(const AttentionTile& a, int64_t j0, int nk, const Tile& t) {
        for (int64_t d0 = 0; d0 < a.head_dim; d0 += 8) {
            __m256 cols[kLanes];
            for (int k = 0; k < kLanes; ++k) {
                cols[k] = k < nk ? load_f16(a.key(j0 + k) + d0) : _mm256_setzero_ps();
            }
            transpose8(cols);  // cols[d]: dimension d0 + d of the 8 keys
            for (int d = 0; d < 8; ++d) _mm256_store_ps(t.kt + (d0 + d) * kLanes, cols[d]);
        }
        for (int k = 0; k < kLanes; ++k) {
            for (int64_t d = 0; d < a.head_dim_v; d += 8) {
                const __m256 v = k < nk ? load_f16(a.value(j0 + k) + d) : _mm256_setzero_ps();
                _mm256_store_ps(t.vt + k * a.head_dim_v + d, v);
            }
        }
    }
};

void attention_tile_dispatch(const AttentionTile& a) {
    if (a.head_dim % 8 != 0 || a.head_dim_v % 8 != 0) return attention_tile_scalar(a);
    attention::run_tile<Avx2>(a);
}

}  // namespace

void register_attention_avx2(KernelTable& t) {
    t.attention_tile = attention_tile_dispatch;
}

}  // namespace citadel
