// Attention of a batch over the paged KV cache. Two paths, split as llama.cpp splits its CPU
// flash attention, so that our results track its to the bit where they can:
//  - decode arithmetic (generated tokens, short prompts): llama.cpp's exact arithmetic per
//    query (F16 query, F16 accumulator, online softmax) — greedy continuations then match it
//    token for token;
//  - prompt arithmetic (prompt processing): F32 tiles of 16 queries x 16 keys sharing
//    converted keys and values (tensor/kernels attention_tile), where llama.cpp also
//    switches to F32 tiles. Batch::prompt_arithmetic says which token takes which.
#include <algorithm>
#include <cmath>

#include "core/fp16.h"
#include "model/blocks.h"

namespace citadel {
namespace {

// Softmax-weighted sum of V over positions 0..pos of one sequence for one query head.
// Same arithmetic as llama.cpp's CPU flash attention, so greedy continuations match it
// token for token: Q rounded to F16 and dotted with the F16 keys, an online softmax, and the
// weighted sum of V kept in an F16 accumulator (rescaled when the running maximum grows).
// Keys and values are read block by block through the sequence's block table.
void attend_one(const float* q, int64_t layer, const std::vector<int32_t>& table, int64_t pos,
                int64_t kv_head, const HParams& hp, ForwardState& st, AttentionScratch& scratch,
                float* out) {
    const VecOps& vec = st.kernels.vec;
    const float scale = 1.0f / std::sqrt(float(hp.head_dim));
    const int64_t bs = st.kv.block_size();
    uint16_t* q16 = scratch.q16.data();
    uint16_t* acc = scratch.acc16.data();
    vec.f32_to_f16(q, q16, hp.head_dim);
    std::fill(acc, acc + hp.head_dim_v, uint16_t(0));
    float sum = 0.0f, max_score = -INFINITY;
    for (int64_t b = 0; b * bs <= pos; ++b) {
        const int64_t n = std::min(bs, pos + 1 - b * bs);
        int64_t ks = 0, vs_stride = 0;
        const uint16_t* k0 =
            st.kv.k_head_f16(layer, table[size_t(b)], kv_head, n, scratch.k16.data(), &ks);
        const uint16_t* v0 =
            st.kv.v_head_f16(layer, table[size_t(b)], kv_head, n, scratch.v16.data(), &vs_stride);
        for (int64_t j = 0; j < n; ++j) {
            const float s = vec.dot_f16_f16(hp.head_dim, k0 + j * ks, q16) * scale;
            float ms = 1.0f, vs = 1.0f;
            if (s > max_score) {
                ms = std::exp(max_score - s);
                max_score = s;
                vec.scale_f16(hp.head_dim_v, acc, ms);
            } else {
                vs = std::exp(s - max_score);
            }
            vec.mad_f16(hp.head_dim_v, acc, v0 + j * vs_stride, vs);
            sum = std::fma(sum, ms, vs);  // llama.cpp is built with FP contraction
        }
    }
    const float inv = sum == 0.0f ? 0.0f : 1.0f / sum;
    for (int64_t d = 0; d < hp.head_dim_v; ++d) out[d] = fp16_to_fp32(acc[d]) * inv;
}

// A run of up to kAttentionTileQ batch tokens of one sequence at consecutive positions.
struct QueryTile {
    int64_t first;  // batch index
    int64_t n;
};

// How the batch's tokens are attended: runs of one sequence's consecutive positions that
// take the prompt arithmetic are cut into tiles for the tiled kernel; every other token is
// attended alone. The choice is per token (ForwardState::prompt_arithmetic), never by the
// rest of the batch, so a sequence's results do not change with what it is batched with.
struct AttentionPlan {
    std::vector<QueryTile> tiles;
    std::vector<int64_t> single;  // batch indices
};

AttentionPlan plan_attention(const Batch& b, const std::vector<uint8_t>& prompt) {
    AttentionPlan plan;
    size_t t = 0;
    while (t < b.size()) {
        if (!prompt[t]) {
            plan.single.push_back(int64_t(t++));
            continue;
        }
        size_t end = t + 1;
        while (end < b.size() && prompt[end] && end - t < size_t(kAttentionTileQ) &&
               b.seq_ids[end] == b.seq_ids[t] && b.positions[end] == b.positions[end - 1] + 1) {
            ++end;
        }
        plan.tiles.push_back({int64_t(t), int64_t(end - t)});
        t = end;
    }
    return plan;
}

void attend_singles(LayerContext& ctx, const std::vector<int64_t>& tokens) {
    const HParams& hp = ctx.model.hp;
    ForwardState& st = ctx.st;
    const int64_t group = hp.n_head / hp.n_head_kv;
    const int64_t out_dim = hp.n_head * hp.head_dim_v;
    st.pool.parallel_for(int64_t(tokens.size()) * hp.n_head, [&](int64_t task, int thread) {
        const int64_t t = tokens[size_t(task / hp.n_head)], h = task % hp.n_head;
        attend_one(&st.q[size_t(t * hp.q_dim() + h * hp.head_dim)], ctx.layer, ctx.table(t),
                   ctx.batch.positions[size_t(t)], h / group, hp, st,
                   st.attention_scratch[size_t(thread)],
                   &st.attn[size_t(t * out_dim + h * hp.head_dim_v)]);
    });
}

float* aligned_scratch(std::vector<float>& buf, size_t floats) {
    buf.resize(floats + 16);
    const auto addr = reinterpret_cast<uintptr_t>(buf.data());
    return buf.data() + ((64 - addr % 64) % 64) / sizeof(float);
}

// Points the scratch's block pointer lists at one head's keys and values of blocks
// 0..n_blocks-1 (dequantized into the scratch when the cache is Q8_0).
void gather_blocks(const KvCache& kv, int64_t layer, const std::vector<int32_t>& table,
                   int64_t n_blocks, int64_t kv_head, const HParams& hp, AttentionScratch& s,
                   int64_t* k_stride, int64_t* v_stride) {
    const int64_t bs = kv.block_size();
    const bool dequant = kv.type() != KvType::kF16;
    if (dequant) {
        s.k16.resize(size_t(n_blocks * bs * hp.head_dim));
        s.v16.resize(size_t(n_blocks * bs * hp.head_dim_v));
    }
    s.k_blocks.resize(size_t(n_blocks));
    s.v_blocks.resize(size_t(n_blocks));
    for (int64_t b = 0; b < n_blocks; ++b) {
        uint16_t* kd = dequant ? &s.k16[size_t(b * bs * hp.head_dim)] : nullptr;
        uint16_t* vd = dequant ? &s.v16[size_t(b * bs * hp.head_dim_v)] : nullptr;
        s.k_blocks[size_t(b)] = kv.k_head_f16(layer, table[size_t(b)], kv_head, bs, kd, k_stride);
        s.v_blocks[size_t(b)] = kv.v_head_f16(layer, table[size_t(b)], kv_head, bs, vd, v_stride);
    }
}

void attend_tiled(LayerContext& ctx, const std::vector<QueryTile>& tiles) {
    const HParams& hp = ctx.model.hp;
    ForwardState& st = ctx.st;
    const int64_t group = hp.n_head / hp.n_head_kv;
    const int64_t out_dim = hp.n_head * hp.head_dim_v;
    const int64_t bs = st.kv.block_size();
    const size_t scratch_floats = attention_scratch_floats(hp.head_dim, hp.head_dim_v, group);
    // One task per query tile and key/value head, for all the query heads that share it (the
    // keys are converted once for them); the last tiles, which see the most keys, go first.
    const int64_t n_tiles = int64_t(tiles.size());
    st.pool.parallel_for(n_tiles * hp.n_head_kv, [&](int64_t task, int thread) {
        const QueryTile& qt = tiles[size_t(n_tiles - 1 - task / hp.n_head_kv)];
        const int64_t kv_head = task % hp.n_head_kv, h = kv_head * group;
        const int64_t pos0 = ctx.batch.positions[size_t(qt.first)];
        AttentionScratch& s = st.attention_scratch[size_t(thread)];
        int64_t k_stride = 0, v_stride = 0;
        gather_blocks(st.kv, ctx.layer, ctx.table(qt.first), (pos0 + qt.n - 1) / bs + 1, kv_head,
                      hp, s, &k_stride, &v_stride);
        const AttentionTile a{.q = &st.q[size_t(qt.first * hp.q_dim() + h * hp.head_dim)],
                              .q_stride = size_t(hp.q_dim()),
                              .n_q = qt.n,
                              .q_pos0 = pos0,
                              .k_blocks = s.k_blocks.data(),
                              .k_stride = size_t(k_stride),
                              .v_blocks = s.v_blocks.data(),
                              .v_stride = size_t(v_stride),
                              .block_size = bs,
                              .head_dim = hp.head_dim,
                              .head_dim_v = hp.head_dim_v,
                              .n_heads = group,
                              .scale = 1.0f / std::sqrt(float(hp.head_dim)),
                              .out = &st.attn[size_t(qt.first * out_dim + h * hp.head_dim_v)],
                              .out_stride = size_t(out_dim),
                              .scratch = aligned_scratch(s.tile, scratch_floats)};
        st.kernels.attention_tile(a);
    });
}

}  // namespace

void attend(LayerContext& ctx) {
    const AttentionPlan plan = plan_attention(ctx.batch, ctx.st.prompt_arithmetic);
    if (!plan.tiles.empty()) attend_tiled(ctx, plan.tiles);
    if (!plan.single.empty()) attend_singles(ctx, plan.single);
}

}  // namespace citadel
