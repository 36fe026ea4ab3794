// Attention of a batch over the KV cache. Two paths, split as llama.cpp splits its CPU flash
// attention, so that our results track its to the bit where they can:
//  - batches under kTiledMinTokens tokens (decoding, short prompts): llama.cpp's exact
//    arithmetic per query (F16 query, F16 accumulator, online softmax) — greedy
//    continuations then match it token for token;
//  - larger batches (prompt processing): F32 tiles of 16 queries x 16 keys sharing converted
//    keys and values (tensor/kernels attention_tile), where llama.cpp also switches to F32
//    tiles.
#include <algorithm>
#include <cmath>

#include "core/fp16.h"
#include "model/blocks.h"

namespace citadel {
namespace {

constexpr int64_t kTiledMinTokens = 64;

// Softmax-weighted sum of V over positions 0..pos of one sequence for one query head.
// Same arithmetic as llama.cpp's CPU flash attention, so greedy continuations match it
// token for token: Q rounded to F16 and dotted with the F16 keys, an online softmax, and the
// weighted sum of V kept in an F16 accumulator (rescaled when the running maximum grows).
void attend_one(const float* q, int64_t layer, int seq, int64_t pos, int64_t kv_head,
                const HParams& hp, ForwardState& st, AttentionScratch& scratch, float* out) {
    const VecOps& vec = st.kernels.vec;
    const float scale = 1.0f / std::sqrt(float(hp.head_dim));
    const uint16_t* k0 = st.kv.k(layer, seq, 0) + kv_head * hp.head_dim;
    const uint16_t* v0 = st.kv.v(layer, seq, 0) + kv_head * hp.head_dim_v;
    uint16_t* q16 = scratch.q16.data();
    uint16_t* acc = scratch.acc16.data();
    vec.f32_to_f16(q, q16, hp.head_dim);
    std::fill(acc, acc + hp.head_dim_v, uint16_t(0));
    float sum = 0.0f, max_score = -INFINITY;
    for (int64_t j = 0; j <= pos; ++j) {
        const float s = vec.dot_f16_f16(hp.head_dim, k0 + j * st.kv.k_stride(), q16) * scale;
        float ms = 1.0f, vs = 1.0f;
        if (s > max_score) {
            ms = std::exp(max_score - s);
            max_score = s;
            vec.scale_f16(hp.head_dim_v, acc, ms);
        } else {
            vs = std::exp(s - max_score);
        }
        vec.mad_f16(hp.head_dim_v, acc, v0 + j * st.kv.v_stride(), vs);
        sum = std::fma(sum, ms, vs);  // llama.cpp is built with FP contraction
    }
    const float inv = sum == 0.0f ? 0.0f : 1.0f / sum;
    for (int64_t d = 0; d < hp.head_dim_v; ++d) out[d] = fp16_to_fp32(acc[d]) * inv;
}

void attend_per_query(LayerContext& ctx) {
    const HParams& hp = ctx.model.hp;
    ForwardState& st = ctx.st;
    const int64_t group = hp.n_head / hp.n_head_kv;
    const int64_t out_dim = hp.n_head * hp.head_dim_v;
    st.pool.parallel_for(ctx.n_tokens * hp.n_head, [&](int64_t task, int thread) {
        const int64_t t = task / hp.n_head, h = task % hp.n_head;
        attend_one(&st.q[size_t(t * hp.q_dim() + h * hp.head_dim)], ctx.layer,
                   ctx.batch.seq_ids[size_t(t)], ctx.batch.positions[size_t(t)], h / group, hp, st,
                   st.attention_scratch[size_t(thread)],
                   &st.attn[size_t(t * out_dim + h * hp.head_dim_v)]);
    });
}

// A run of up to kAttentionTileQ batch tokens of one sequence at consecutive positions.
struct QueryTile {
    int64_t first;  // batch index
    int64_t n;
};

std::vector<QueryTile> query_tiles(const Batch& b) {
    std::vector<QueryTile> tiles;
    for (size_t t = 0; t < b.size(); ++t) {
        if (!tiles.empty()) {
            QueryTile& last = tiles.back();
            const size_t prev = size_t(last.first + last.n - 1);
            if (last.n < kAttentionTileQ && b.seq_ids[prev] == b.seq_ids[t] &&
                b.positions[prev] + 1 == b.positions[t]) {
                ++last.n;
                continue;
            }
        }
        tiles.push_back({int64_t(t), 1});
    }
    return tiles;
}

float* aligned_scratch(std::vector<float>& buf, size_t floats) {
    buf.resize(floats + 16);
    const auto addr = reinterpret_cast<uintptr_t>(buf.data());
    return buf.data() + ((64 - addr % 64) % 64) / sizeof(float);
}

void attend_tiled(LayerContext& ctx) {
    const HParams& hp = ctx.model.hp;
    ForwardState& st = ctx.st;
    const std::vector<QueryTile> tiles = query_tiles(ctx.batch);
    const int64_t group = hp.n_head / hp.n_head_kv;
    const int64_t out_dim = hp.n_head * hp.head_dim_v;
    const size_t scratch_floats = attention_scratch_floats(hp.head_dim, hp.head_dim_v);
    st.pool.parallel_for(int64_t(tiles.size()) * hp.n_head, [&](int64_t task, int thread) {
        const QueryTile& qt = tiles[size_t(task / hp.n_head)];
        const int64_t h = task % hp.n_head, kv_head = h / group;
        const int seq = ctx.batch.seq_ids[size_t(qt.first)];
        const AttentionTile a{
            .q = &st.q[size_t(qt.first * hp.q_dim() + h * hp.head_dim)],
            .q_stride = size_t(hp.q_dim()),
            .n_q = qt.n,
            .q_pos0 = ctx.batch.positions[size_t(qt.first)],
            .k = st.kv.k(ctx.layer, seq, 0) + kv_head * hp.head_dim,
            .k_stride = size_t(st.kv.k_stride()),
            .v = st.kv.v(ctx.layer, seq, 0) + kv_head * hp.head_dim_v,
            .v_stride = size_t(st.kv.v_stride()),
            .head_dim = hp.head_dim,
            .head_dim_v = hp.head_dim_v,
            .scale = 1.0f / std::sqrt(float(hp.head_dim)),
            .out = &st.attn[size_t(qt.first * out_dim + h * hp.head_dim_v)],
            .out_stride = size_t(out_dim),
            .scratch = aligned_scratch(st.attention_scratch[size_t(thread)].tile, scratch_floats)};
        st.kernels.attention_tile(a);
    });
}

}  // namespace

void attend(LayerContext& ctx) {
    if (ctx.n_tokens >= kTiledMinTokens) {
        attend_tiled(ctx);
    } else {
        attend_per_query(ctx);
    }
}

}  // namespace citadel
