// The ISA-independent part of the SIMD prompt attention tiles (flash-attention style), shared
// by attention_avx2.cpp and attention_avx512.cpp; include only from such files (the templates
// are compiled with their flags). Keys and values are taken K::kLanes at a time (one register
// of scores), converted to F32 once per key tile (keys transposed, so one FMA scores a
// register of keys for a query dimension) and shared by the tile's queries and the query
// heads of a group (GQA); the softmax runs online; queries go kQueries at a time so that each
// key and value load serves several queries. The ISA file supplies a kernel K with
//   Reg, kLanes, kWide          a register of floats; registers per wide step of add_values
//   zero load store set1 add mul fma   (fma(a, b, c) = a * b + c), hmax, hsum, exp
//   chains(Q)                   independent FMA chains per query when scoring Q queries
//   masked_scale(v, visible, s) v * s in lanes < visible, -inf elsewhere
//   load_keys(a, j0, nk, t)     keys j0.. (transposed) and values into t.kt / t.vt
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "tensor/kernels.h"

namespace citadel::attention {

constexpr int kQueries = 4;  // queries that share each key and value load

// The state of one head: keys and values of the tile (shared by the heads of a group), the
// head's queries, accumulators and softmax state.
struct Tile {
    float* kt;       // [head_dim][kLanes] keys transposed
    float* vt;       // [kLanes][head_dim_v]
    const float* q;  // the head's first query row
    float* acc;      // [16 queries][head_dim_v]
    float* m;        // [16] running maxima
    float* l;        // [16] running sums
    float* p;        // [kQueries][kLanes] probabilities of the current queries (aligned)
};

// Scores of queries i..i+Q-1 against the tile, scaled, with invisible keys at -inf. Each
// query sums in C chains, added pairwise at the end.
template <class K, int Q>
void scores(const AttentionTile& a, const Tile& t, int64_t i, int64_t j0, int nk,
            typename K::Reg (&s)[Q]) {
    using Reg = typename K::Reg;
    constexpr int C = K::chains(Q);
    const float* q[Q];
    for (int u = 0; u < Q; ++u) q[u] = t.q + (i + u) * a.q_stride;
    Reg acc[Q][C];
    for (auto& row : acc)
        for (Reg& v : row) v = K::zero();
    for (int64_t d = 0; d < a.head_dim; d += C) {
        for (int c = 0; c < C; ++c) {
            const Reg k = K::load(t.kt + (d + c) * K::kLanes);
            for (int u = 0; u < Q; ++u) acc[u][c] = K::fma(K::set1(q[u][d + c]), k, acc[u][c]);
        }
    }
    for (int u = 0; u < Q; ++u) {
        for (int w = C / 2; w >= 1; w /= 2)
            for (int c = 0; c < w; ++c) acc[u][c] = K::add(acc[u][c], acc[u][c + w]);
        const int64_t visible = std::min<int64_t>(nk, a.q_pos0 + i + u - j0 + 1);
        s[u] = K::masked_scale(acc[u][0], int(visible), a.scale);
    }
}

// The online softmax step of queries i..i+Q-1: their probabilities at t.p + u * kLanes, the
// running maxima and sums, and the factors c[u] that rescale their accumulators.
template <class K, int Q>
void probabilities(const AttentionTile& a, const Tile& t, int64_t i, int64_t j0, int nk,
                   float (&c)[Q]) {
    typename K::Reg s[Q];
    scores<K, Q>(a, t, i, j0, nk, s);
    for (int u = 0; u < Q; ++u) {
        const float m_old = t.m[i + u];
        const float m_new = std::max(m_old, K::hmax(s[u]));
        const typename K::Reg e = K::exp(K::add(s[u], K::set1(-m_new)));
        const float correction = m_old == m_new ? 1.0f : std::exp(m_old - m_new);
        t.l[i + u] = t.l[i + u] * correction + K::hsum(e);
        t.m[i + u] = m_new;
        K::store(t.p + u * K::kLanes, e);
        c[u] = correction;
    }
}

// acc[i+u][d .. d + D registers) = acc * c[u] + p[u] . V for Q queries: every value load
// serves Q queries.
template <class K, int Q, int D>
void add_values(const AttentionTile& a, const Tile& t, int64_t i, int64_t d, const float (&c)[Q]) {
    using Reg = typename K::Reg;
    constexpr int L = K::kLanes;
    Reg o[Q][D];
    for (int u = 0; u < Q; ++u) {
        const Reg cu = K::set1(c[u]);
        for (int b = 0; b < D; ++b) {
            o[u][b] = K::mul(K::load(t.acc + (i + u) * a.head_dim_v + d + L * b), cu);
        }
    }
    for (int k = 0; k < L; ++k) {
        Reg v[D];
        for (int b = 0; b < D; ++b) v[b] = K::load(t.vt + k * a.head_dim_v + d + L * b);
        for (int u = 0; u < Q; ++u) {
            const Reg pk = K::set1(t.p[u * L + k]);
            for (int b = 0; b < D; ++b) o[u][b] = K::fma(pk, v[b], o[u][b]);
        }
    }
    for (int u = 0; u < Q; ++u) {
        for (int b = 0; b < D; ++b) K::store(t.acc + (i + u) * a.head_dim_v + d + L * b, o[u][b]);
    }
}

// Queries i..i+Q-1 against the key tile at j0: probabilities, then values.
template <class K, int Q>
void queries_step(const AttentionTile& a, const Tile& t, int64_t i, int64_t j0, int nk) {
    float c[Q];
    probabilities<K, Q>(a, t, i, j0, nk, c);
    int64_t d = 0;
    for (; d + K::kWide * K::kLanes <= a.head_dim_v; d += K::kWide * K::kLanes) {
        add_values<K, Q, K::kWide>(a, t, i, d, c);
    }
    for (; d < a.head_dim_v; d += K::kLanes) add_values<K, Q, 1>(a, t, i, d, c);
}

// The queries of one head against one key tile (its keys are already loaded).
template <class K>
void head_step(const AttentionTile& a, const Tile& t, int64_t j0, int nk) {
    // Queries before position j0 see none of this tile (positions are consecutive).
    int64_t i = std::max<int64_t>(0, j0 - a.q_pos0);
    for (; i + kQueries <= a.n_q; i += kQueries) queries_step<K, kQueries>(a, t, i, j0, nk);
    switch (a.n_q - i) {
        case 1:
            return queries_step<K, 1>(a, t, i, j0, nk);
        case 2:
            return queries_step<K, 2>(a, t, i, j0, nk);
        case 3:
            return queries_step<K, 3>(a, t, i, j0, nk);
        default:
            return;
    }
}

// The whole tile; a.scratch is laid out for 16 keys (attention_scratch_floats).
template <class K>
void run_tile(const AttentionTile& a) {
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
    for (int64_t j0 = 0; j0 <= last; j0 += K::kLanes) {
        const int nk = int(std::min<int64_t>(K::kLanes, last + 1 - j0));
        K::load_keys(a, j0, nk, head(0));
        for (int64_t g = 0; g < a.n_heads; ++g) head_step<K>(a, head(g), j0, nk);
    }
    for (int64_t g = 0; g < a.n_heads; ++g) {
        const Tile t = head(g);
        for (int64_t i = 0; i < a.n_q; ++i) {
            const float inv = 1.0f / t.l[i];
            float* out = a.out + i * a.out_stride + g * a.head_dim_v;
            const float* row = t.acc + i * a.head_dim_v;
            for (int64_t d = 0; d < a.head_dim_v; ++d) out[d] = row[d] * inv;
        }
    }
}

}  // namespace citadel::attention
