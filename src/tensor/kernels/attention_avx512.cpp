// AVX-512 attention tile (flash-attention style): keys and values are taken 16 at a time,
// converted to F32 once per tile (keys transposed, so one FMA scores 16 keys for a query
// dimension) and shared by all the tile's queries; the softmax runs online with an AVX-512
// exp. Heads whose sizes are not multiples of 16 use the scalar tile.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "tensor/kernels.h"
#include "tensor/kernels/exp_avx512.h"
#include "tensor/kernels/transpose_avx512.h"

namespace citadel {

void attention_tile_scalar(const AttentionTile& a);  // attention_scalar.cpp

namespace {

constexpr int kKeys = 16;  // keys per tile (one register of scores)

__m512 load_f16(const uint16_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

struct Tile {
    float* kt;   // [head_dim][16] keys transposed
    float* vt;   // [16][head_dim_v]
    float* acc;  // [16 queries][head_dim_v]
    float* m;    // [16] running maxima
    float* l;    // [16] running sums
    float* p;    // [16] probabilities of the current query (aligned)
};

// Converts keys j0..j0+nk-1 (transposed) and values to F32; missing keys are zero.
void load_keys(const AttentionTile& a, int64_t j0, int nk, const Tile& t) {
    for (int64_t d0 = 0; d0 < a.head_dim; d0 += 16) {
        __m512 cols[kKeys];
        for (int k = 0; k < kKeys; ++k) {
            cols[k] = k < nk ? load_f16(a.key(j0 + k) + d0) : _mm512_setzero_ps();
        }
        transpose16(cols);  // cols[d]: dimension d0 + d of the 16 keys
        for (int d = 0; d < 16; ++d) _mm512_store_ps(t.kt + (d0 + d) * kKeys, cols[d]);
    }
    for (int k = 0; k < kKeys; ++k) {
        for (int64_t d = 0; d < a.head_dim_v; d += 16) {
            const __m512 v = k < nk ? load_f16(a.value(j0 + k) + d) : _mm512_setzero_ps();
            _mm512_store_ps(t.vt + k * a.head_dim_v + d, v);
        }
    }
}

// Scores of query i against the tile, scaled, with invisible keys at -inf.
__m512 scores(const AttentionTile& a, const Tile& t, int64_t i, int64_t j0, int nk) {
    const float* q = a.q + i * a.q_stride;
    __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
    for (int64_t d = 0; d < a.head_dim; d += 4) {
        for (int u = 0; u < 4; ++u) {
            s[u] = _mm512_fmadd_ps(_mm512_set1_ps(q[d + u]), _mm512_load_ps(t.kt + (d + u) * kKeys),
                                   s[u]);
        }
    }
    const __m512 sum = _mm512_add_ps(_mm512_add_ps(s[0], s[1]), _mm512_add_ps(s[2], s[3]));
    const int64_t visible = std::min<int64_t>(nk, a.q_pos0 + i - j0 + 1);
    const __mmask16 mask = visible >= 16 ? __mmask16(0xffff) : __mmask16((1u << visible) - 1);
    return _mm512_mask_mul_ps(_mm512_set1_ps(-INFINITY), mask, sum, _mm512_set1_ps(a.scale));
}

// Online softmax step of query i: rescale its accumulator and add p . V of the tile.
void accumulate(const AttentionTile& a, const Tile& t, int64_t i, __m512 s) {
    const float m_old = t.m[i];
    const float m_new = std::max(m_old, _mm512_reduce_max_ps(s));
    const __m512 p = exp512(_mm512_sub_ps(s, _mm512_set1_ps(m_new)));
    const float correction = m_old == m_new ? 1.0f : std::exp(m_old - m_new);
    t.l[i] = t.l[i] * correction + _mm512_reduce_add_ps(p);
    t.m[i] = m_new;
    _mm512_store_ps(t.p, p);
    float* acc = t.acc + i * a.head_dim_v;
    const __m512 c = _mm512_set1_ps(correction);
    for (int64_t d = 0; d < a.head_dim_v; d += 16) {
        __m512 o = _mm512_mul_ps(_mm512_load_ps(acc + d), c);
        for (int k = 0; k < kKeys; ++k) {
            o = _mm512_fmadd_ps(_mm512_set1_ps(t.p[k]), _mm512_load_ps(t.vt + k * a.head_dim_v + d),
                                o);
        }
        _mm512_store_ps(acc + d, o);
    }
}

void attention_tile(const AttentionTile& a) {
    float* const kt = a.scratch;
    float* const vt = kt + 16 * a.head_dim;
    float* const acc = vt + 16 * a.head_dim_v;
    float* const m = acc + kAttentionTileQ * a.head_dim_v;
    const Tile t{.kt = kt, .vt = vt, .acc = acc, .m = m, .l = m + 16, .p = m + 32};
    std::fill(t.acc, t.acc + a.n_q * a.head_dim_v, 0.0f);
    std::fill(t.m, t.m + 16, -INFINITY);
    std::fill(t.l, t.l + 16, 0.0f);
    const int64_t last = a.q_pos0 + a.n_q - 1;
    for (int64_t j0 = 0; j0 <= last; j0 += kKeys) {
        const int nk = int(std::min<int64_t>(kKeys, last + 1 - j0));
        load_keys(a, j0, nk, t);
        for (int64_t i = 0; i < a.n_q; ++i) {
            if (j0 > a.q_pos0 + i) continue;  // the whole tile is in this query's future
            accumulate(a, t, i, scores(a, t, i, j0, nk));
        }
    }
    for (int64_t i = 0; i < a.n_q; ++i) {
        const __m512 inv = _mm512_set1_ps(1.0f / t.l[i]);
        for (int64_t d = 0; d < a.head_dim_v; d += 16) {
            _mm512_storeu_ps(a.out + i * a.out_stride + d,
                             _mm512_mul_ps(_mm512_load_ps(t.acc + i * a.head_dim_v + d), inv));
        }
    }
}

void attention_tile_dispatch(const AttentionTile& a) {
    if (a.head_dim % 16 != 0 || a.head_dim_v % 16 != 0) return attention_tile_scalar(a);
    attention_tile(a);
}

}  // namespace

void register_attention_avx512(KernelTable& t) {
    t.attention_tile = attention_tile_dispatch;
}

}  // namespace citadel
