// AVX-512 attention tile: the frame of attention_frame.h on 16-float registers (16 keys per
// key tile). Heads whose sizes are not multiples of 16 use the scalar tile.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "tensor/kernels.h"
#include "tensor/kernels/attention_frame.h"
#include "tensor/kernels/exp_avx512.h"
#include "tensor/kernels/transpose_avx512.h"

namespace citadel {

void attention_tile_scalar(const AttentionTile& a);  // attention_scalar.cpp

namespace {

using attention::Tile;

__m512 load_f16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// The kernel of attention_frame.h on 16-float registers.
struct Avx512 : Vec512 {
    static constexpr int kLanes = 16;
    static constexpr int kWide = 4;
    static constexpr int chains(int q) { return q >= 4 ? 2 : q == 1 ? 8 : 4; }
    static Reg zero() { return _mm512_setzero_ps(); }
    static Reg load(const float* p) { return _mm512_load_ps(p); }
    static void store(float* p, Reg v) { _mm512_store_ps(p, v); }
    static Reg add(Reg a, Reg b) { return _mm512_add_ps(a, b); }
    static float hmax(Reg v) { return _mm512_reduce_max_ps(v); }
    static float hsum(Reg v) { return _mm512_reduce_add_ps(v); }
    static Reg exp(Reg v) { return exp512(v); }
    static Reg masked_scale(Reg v, int visible, float scale) {
        const __mmask16 mask = visible >= 16 ? __mmask16(0xffff) : __mmask16((1u << visible) - 1);
        return _mm512_mask_mul_ps(_mm512_set1_ps(-INFINITY), mask, v, _mm512_set1_ps(scale));
    }

    // Converts keys j0..j0+nk-1 (transposed) and values to F32; missing keys are zero.
    static void load_keys(const AttentionTile& a, int64_t j0, int nk, const Tile& t) {
        for (int64_t d0 = 0; d0 < a.head_dim; d0 += 16) {
            __m512 cols[kLanes];
            for (int k = 0; k < kLanes; ++k) {
                cols[k] = k < nk ? load_f16(a.key(j0 + k) + d0) : _mm512_setzero_ps();
            }
            transpose16(cols);  // cols[d]: dimension d0 + d of the 16 keys
            for (int d = 0; d < 16; ++d) _mm512_store_ps(t.kt + (d0 + d) * kLanes, cols[d]);
        }
        for (int k = 0; k < kLanes; ++k) {
            for (int64_t d = 0; d < a.head_dim_v; d += 16) {
                const __m512 v = k < nk ? load_f16(a.value(j0 + k) + d) : _mm512_setzero_ps();
                _mm512_store_ps(t.vt + k * a.head_dim_v + d, v);
            }
        }
    }
};

void attention_tile_dispatch(const AttentionTile& a) {
    if (a.head_dim % 16 != 0 || a.head_dim_v % 16 != 0) return attention_tile_scalar(a);
    attention::run_tile<Avx512>(a);
}

}  // namespace

void register_attention_avx512(KernelTable& t) {
    t.attention_tile = attention_tile_dispatch;
}

}  // namespace citadel
