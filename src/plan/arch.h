// The architecture of a decoder-only transformer as the capacity planner sees it: the shapes
// that decide weight memory, KV-cache memory and the work per token. Dense, grouped-query
// (GQA), mixture-of-experts (MoE) and multi-head latent attention (MLA, DeepSeek-V3) models.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace citadel::plan {

struct Arch {
    std::string name;    // "Qwen2.5-7B-Instruct"
    std::string family;  // GGUF architecture name: "qwen2", "llama", "qwen3", "deepseek2", ...
    int64_t n_layer = 0;
    int64_t n_embd = 0;      // hidden_size
    int64_t n_head = 0;      // query heads
    int64_t n_head_kv = 0;   // key/value heads (GQA when < n_head)
    int64_t head_dim = 0;    // per-head size of Q and K
    int64_t head_dim_v = 0;  // per-head size of V (0: head_dim)
    int64_t n_ff = 0;        // dense feed-forward width
    int64_t n_vocab = 0;
    int64_t n_ctx_train = 0;  // max_position_embeddings
    bool tied_embeddings = false;
    bool qkv_bias = false;  // Qwen2, GLM-4
    bool qk_norm = false;   // Qwen3
    // Mixture of experts: layers [n_dense_first, n_layer) route each token to
    // n_expert_used of n_expert experts of width n_ff_expert, plus n_expert_shared always.
    int64_t n_expert = 0;
    int64_t n_expert_used = 0;
    int64_t n_expert_shared = 0;
    int64_t n_ff_expert = 0;
    int64_t n_dense_first = 0;
    // Multi-head latent attention: the cache holds a compressed latent of kv_lora_rank values
    // plus the shared RoPE key of qk_rope_head_dim values per layer and token.
    int64_t q_lora_rank = 0;  // 0: a full-rank query projection
    int64_t kv_lora_rank = 0;
    int64_t qk_rope_head_dim = 0;
    int64_t qk_nope_head_dim = 0;
    int64_t v_head_dim = 0;

    bool is_moe() const { return n_expert > 0; }
    bool is_mla() const { return kv_lora_rank > 0; }
    int64_t value_dim() const { return head_dim_v > 0 ? head_dim_v : head_dim; }
    bool is_moe_layer(int64_t layer) const { return is_moe() && layer >= n_dense_first; }
};

// One weight tensor in GGUF naming; dims[0] is the row length, dims[2] (if any) the experts.
struct WeightTensor {
    std::string name;
    std::vector<int64_t> dims;
    double active_fraction = 1.0;  // share of its elements one token uses (routed experts)
    bool lookup_only = false;      // an untied token embedding: one row read per token

    int64_t n_elements() const;
};

// Every tensor of the model, in GGUF names (as llama.cpp's converter writes them).
std::vector<WeightTensor> weight_tensors(const Arch& arch);

struct ParamCounts {
    double total = 0;          // every element
    double active = 0;         // per token: routed experts scaled by used / total
    double matmul_active = 0;  // active, less the embedding lookup: the per-token matmul work
};
ParamCounts count_params(const std::vector<WeightTensor>& tensors);

// Names a problem with the shapes (a zero, heads not dividing, MoE fields half set), or "".
std::string validate(const Arch& arch);

}  // namespace citadel::plan
