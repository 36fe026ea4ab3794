#include "plan/arch.h"

namespace citadel::plan {
namespace {

using Tensors = std::vector<WeightTensor>;

void add(Tensors& out, std::string name, std::vector<int64_t> dims, double active = 1.0) {
    out.push_back({std::move(name), std::move(dims), active, false});
}

// DeepSeek-V3's attention: low-rank query (q_a, q_b) and a joint compressed key/value
// projection (kv_a to the latent + the shared RoPE key, kv_b back to per-head keys and values).
void add_mla_attention(const Arch& a, const std::string& b, Tensors& out) {
    const int64_t q_head = a.qk_nope_head_dim + a.qk_rope_head_dim;
    if (a.q_lora_rank > 0) {
        add(out, b + "attn_q_a.weight", {a.n_embd, a.q_lora_rank});
        add(out, b + "attn_q_a_norm.weight", {a.q_lora_rank});
        add(out, b + "attn_q_b.weight", {a.q_lora_rank, a.n_head * q_head});
    } else {
        add(out, b + "attn_q.weight", {a.n_embd, a.n_head * q_head});
    }
    add(out, b + "attn_kv_a_mqa.weight", {a.n_embd, a.kv_lora_rank + a.qk_rope_head_dim});
    add(out, b + "attn_kv_a_norm.weight", {a.kv_lora_rank});
    add(out, b + "attn_kv_b.weight",
        {a.kv_lora_rank, a.n_head * (a.qk_nope_head_dim + a.v_head_dim)});
    add(out, b + "attn_output.weight", {a.n_head * a.v_head_dim, a.n_embd});
}

void add_attention(const Arch& a, const std::string& b, Tensors& out) {
    const int64_t q_dim = a.n_head * a.head_dim;
    const int64_t kv_dim = a.n_head_kv * a.head_dim;
    const int64_t v_dim = a.n_head_kv * a.value_dim();
    if (a.family == "chatglm") {  // GLM-4: one fused QKV projection with a bias
        add(out, b + "attn_qkv.weight", {a.n_embd, q_dim + kv_dim + v_dim});
        add(out, b + "attn_qkv.bias", {q_dim + kv_dim + v_dim});
    } else {
        add(out, b + "attn_q.weight", {a.n_embd, q_dim});
        add(out, b + "attn_k.weight", {a.n_embd, kv_dim});
        add(out, b + "attn_v.weight", {a.n_embd, v_dim});
        if (a.qkv_bias) {
            add(out, b + "attn_q.bias", {q_dim});
            add(out, b + "attn_k.bias", {kv_dim});
            add(out, b + "attn_v.bias", {v_dim});
        }
    }
    if (a.qk_norm) {
        add(out, b + "attn_q_norm.weight", {a.head_dim});
        add(out, b + "attn_k_norm.weight", {a.head_dim});
    }
    add(out, b + "attn_output.weight", {a.n_head * a.value_dim(), a.n_embd});
}

void add_dense_ffn(const Arch& a, const std::string& b, Tensors& out) {
    if (a.family == "chatglm") {  // gate and up fused into one [n_embd, 2 n_ff] projection
        add(out, b + "ffn_up.weight", {a.n_embd, 2 * a.n_ff});
    } else {
        add(out, b + "ffn_gate.weight", {a.n_embd, a.n_ff});
        add(out, b + "ffn_up.weight", {a.n_embd, a.n_ff});
    }
    add(out, b + "ffn_down.weight", {a.n_ff, a.n_embd});
}

void add_moe_ffn(const Arch& a, const std::string& b, Tensors& out) {
    const double used = double(a.n_expert_used) / double(a.n_expert);
    add(out, b + "ffn_gate_inp.weight", {a.n_embd, a.n_expert});
    if (a.family == "deepseek2") add(out, b + "exp_probs_b.bias", {a.n_expert});
    // [n_embd][n_ff_expert][n_expert]: each token multiplies n_expert_used of the experts
    add(out, b + "ffn_gate_exps.weight", {a.n_embd, a.n_ff_expert, a.n_expert}, used);
    add(out, b + "ffn_up_exps.weight", {a.n_embd, a.n_ff_expert, a.n_expert}, used);
    add(out, b + "ffn_down_exps.weight", {a.n_ff_expert, a.n_embd, a.n_expert}, used);
    if (a.n_expert_shared > 0) {
        const int64_t ff = a.n_ff_expert * a.n_expert_shared;
        add(out, b + "ffn_gate_shexp.weight", {a.n_embd, ff});
        add(out, b + "ffn_up_shexp.weight", {a.n_embd, ff});
        add(out, b + "ffn_down_shexp.weight", {ff, a.n_embd});
    }
}

}  // namespace

int64_t WeightTensor::n_elements() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
}

