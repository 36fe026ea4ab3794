// Memory of one replica: weights + KV cache + activations + runtime.
#include <algorithm>

#include "plan/estimate.h"

namespace citadel::plan {

Figure kv_bytes_per_token(const Arch& a, double kv_bytes) {
    if (a.is_mla()) {
        // MLA caches one compressed latent and the shared RoPE key per layer, not per head
        return {double(a.n_layer) * double(a.kv_lora_rank + a.qk_rope_head_dim) * kv_bytes,
                "kv_bytes_per_token = layers × (kv_lora_rank + qk_rope_head_dim) × "
                "bytes(kv_type) [MLA latent cache]"};
    }
    const double per_layer = double(a.n_head_kv) * double(a.head_dim + a.value_dim());
    return {double(a.n_layer) * per_layer * kv_bytes,
            a.value_dim() == a.head_dim
                ? "kv_bytes_per_token = 2 × layers × kv_heads × head_dim × bytes(kv_type)"
                : "kv_bytes_per_token = layers × kv_heads × (head_dim_k + head_dim_v) × "
                  "bytes(kv_type)"};
}

int64_t ffn_width(const Arch& a) {
    int64_t w = a.n_dense_first > 0 || !a.is_moe() ? a.n_ff : 0;
    if (a.is_moe()) w = std::max(w, a.n_ff_expert * (a.n_expert_used + a.n_expert_shared));
    return w;
}

Figure activation_bytes(const Arch& a, int64_t ubatch, int64_t seqs) {
    const double q_dim = double(a.n_head * a.head_dim);
    const double kv_dim =
        a.is_mla() ? double(a.kv_lora_rank + a.qk_rope_head_dim) : double(a.n_head_kv * a.head_dim);
    const double v_dim = a.is_mla() ? 0 : double(a.n_head_kv * a.value_dim());
    const double attn_dim = double(a.n_head * a.value_dim());
    const double per_token =
        3.0 * double(a.n_embd) + q_dim + kv_dim + v_dim + attn_dim + 2.0 * double(ffn_width(a));
    return {4.0 * double(ubatch) * per_token + 4.0 * double(seqs) * double(a.n_vocab),
            "activation_bytes = 4 × ubatch × (3·hidden + q_dim + k_dim + v_dim + attn_dim + "
            "2·ffn_width) + 4 × seqs × vocab [F32 activations of one prompt chunk + one "
            "logits row per sequence]"};
}

MemoryPlan memory_plan(const Plan& p, double kv_bytes) {
    const PlanRequest& r = p.request;
    MemoryPlan m;
    m.weights = {p.weights.total, p.weights.formula};
    m.kv_per_token = kv_bytes_per_token(p.arch, kv_bytes);
    m.kv_total = {m.kv_per_token.value * double(r.ctx) * double(r.seqs),
                  "kv_bytes = kv_bytes_per_token × ctx × seqs"};
    m.activation = activation_bytes(p.arch, std::min(r.ubatch, r.ctx), r.seqs);
    m.runtime = {p.assumptions.cpu_runtime_bytes +
                     p.assumptions.tokenizer_bytes_per_token * double(p.arch.n_vocab),
                 "runtime_bytes = cpu_runtime_bytes + tokenizer_bytes_per_token × vocab (CPU "
                 "process; per GPU: gpu_runtime_bytes)"};
    m.total = {m.weights.value + m.kv_total.value + m.activation.value + m.runtime.value,
               "total = weight_bytes + kv_bytes + activation_bytes + runtime_bytes"};
    return m;
}

}  // namespace citadel::plan
