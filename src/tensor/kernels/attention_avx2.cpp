// AVX2 attention tile: the AVX-512 tile's algorithm (attention_avx512.cpp) on 256-bit vectors.
// Keys and values are taken 8 at a time, converted to F32 once per key tile (keys transposed,
// so one FMA scores 8 keys for a query dimension) and shared by the tile's queries and query
// heads; the softmax runs online with an AVX2 exp. Queries go kQueries at a time so that each
// key and value load serves several queries. Heads whose sizes are not multiples of 8 use the
// scalar tile.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "tensor/kernels.h"

namespace citadel {

void attention_tile_scalar(const AttentionTile& a);  // attention_scalar.cpp

namespace {

constexpr int kKeys = 8;     // keys per tile (one register of scores)
constexpr int kQueries = 4;  // queries that share each key and value load

__m256 load_f16(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// e^x for 8 lanes: x = n ln2 + r with |r| <= ln2/2, e^r by its degree-6 Taylor polynomial
// (relative error < 2e-7 there), then scaled by 2^n built in the exponent bits. Inputs below
// -87 give ~0 (2^-126 scale), above 88 are clamped.
__m256 exp256(__m256 x) {
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
    const __m256 n =
        _mm256_round_ps(_mm256_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i bits =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
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

// The state of one head, as in the AVX-512 tile.
struct Tile {
    float* kt;       // [head_dim][8] keys transposed
    float* vt;       // [8][head_dim_v]
    const float* q;  // the head's first query row
    float* acc;      // [16 queries][head_dim_v]
    float* m;        // [16] running maxima
    float* l;        // [16] running sums
    float* p;        // [kQueries][8] probabilities of the current queries (aligned)
};

// Converts keys j0..j0+nk-1 (transposed) and values to F32; missing keys are zero.
void load_keys(const AttentionTile& a, int64_t j0, int nk, const Tile& t) {
    for (int64_t d0 = 0; d0 < a.head_dim; d0 += 8) {
        __m256 cols[kKeys];
        for (int k = 0; k < kKeys; ++k) {
            cols[k] = k < nk ? load_f16(a.key(j0 + k) + d0) : _mm256_setzero_ps();
        }
        transpose8(cols);  // cols[d]: dimension d0 + d of the 8 keys
        for (int d = 0; d < 8; ++d) _mm256_store_ps(t.kt + (d0 + d) * kKeys, cols[d]);
    }
    for (int k = 0; k < kKeys; ++k) {
        for (int64_t d = 0; d < a.head_dim_v; d += 8) {
            const __m256 v = k < nk ? load_f16(a.value(j0 + k) + d) : _mm256_setzero_ps();
            _mm256_store_ps(t.vt + k * a.head_dim_v + d, v);
        }
    }
}

// Scores of queries i..i+Q-1 against the tile, scaled, with invisible keys at -inf. Each
// query sums in C chains (C * Q >= 8 independent FMAs in flight), added pairwise at the end.
template <int Q>
void scores(const AttentionTile& a, const Tile& t, int64_t i, int64_t j0, int nk, __m256 (&s)[Q]) {
    constexpr int C = Q >= 3 ? 2 : Q == 1 ? 8 : 4;
    const float* q[Q];
    for (int u = 0; u < Q; ++u) q[u] = t.q + (i + u) * a.q_stride;
    __m256 acc[Q][C];
    for (auto& row : acc)
        for (__m256& v : row) v = _mm256_setzero_ps();
    for (int64_t d = 0; d < a.head_dim; d += C) {
        for (int c = 0; c < C; ++c) {
            const __m256 k = _mm256_load_ps(t.kt + (d + c) * kKeys);
            for (int u = 0; u < Q; ++u) {
                acc[u][c] = _mm256_fmadd_ps(_mm256_broadcast_ss(q[u] + d + c), k, acc[u][c]);
            }
        }
    }
    const __m256 lane = _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7);
    for (int u = 0; u < Q; ++u) {
        for (int w = C / 2; w >= 1; w /= 2)
            for (int c = 0; c < w; ++c) acc[u][c] = _mm256_add_ps(acc[u][c], acc[u][c + w]);
        const int64_t visible = std::min<int64_t>(nk, a.q_pos0 + i + u - j0 + 1);
        const __m256 seen = _mm256_cmp_ps(lane, _mm256_set1_ps(float(visible)), _CMP_LT_OQ);
        s[u] = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY),
                                _mm256_mul_ps(acc[u][0], _mm256_set1_ps(a.scale)), seen);
    }
}

// Online softmax step of query i: updates its maximum and sum, stores its probabilities at p
// and returns the factor that rescales its accumulator.
float softmax_step(const Tile& t, int64_t i, __m256 s, float* p) {
    const float m_old = t.m[i];
    const float m_new = std::max(m_old, hmax(s));
    const __m256 e = exp256(_mm256_sub_ps(s, _mm256_set1_ps(m_new)));
    // Invisible keys (score -inf) get exactly 0, not exp's floor.
    const __m256 e_real = _mm256_blendv_ps(e, _mm256_setzero_ps(),
                                           _mm256_cmp_ps(s, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ));
    const float correction = m_old == m_new ? 1.0f : std::exp(m_old - m_new);
    t.l[i] = t.l[i] * correction + hsum(e_real);
    t.m[i] = m_new;
    _mm256_store_ps(p, e_real);
    return correction;
}

// acc[i+u][d .. d + 8 D) = acc * c[u] + p[u] . V for Q queries and D blocks of 8 dimensions:
// every value load serves Q queries.
template <int Q, int D>
void add_values(const AttentionTile& a, const Tile& t, int64_t i, int64_t d, const float (&c)[Q]) {
    __m256 o[Q][D];
    for (int u = 0; u < Q; ++u) {
        const __m256 cu = _mm256_set1_ps(c[u]);
        for (int b = 0; b < D; ++b) {
            o[u][b] = _mm256_mul_ps(_mm256_load_ps(t.acc + (i + u) * a.head_dim_v + d + 8 * b), cu);
        }
    }
    for (int k = 0; k < kKeys; ++k) {
        __m256 v[D];
        for (int b = 0; b < D; ++b) v[b] = _mm256_load_ps(t.vt + k * a.head_dim_v + d + 8 * b);
        for (int u = 0; u < Q; ++u) {
            const __m256 pk = _mm256_broadcast_ss(t.p + u * kKeys + k);
            for (int b = 0; b < D; ++b) o[u][b] = _mm256_fmadd_ps(pk, v[b], o[u][b]);
        }
    }
    for (int u = 0; u < Q; ++u) {
        for (int b = 0; b < D; ++b) {
            _mm256_store_ps(t.acc + (i + u) * a.head_dim_v + d + 8 * b, o[u][b]);
        }
    }
}

// Queries i..i+Q-1 against the key tile at j0: scores, softmax step, values.
template <int Q>
void queries_step(const AttentionTile& a, const Tile& t, int64_t i, int64_t j0, int nk) {
    __m256 s[Q];
    scores<Q>(a, t, i, j0, nk, s);
    float c[Q];
    for (int u = 0; u < Q; ++u) c[u] = softmax_step(t, i + u, s[u], t.p + u * kKeys);
    int64_t d = 0;
    for (; d + 16 <= a.head_dim_v; d += 16) add_values<Q, 2>(a, t, i, d, c);
    for (; d < a.head_dim_v; d += 8) add_values<Q, 1>(a, t, i, d, c);
}

// The queries of one head against one key tile (its keys are already loaded).
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
    // The AVX-512 tile's scratch layout (room for 16 keys; 8 are used).
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
            const __m256 inv = _mm256_set1_ps(1.0f / t.l[i]);
            float* out = a.out + i * a.out_stride + g * a.head_dim_v;
            for (int64_t d = 0; d < a.head_dim_v; d += 8) {
                _mm256_storeu_ps(out + d,
                                 _mm256_mul_ps(_mm256_load_ps(t.acc + i * a.head_dim_v + d), inv));
            }
        }
    }
}

void attention_tile_dispatch(const AttentionTile& a) {
    if (a.head_dim % 8 != 0 || a.head_dim_v % 8 != 0) return attention_tile_scalar(a);
    attention_tile(a);
}

}  // namespace

void register_attention_avx2(KernelTable& t) {
    t.attention_tile = attention_tile_dispatch;
}

}  // namespace citadel
