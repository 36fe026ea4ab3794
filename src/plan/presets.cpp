// Published architectures, from the models' Hugging Face config.json files (checked
// 2026-11 against the configs: hidden_size, num_hidden_layers, num_attention_heads,
// num_key_value_heads, head_dim, intermediate_size, vocab_size, tie_word_embeddings, and the
// MoE / MLA fields). Instruct and base variants share their shapes.
#include <cctype>

#include "plan/sources.h"

namespace citadel::plan {
namespace {

struct Preset {
    const char* key;  // what the user types
    Arch arch;
};

Arch qwen25(const char* name, int64_t embd, int64_t layers, int64_t heads, int64_t kv, int64_t ff,
            int64_t vocab, bool tied, int64_t ctx) {
    return Arch{.name = name,
                .family = "qwen2",
                .n_layer = layers,
                .n_embd = embd,
                .n_head = heads,
                .n_head_kv = kv,
                .head_dim = embd / heads,
                .n_ff = ff,
                .n_vocab = vocab,
                .n_ctx_train = ctx,
                .tied_embeddings = tied,
                .qkv_bias = true};
}

Arch qwen3(const char* name, int64_t embd, int64_t layers, int64_t heads, int64_t ff, bool tied) {
    return Arch{.name = name,
                .family = "qwen3",
                .n_layer = layers,
                .n_embd = embd,
                .n_head = heads,
                .n_head_kv = 8,
                .head_dim = 128,
                .n_ff = ff,
                .n_vocab = 151936,
                .n_ctx_train = 40960,
                .tied_embeddings = tied,
                .qk_norm = true};
}

Arch llama3(const char* name, int64_t embd, int64_t layers, int64_t heads, int64_t ff, bool tied) {
    return Arch{.name = name,
                .family = "llama",
                .n_layer = layers,
                .n_embd = embd,
                .n_head = heads,
                .n_head_kv = 8,
                .head_dim = embd / heads,
                .n_ff = ff,
                .n_vocab = 128256,
                .n_ctx_train = 131072,
                .tied_embeddings = tied};
}

std::vector<Preset> make_presets() {
    std::vector<Preset> p = {
        {"qwen2.5-0.5b",
         qwen25("Qwen2.5-0.5B-Instruct", 896, 24, 14, 2, 4864, 151936, true, 32768)},
        {"qwen2.5-1.5b",
         qwen25("Qwen2.5-1.5B-Instruct", 1536, 28, 12, 2, 8960, 151936, true, 32768)},
        {"qwen2.5-3b", qwen25("Qwen2.5-3B-Instruct", 2048, 36, 16, 2, 11008, 151936, true, 32768)},
        {"qwen2.5-7b", qwen25("Qwen2.5-7B-Instruct", 3584, 28, 28, 4, 18944, 152064, false, 32768)},
        {"qwen2.5-14b",
         qwen25("Qwen2.5-14B-Instruct", 5120, 48, 40, 8, 13824, 152064, false, 32768)},
        {"qwen2.5-32b",
         qwen25("Qwen2.5-32B-Instruct", 5120, 64, 40, 8, 27648, 152064, false, 32768)},
        {"qwen2.5-72b",
         qwen25("Qwen2.5-72B-Instruct", 8192, 80, 64, 8, 29568, 152064, false, 32768)},
        {"qwen3-0.6b", qwen3("Qwen3-0.6B", 1024, 28, 16, 3072, true)},
        {"qwen3-1.7b", qwen3("Qwen3-1.7B", 2048, 28, 16, 6144, true)},
        {"qwen3-4b", qwen3("Qwen3-4B", 2560, 36, 32, 9728, true)},
        {"qwen3-8b", qwen3("Qwen3-8B", 4096, 36, 32, 12288, false)},
        {"qwen3-14b", qwen3("Qwen3-14B", 5120, 40, 40, 17408, false)},
        {"qwen3-32b", qwen3("Qwen3-32B", 5120, 64, 64, 25600, false)},
        {"qwen3-30b-a3b", Arch{.name = "Qwen3-30B-A3B",
                               .family = "qwen3moe",
                               .n_layer = 48,
                               .n_embd = 2048,
                               .n_head = 32,
                               .n_head_kv = 4,
                               .head_dim = 128,
                               .n_ff = 6144,
                               .n_vocab = 151936,
                               .n_ctx_train = 40960,
                               .qk_norm = true,
                               .n_expert = 128,
                               .n_expert_used = 8,
                               .n_ff_expert = 768}},
        {"llama-3.2-1b", llama3("Llama-3.2-1B-Instruct", 2048, 16, 32, 8192, true)},
        {"llama-3.2-3b", llama3("Llama-3.2-3B-Instruct", 3072, 28, 24, 8192, true)},
        {"llama-3.1-8b", llama3("Llama-3.1-8B-Instruct", 4096, 32, 32, 14336, false)},
        {"llama-3.1-70b", llama3("Llama-3.1-70B-Instruct", 8192, 80, 64, 28672, false)},
        {"llama-3.3-70b", llama3("Llama-3.3-70B-Instruct", 8192, 80, 64, 28672, false)},
        {"mistral-7b", Arch{.name = "Mistral-7B-Instruct-v0.3",
                            .family = "llama",
                            .n_layer = 32,
                            .n_embd = 4096,
                            .n_head = 32,
                            .n_head_kv = 8,
                            .head_dim = 128,
                            .n_ff = 14336,
                            .n_vocab = 32768,
                            .n_ctx_train = 32768}},
        {"yi-34b", Arch{.name = "Yi-34B-Chat",
                        .family = "llama",
                        .n_layer = 60,
                        .n_embd = 7168,
                        .n_head = 56,
                        .n_head_kv = 8,
                        .head_dim = 128,
                        .n_ff = 20480,
                        .n_vocab = 64000,
                        .n_ctx_train = 4096}},
        {"glm-4-9b", Arch{.name = "GLM-4-9B-Chat",
                          .family = "chatglm",
                          .n_layer = 40,
                          .n_embd = 4096,
                          .n_head = 32,
                          .n_head_kv = 2,
                          .head_dim = 128,
                          .n_ff = 13696,
                          .n_vocab = 151552,
                          .n_ctx_train = 131072,
                          .qkv_bias = true}},
        // MLA: kv_lora_rank 512 + qk_rope_head_dim 64 cached per layer and token; the first
        // 3 layers dense (18432 wide), then 256 routed experts (8 per token) + 1 shared.
        {"deepseek-v3", Arch{.name = "DeepSeek-V3",
                             .family = "deepseek2",
                             .n_layer = 61,
                             .n_embd = 7168,
                             .n_head = 128,
                             .n_head_kv = 128,
                             .head_dim = 192,
                             .head_dim_v = 128,
                             .n_ff = 18432,
                             .n_vocab = 129280,
                             .n_ctx_train = 163840,
                             .n_expert = 256,
                             .n_expert_used = 8,
                             .n_expert_shared = 1,
                             .n_ff_expert = 2048,
                             .n_dense_first = 3,
                             .q_lora_rank = 1536,
                             .kv_lora_rank = 512,
                             .qk_rope_head_dim = 64,
                             .qk_nope_head_dim = 128,
                             .v_head_dim = 128}},
    };
    return p;
}

const std::vector<Preset>& presets() {
    static const std::vector<Preset> p = make_presets();
    return p;
}

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// "Qwen2.5-7B-Instruct" and "qwen2.5-7b" name the same preset.
std::string preset_key(const std::string& name) {
    std::string k = lower(name);
    for (const char* suffix : {"-instruct", "-chat"}) {
        const std::string s = suffix;
        const size_t at = k.find(s);
        if (at != std::string::npos) k.erase(at);
    }
    if (const size_t slash = k.rfind('/'); slash != std::string::npos) k = k.substr(slash + 1);
    return k;
}

}  // namespace

std::vector<std::string> preset_names() {
    std::vector<std::string> names;
    for (const Preset& p : presets()) names.push_back(p.key);
    return names;
}

Result<Arch> arch_from_preset(const std::string& name) {
    const std::string key = preset_key(name);
    for (const Preset& p : presets()) {
        if (key == p.key) return p.arch;
    }
    std::string list;
    for (const std::string& n : preset_names()) list += (list.empty() ? "" : ", ") + n;
    return Status::error("unknown preset '" + name + "'; presets: " + list);
}

}  // namespace citadel::plan
