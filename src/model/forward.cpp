#include "model/forward.h"

#include <algorithm>
#include <string>

#include "model/architecture.h"
#include "model/blocks.h"

namespace citadel {
namespace {

int64_t default_ctx(const Model& model, int64_t requested) {
    if (requested > 0) return requested;
    return std::min<int64_t>(model.hp.n_ctx_train, 4096);
}

Status check_table(const std::vector<int32_t>& table, int32_t seq, int64_t pos,
                   const ForwardState& st) {
    const int64_t bs = st.kv.block_size();
    if (pos / bs >= int64_t(table.size())) {
        return Status::error("position " + std::to_string(pos) + " of sequence " +
                             std::to_string(seq) + " is beyond its " +
                             std::to_string(table.size()) + " KV blocks");
    }
    const int32_t block = table[size_t(pos / bs)];
    if (block < 0 || block >= st.kv.n_blocks()) {
        return Status::error("KV block " + std::to_string(block) + " does not exist (" +
                             std::to_string(st.kv.n_blocks()) + " blocks)");
    }
    return ok_status();
}

Status validate(const Model& model, const Batch& b, const ForwardState& st) {
    const size_t n = b.tokens.size();
    if (b.positions.size() != n || b.seq_ids.size() != n || b.want_logits.size() != n ||
        (!b.prompt_arithmetic.empty() && b.prompt_arithmetic.size() != n)) {
        return Status::error("batch arrays have different lengths");
    }
    const bool fixed = b.block_tables.empty();
    if (fixed && st.slot_tables.empty()) {
        return Status::error("a paged KV cache needs the batch's block tables");
    }
    const auto& tables = fixed ? st.slot_tables : b.block_tables;
    for (size_t i = 0; i < n; ++i) {
        if (b.tokens[i] < 0 || b.tokens[i] >= model.hp.n_vocab) {
            return Status::error("token id " + std::to_string(b.tokens[i]) +
                                 " is out of range (vocabulary size " +
                                 std::to_string(model.hp.n_vocab) + ")");
        }
        if (b.seq_ids[i] < 0 || size_t(b.seq_ids[i]) >= tables.size()) {
            return Status::error("sequence " + std::to_string(b.seq_ids[i]) + " does not exist (" +
                                 std::to_string(tables.size()) +
                                 (fixed ? " slots)" : " block tables)"));
        }
        if (b.positions[i] < 0 || (fixed && b.positions[i] >= st.slot_ctx)) {
            return Status::error("position " + std::to_string(b.positions[i]) +
                                 " is outside the context of " + std::to_string(st.slot_ctx) +
                                 " tokens");
        }
        CITADEL_TRY(check_table(tables[size_t(b.seq_ids[i])], b.seq_ids[i], b.positions[i], st));
    }
    return ok_status();
}

void resize_buffers(const HParams& hp, size_t T, ForwardState& st) {
    st.x.resize(T * size_t(hp.n_embd));
    st.xn.resize(T * size_t(std::max(hp.n_embd, hp.n_head * hp.head_dim_v)));
    st.q.resize(T * size_t(hp.q_dim()));
    st.k.resize(T * size_t(hp.kv_dim()));
    st.v.resize(T * size_t(hp.v_dim()));
    st.attn.resize(T * size_t(hp.n_head * hp.head_dim_v));
    st.gate.resize(T * size_t(hp.n_ff));
    st.up.resize(T * size_t(hp.n_ff));
}

// The batch's prompt_arithmetic, or 1 for tokens in runs of >= kPromptRunTokens consecutive
// positions of one sequence.
void choose_arithmetic(const Batch& b, ForwardState& st) {
    if (!b.prompt_arithmetic.empty()) {
        st.prompt_arithmetic = b.prompt_arithmetic;
        return;
    }
    st.prompt_arithmetic.assign(b.size(), 0);
    size_t t = 0;
    while (t < b.size()) {
        size_t end = t + 1;
        while (end < b.size() && b.seq_ids[end] == b.seq_ids[t] &&
               b.positions[end] == b.positions[end - 1] + 1) {
            ++end;
        }
        if (int64_t(end - t) >= kPromptRunTokens) {
            std::fill(st.prompt_arithmetic.begin() + long(t),
                      st.prompt_arithmetic.begin() + long(end), 1);
        }
        t = end;
    }
}

void embed(const Model& model, const Batch& b, ForwardState& st) {
    const int64_t n_embd = model.hp.n_embd;
    st.pool.parallel_for(int64_t(b.size()), [&](int64_t t, int) {
        dequantize_row(model.tok_embd, b.tokens[size_t(t)], &st.x[size_t(t * n_embd)], st.kernels);
    });
}

// Final norm and the output projection, only for the tokens whose logits are wanted.
void output_logits(const Model& model, const Batch& b, ForwardState& st) {
    const HParams& hp = model.hp;
    int64_t n_out = 0;
    for (size_t t = 0; t < b.size(); ++t) {
        if (!b.want_logits[t]) continue;
        std::copy_n(&st.x[t * size_t(hp.n_embd)], hp.n_embd, &st.x[size_t(n_out * hp.n_embd)]);
        ++n_out;
    }
    st.n_logits = n_out;
    if (n_out == 0) return;
    rms_norm_rows(st.x.data(), n_out, hp.n_embd, model.output_norm.data(), hp.rms_eps,
                  st.xn.data());
    st.logits.resize(size_t(n_out * hp.n_vocab));
    matmul(model.output, st.xn.data(), n_out, st.logits.data(), st.pool, st.matmul_scratch,
           st.kernels);
}

}  // namespace

static KvCacheConfig kv_config(const Model& model, const ForwardOptions& o) {
    CITADEL_CHECK(KvCache::check(model.hp, o.kv_type).ok());
    if (o.kv_blocks > 0) return {o.kv_blocks, o.block_size, o.kv_type};
    const int64_t per_slot = (default_ctx(model, o.n_ctx) + o.block_size - 1) / o.block_size;
    return {per_slot * std::max(o.n_seq, 1), o.block_size, o.kv_type};
}

ForwardState::ForwardState(const Model& model, const ForwardOptions& o)
    : pool(o.n_threads), kv(model.hp, kv_config(model, o)), kernels(citadel::kernels()) {
    if (o.kv_blocks <= 0) {
        slot_ctx = default_ctx(model, o.n_ctx);
        const int64_t per_slot = kv.n_blocks() / std::max(o.n_seq, 1);
        slot_tables.resize(size_t(std::max(o.n_seq, 1)));
        for (size_t s = 0; s < slot_tables.size(); ++s) {
            for (int64_t b = 0; b < per_slot; ++b) {
                slot_tables[s].push_back(int32_t(int64_t(s) * per_slot + b));
            }
        }
    }
    attention_scratch.resize(size_t(pool.size()));
    for (AttentionScratch& a : attention_scratch) {
        a.q16.resize(size_t(model.hp.head_dim));
        a.acc16.resize(size_t(model.hp.head_dim_v));
        a.k16.resize(size_t(kv.block_size() * model.hp.head_dim));
        a.v16.resize(size_t(kv.block_size() * model.hp.head_dim_v));
    }
}

Status forward(const Model& model, const Batch& batch, ForwardState& st) {
    CITADEL_TRY(validate(model, batch, st));
    st.n_logits = 0;
    if (batch.size() == 0) return ok_status();
    resize_buffers(model.hp, batch.size(), st);
    choose_arithmetic(batch, st);
    embed(model, batch, st);
    prepare_rope(model, batch, st);
    for (int64_t il = 0; il < model.hp.n_layer; ++il) {
        LayerContext ctx{model, batch, st, il, int64_t(batch.size())};
        model.arch->forward_layer(ctx, model.layers[size_t(il)]);
    }
    output_logits(model, batch, st);
    return ok_status();
}

}  // namespace citadel
