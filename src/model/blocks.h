// The building blocks of the transformer layers, shared by every architecture.
#pragma once

#include <cstdint>

#include "model/forward.h"

namespace citadel {

// out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * w, for n_rows rows of n floats.
void rms_norm_rows(const float* x, int64_t n_rows, int64_t n, const float* w, float eps,
                   float* out);

struct AttentionOptions {
    bool qkv_bias = false;  // add bq/bk/bv after the projections (qwen2)
    bool qk_norm = false;   // RMSNorm each Q and K head before RoPE (qwen3)
};

// x += Wo · attention(RoPE(Wq·norm(x)), RoPE(Wk·norm(x)), Wv·norm(x)), causal, GQA.
void attention_block(LayerContext& ctx, const LayerWeights& l, const AttentionOptions& opt);

// st.attn = softmax(Q K^T / sqrt(head_dim)) V for every token and head of the batch, causal,
// over the sequence's cached keys and values (attention.cpp).
void attend(LayerContext& ctx);

// x += Wdown · (silu(Wgate·norm(x)) * Wup·norm(x)).
void gated_ffn_block(LayerContext& ctx, const LayerWeights& l);

// cos/sin of every rotated pair for every token of the batch (state.rope_cos / rope_sin).
void prepare_rope(const Model& model, const Batch& batch, ForwardState& st);

}  // namespace citadel
