// A loaded model: hyper-parameters and views of the weights inside the mapped GGUF file.
// Immutable after load; everything mutable (KV cache, scratch, threads) lives in
// ForwardState, so any number of callers can share one Model.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"
#include "model/hparams.h"
#include "tensor/matmul.h"

namespace citadel {

struct Architecture;

struct LayerWeights {
    std::vector<float> attn_norm;   // [n_embd]
    WeightView wq;                  // [n_head * head_dim][n_embd]
    WeightView wk;                  // [n_head_kv * head_dim][n_embd]
    WeightView wv;                  // [n_head_kv * head_dim_v][n_embd]
    WeightView wo;                  // [n_embd][n_head * head_dim_v]
    std::vector<float> bq, bk, bv;  // [q_dim], [kv_dim], [v_dim] (qwen2; empty otherwise)
    std::vector<float> q_norm;      // [head_dim] per-head RMSNorm of Q (qwen3; empty otherwise)
    std::vector<float> k_norm;      // [head_dim]
    std::vector<float> ffn_norm;    // [n_embd]
    WeightView w_gate;              // [n_ff][n_embd]
    WeightView w_up;                // [n_ff][n_embd]
    WeightView w_down;              // [n_embd][n_ff]
};

struct Model {
    HParams hp;
    const Architecture* arch = nullptr;
    std::shared_ptr<const gguf::File> file;  // keeps the weights mapped
    WeightView tok_embd;                     // [n_vocab][n_embd]
    std::vector<LayerWeights> layers;        // [n_layer]
    std::vector<float> output_norm;          // [n_embd]
    WeightView output;                       // [n_vocab][n_embd]; tok_embd when tied
    bool tied_embeddings = false;
    std::vector<float> rope_freq_factors;  // [n_rot / 2], empty unless the file has them

    size_t weight_bytes() const;  // bytes of all tensors in the file
};

// Opens and validates a GGUF model: architecture known, every tensor present with the
// expected shape and a computable type. Errors name the file and the problem.
Result<std::shared_ptr<const Model>> load_model(const std::string& path);
Result<std::shared_ptr<const Model>> load_model(std::shared_ptr<const gguf::File> file);

}  // namespace citadel