std::vector<WeightTensor> weight_tensors(const Arch& a) {
    Tensors out;
    // [n_vocab][n_embd]; tied: it is the output projection too, so every row is read
    out.push_back({"token_embd.weight", {a.n_embd, a.n_vocab}, 1.0, !a.tied_embeddings});
    for (int64_t il = 0; il < a.n_layer; ++il) {
        const std::string b = "blk." + std::to_string(il) + ".";
        add(out, b + "attn_norm.weight", {a.n_embd});
        if (a.is_mla()) {
            add_mla_attention(a, b, out);
        } else {
            add_attention(a, b, out);
        }
        add(out, b + "ffn_norm.weight", {a.n_embd});
        if (a.is_moe_layer(il)) {
            add_moe_ffn(a, b, out);
        } else {
            add_dense_ffn(a, b, out);
        }
    }
    add(out, "output_norm.weight", {a.n_embd});
    if (!a.tied_embeddings) add(out, "output.weight", {a.n_embd, a.n_vocab});
    return out;
}

ParamCounts count_params(const std::vector<WeightTensor>& tensors) {
    ParamCounts c;
    for (const WeightTensor& t : tensors) {
        const double n = double(t.n_elements());
        c.total += n;
        c.active += n * t.active_fraction;
        if (!t.lookup_only) c.matmul_active += n * t.active_fraction;
    }
    return c;
}

std::string validate(const Arch& a) {
    constexpr int64_t kMaxDim = int64_t(1) << 20;
    auto bad = [&](const char* field, int64_t v, int64_t lo, int64_t hi) {
        return v < lo || v > hi ? std::string(field) + " is " + std::to_string(v) + " (expected " +
                                      std::to_string(lo) + ".." + std::to_string(hi) + ")"
                                : std::string();
    };
    const bool all_moe = a.is_moe() && a.n_dense_first == 0;
    for (const std::string& s :
         {bad("num_hidden_layers", a.n_layer, 1, 4096), bad("hidden_size", a.n_embd, 1, kMaxDim),
          bad("num_attention_heads", a.n_head, 1, 4096),
          bad("num_key_value_heads", a.n_head_kv, 1, a.n_head),
          bad("head_dim", a.head_dim, 1, 65536), bad("vocab_size", a.n_vocab, 1, 1 << 24),
          bad("intermediate_size", a.n_ff, all_moe ? 0 : 1, kMaxDim),
          bad("max_position_embeddings", a.n_ctx_train, 0, int64_t(1) << 26)}) {
        if (!s.empty()) return s;
    }
    if (!a.is_mla() && a.n_head % a.n_head_kv != 0) {
        return "num_attention_heads (" + std::to_string(a.n_head) +
               ") is not a multiple of num_key_value_heads (" + std::to_string(a.n_head_kv) + ")";
    }
    if (a.is_moe()) {
        for (const std::string& s : {bad("num_experts", a.n_expert, 1, 4096),
                                     bad("num_experts_per_tok", a.n_expert_used, 1, a.n_expert),
                                     bad("moe_intermediate_size", a.n_ff_expert, 1, kMaxDim),
                                     bad("first_k_dense_replace", a.n_dense_first, 0, a.n_layer),
                                     bad("n_shared_experts", a.n_expert_shared, 0, 64)}) {
            if (!s.empty()) return s;
        }
    }
    if (a.is_mla()) {
        for (const std::string& s : {bad("kv_lora_rank", a.kv_lora_rank, 1, kMaxDim),
                                     bad("qk_rope_head_dim", a.qk_rope_head_dim, 1, 65536),
                                     bad("qk_nope_head_dim", a.qk_nope_head_dim, 0, 65536),
                                     bad("v_head_dim", a.v_head_dim, 1, 65536),
                                     bad("q_lora_rank", a.q_lora_rank, 0, kMaxDim)}) {
            if (!s.empty()) return s;
        }
    }
    return "";
}

}  // namespace citadel::plan
