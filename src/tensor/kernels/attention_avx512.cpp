// AVX-512 attention tile (flash-attention style): keys and values are taken 16 at a time,
// converted to F32 once per tile (keys transposed, so one FMA scores 16 keys for a query
// dimension) and shared by all the tile's queries; the softmax runs online with an AVX-512
// exp. Queries go kQueries at a time, so that each key and value load serves several queries
// and enough independent FMA chains are in flight. Heads whose sizes are not multiples of 16
// use the scalar tile.
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

// The state of one head: keys and values of the tile (shared by the heads of a group), the
// head's queries, accumulators and softmax state.
struct Tile {
    float* kt;       // [head_dim][16] keys transposed
    float* vt;       // [16][head_dim_v]
    const float* q;  // the head's first query row
    float* acc;      // [16 queries][head_dim_v]
    float* m;        // [16] running maxima
    float* l;        // [16] running sums
    float* p;        // [kQueries][16] probabilities of the current queries (aligned)
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

constexpr int kQueries = 4;  // queries that share each key and value load

// Scores of queries i..i+Q-1 against the tile, scaled, with invisible keys at -inf. Each
// query sums in C chains (C * Q >= 8 independent FMAs in flight), added pairwise at the end.
template <int Q>
void scores(const AttentionTile& a, const Tile& t, int64_t i, int64_t j0, int nk, __m512 (&s)[Q]) {
    constexpr int C = Q >= 4 ? 2 : Q == 1 ? 8 : 4;
    const float* q[Q];
    for (int u = 0; u < Q; ++u) q[u] = t.q + (i + u) * a.q_stride;
    __m512 acc[Q][C];
    for (auto& row : acc)
        for (__m512& v : row) v = _mm512_setzero_ps();
    for (int64_t d = 0; d < a.head_dim; d += C) {
        for (int c = 0; c < C; ++c) {
            const __m512 k = _mm512_load_ps(t.kt + (d + c) * kKeys);
            for (int u = 0; u < Q; ++u) {
                acc[u][c] = _mm512_fmadd_ps(_mm512_set1_ps(q[u][d + c]), k, acc[u][c]);
            }
        }
    }
    for (int u = 0; u < Q; ++u) {
        for (int w = C / 2; w >= 1; w /= 2)
            for (int c = 0; c < w; ++c) acc[u][c] = _mm512_add_ps(acc[u][c], acc[u][c + w]);
        const int64_t visible = std::min<int64_t>(nk, a.q_pos0 + i + u - j0 + 1);
        const __mmask16 mask = visible >= 16 ? __mmask16(0xffff) : __mmask16((1u << visible) - 1);
        s[u] =
            _mm512_mask_mul_ps(_mm512_set1_ps(-INFINITY), mask, acc[u][0], _mm512_set1_ps(a.scale));
    }
}

// Online softmax step of query i: updates its maximum and sum, stores its probabilities at p
// and returns the factor that rescales its accumulator.
float softmax_step(const Tile& t, int64_t i, __m512 s, float* p) {
    const float m_old = t.m[i];
    const float m_new = std::max(m_old, _mm512_reduce_max_ps(s));
    const __m512 e = exp512(_mm512_sub_ps(s, _mm512_set1_ps(m_new)));
    const float correction = m_old == m_new ? 1.0f : std::exp(m_old - m_new);
    t.l[i] = t.l[i] * correction + _mm512_reduce_add_ps(e);
    t.m[i] = m_new;
    _mm512_store_ps(p, e);
    return correction;
}

// acc[i+u][d .. d + 16 D) = acc * c[u] + p[u] . V for Q queries and D blocks of 16 dimensions:
// every value load serves Q queries.
template <int Q, int D>
void add_values(const AttentionTile& a, const Tile& t, int64_t i, int64_t d, const float (&c)[Q]) {
    __m512 o[Q][D];
    for (int u = 0; u < Q; ++u) {
        const __m512 cu = _mm512_set1_ps(c[u]);
        for (int b = 0; b < D; ++b) {
            o[u][b] =
                _mm512_mul_ps(_mm512_load_ps(t.acc + (i + u) * a.head_dim_v + d + 16 * b), cu);
        }
    }
    for (int k = 0; k < kKeys; ++k) {
        __m512 v[D];
        for (int b = 0; b < D; ++b) v[b] = _mm512_load_ps(t.vt + k * a.head_dim_v + d + 16 * b);
        for (int u = 0; u < Q; ++u) {
            const __m512 pk = _mm512_set1_ps(t.p[u * kKeys + k]);
            for (int b = 0; b < D; ++b) o[u][b] = _mm512_fmadd_ps(pk, v[b], o[u][b]);
        }
    }
    for (int u = 0; u < Q; ++u) {
        for (int b = 0; b < D; ++b) {
            _mm512_store_ps(t.acc + (i + u) * a.head_dim_v + d + 16 * b, o[u][b]);
        }
    }
}

// Queries i..i+Q-1 against the key tile at j0: scores, softmax step, values.
template <int Q>
void queries_step(const AttentionTile& a, const Tile& t, int64_t i, int64_t j0, int nk) {
    __m512 s[Q];
    scores<Q>(a, t, i, j0, nk, s);
    float c[Q];
    for (int u = 0; u < Q; ++u) c[u] = softmax_step(t, i + u, s[u], t.p + u * kKeys);
    int64_t d = 0;
    for (; d + 64 <= a.head_dim_v; d += 64) add_values<Q, 4>(a, t, i, d, c);
    for (; d < a.head_dim_v; d += 16) add_values<Q, 1>(a, t, i, d, c);
}

// All key tiles for the queries of one head (the keys are already loaded for this key tile).
void head_step(const AttentionTile& a, const Tile& t, int64_t j0, int nk) {
    // Queries before position j0 see none of this tile (positions are consecutive).
    int64_t i = std::max<int64_t>(0, j0 - a.q_pos0);
    for (; i + kQueries <= a.n_q; i += kQueries) queries_step<kQueries>(a, t, i, j0, nk);
    switch (a.n_q - i) {
        case 1:
            return queries_step<1>(a, t, i, j0, nk);
        case 2:
            return queries_step<2>(a, t, i, j0, nk);
        case 3:
            return queries_step<3>(a, t, i, j0, nk);
        default:
            return;
    }
}

void attention_tile(const AttentionTile& a) {
    float* const kt = a.scratch;
    float* const vt = kt + 16 * a.head_dim;
    float* const acc = vt + 16 * a.head_dim_v;
    const int64_t acc_floats = kAttentionTileQ * a.head_dim_v;
    float* const m = acc + a.n_heads * acc_floats;
    float* const l = m + a.n_heads * 16;
    float* const p = l + a.n_heads * 16;
    auto head = [&](int64_t g) {
        return Tile{.kt = kt,
                    .vt = vt,
                    .q = a.q + g * a.head_dim,
                    .acc = acc + g * acc_floats,
                    .m = m + g * 16,
                    .l = l + g * 16,
                    .p = p};
    };
    std::fill(acc, acc + a.n_heads * acc_floats, 0.0f);
    std::fill(m, m + a.n_heads * 16, -INFINITY);
    std::fill(l, l + a.n_heads * 16, 0.0f);
    const int64_t last = a.q_pos0 + a.n_q - 1;
    for (int64_t j0 = 0; j0 <= last; j0 += kKeys) {
        const int nk = int(std::min<int64_t>(kKeys, last + 1 - j0));
        load_keys(a, j0, nk, head(0));
        for (int64_t g = 0; g < a.n_heads; ++g) head_step(a, head(g), j0, nk);
    }
    for (int64_t g = 0; g < a.n_heads; ++g) {
        const Tile t = head(g);
        for (int64_t i = 0; i < a.n_q; ++i) {
            const __m512 inv = _mm512_set1_ps(1.0f / t.l[i]);
            float* out = a.out + i * a.out_stride + g * a.head_dim_v;
            for (int64_t d = 0; d < a.head_dim_v; d += 16) {
                _mm512_storeu_ps(out + d,
                                 _mm512_mul_ps(_mm512_load_ps(t.acc + i * a.head_dim_v + d), inv));
            }
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
