#include "plan/sources.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "gguf/gguf.h"
#include "quant/mix.h"

namespace citadel::plan {
namespace {

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Marks routed-expert tensors and an untied embedding, as the tensor list of a file says.
void classify_tensors(const Arch& a, std::vector<WeightTensor>& tensors) {
    bool has_output = false;
    for (const WeightTensor& t : tensors) has_output |= t.name == "output.weight";
    for (WeightTensor& t : tensors) {
        if (a.is_moe() && t.name.find("_exps.") != std::string::npos) {
            t.active_fraction = double(a.n_expert_used) / double(a.n_expert);
        }
        t.lookup_only = has_output && t.name == "token_embd.weight";
    }
}

std::string file_type_name(int64_t file_type) {
    std::stringstream names(quant::mix_names());
    std::string name;
    while (std::getline(names, name, ',')) {
        while (!name.empty() && name.front() == ' ') name.erase(0, 1);
        const std::optional<quant::Mix> mix = quant::find_mix(name);
        if (mix && int64_t(mix->file_type) == file_type) return name;
    }
    return "";
}

// The attention and expert keys of a GGUF file under "<arch>.".
void read_gguf_attention(const gguf::File& f, const std::string& p, Arch& a) {
    a.n_head = f.get_int(p + "attention.head_count").value_or(0);
    a.n_head_kv = f.get_int(p + "attention.head_count_kv").value_or(a.n_head);
    const int64_t default_head = a.n_head > 0 ? a.n_embd / a.n_head : 0;
    a.head_dim = f.get_int(p + "attention.key_length_mla")
                     .value_or(f.get_int(p + "attention.key_length").value_or(default_head));
    a.head_dim_v = f.get_int(p + "attention.value_length_mla")
                       .value_or(f.get_int(p + "attention.value_length").value_or(0));
    a.kv_lora_rank = f.get_int(p + "attention.kv_lora_rank").value_or(0);
    if (a.is_mla()) {
        a.q_lora_rank = f.get_int(p + "attention.q_lora_rank").value_or(0);
        a.qk_rope_head_dim = f.get_int(p + "rope.dimension_count").value_or(0);
        a.qk_nope_head_dim = a.head_dim - a.qk_rope_head_dim;
        a.v_head_dim = a.value_dim();
    }
    a.n_expert = f.get_int(p + "expert_count").value_or(0);
    a.n_expert_used = f.get_int(p + "expert_used_count").value_or(0);
    a.n_expert_shared = f.get_int(p + "expert_shared_count").value_or(0);
    a.n_ff_expert = f.get_int(p + "expert_feed_forward_length").value_or(0);
    a.n_dense_first = f.get_int(p + "leading_dense_block_count").value_or(0);
}

Result<Arch> arch_from_gguf(const gguf::File& f) {
    Arch a;
    a.family = f.get_string("general.architecture").value_or("");
    if (a.family.empty()) return Status::error(f.path() + ": no general.architecture key");
    a.name = f.get_string("general.name").value_or(a.family);
    const std::string p = a.family + ".";
    a.n_layer = f.get_int(p + "block_count").value_or(0);
    a.n_embd = f.get_int(p + "embedding_length").value_or(0);
    a.n_ff = f.get_int(p + "feed_forward_length").value_or(0);
    a.n_ctx_train = f.get_int(p + "context_length").value_or(0);
    read_gguf_attention(f, p, a);
    if (const gguf::TensorInfo* e = f.find_tensor("token_embd.weight"); e && e->dims.size() == 2) {
        a.n_vocab = e->dims[1];
    }
    a.tied_embeddings = f.find_tensor("output.weight") == nullptr;
    a.qkv_bias = f.find_tensor("blk.0.attn_q.bias") || f.find_tensor("blk.0.attn_qkv.bias");
    a.qk_norm = f.find_tensor("blk.0.attn_q_norm.weight") != nullptr;
    if (std::string why = validate(a); !why.empty()) {
        return Status::error(f.path() + ": unusable " + a.family + " metadata: " + why);
    }
    return a;
}

// One config.json field under any of its names (GLM's own configs use other keys).
std::optional<int64_t> get_int(const nlohmann::json& j, std::initializer_list<const char*> keys) {
    for (const char* k : keys) {
        auto it = j.find(k);
        if (it != j.end() && it->is_number_integer()) return it->get<int64_t>();
    }
    return std::nullopt;
}

std::string family_of(const std::string& model_type) {
    if (model_type == "qwen2" || model_type == "qwen3" || model_type == "llama") {
        return model_type;
    }
    if (model_type == "qwen3_moe") return "qwen3moe";
    if (model_type == "qwen2_moe") return "qwen2moe";
    if (model_type == "mistral") return "llama";
    if (model_type == "deepseek_v3" || model_type == "deepseek_v2") return "deepseek2";
    if (model_type == "glm" || model_type == "glm4" || model_type == "chatglm") return "chatglm";
    return model_type.empty() ? "llama" : model_type;
}

void read_config_moe(const nlohmann::json& j, Arch& a) {
    a.n_expert = get_int(j, {"n_routed_experts", "num_experts", "num_local_experts"}).value_or(0);
    a.n_expert_used = get_int(j, {"num_experts_per_tok"}).value_or(0);
    a.n_expert_shared = get_int(j, {"n_shared_experts"}).value_or(0);
    // Mixtral's experts are intermediate_size wide and it has no dense layers
    a.n_ff_expert = get_int(j, {"moe_intermediate_size"}).value_or(a.n_expert > 0 ? a.n_ff : 0);
    a.n_dense_first = get_int(j, {"first_k_dense_replace"}).value_or(0);
    a.kv_lora_rank = get_int(j, {"kv_lora_rank"}).value_or(0);
    a.q_lora_rank = get_int(j, {"q_lora_rank"}).value_or(0);
    a.qk_rope_head_dim = get_int(j, {"qk_rope_head_dim"}).value_or(0);
    a.qk_nope_head_dim = get_int(j, {"qk_nope_head_dim"}).value_or(0);
    a.v_head_dim = get_int(j, {"v_head_dim"}).value_or(0);
    if (a.is_mla()) {
        a.head_dim = a.qk_nope_head_dim + a.qk_rope_head_dim;
        a.head_dim_v = a.v_head_dim;
    }
}

Result<Arch> arch_from_config(const nlohmann::json& j, const std::string& where) {
    if (!j.is_object()) return Status::error(where + ": not a JSON object");
    const std::optional<int64_t> layers = get_int(j, {"num_hidden_layers", "num_layers"});
    const std::optional<int64_t> hidden = get_int(j, {"hidden_size"});
    const std::optional<int64_t> heads = get_int(j, {"num_attention_heads"});
    const std::optional<int64_t> ff = get_int(j, {"intermediate_size", "ffn_hidden_size"});
    const std::optional<int64_t> vocab = get_int(j, {"vocab_size", "padded_vocab_size"});
    std::string missing;
    auto need = [&](const std::optional<int64_t>& v, const char* key) {
        if (!v) missing += (missing.empty() ? "" : ", ") + std::string(key);
    };
    need(layers, "num_hidden_layers");
    need(hidden, "hidden_size");
    need(heads, "num_attention_heads");
    need(ff, "intermediate_size");
    need(vocab, "vocab_size");
    if (!missing.empty()) return Status::error(where + ": missing integer fields: " + missing);
    Arch a;
    a.family = family_of(j.value("model_type", std::string()));
    a.name = j.value("_name_or_path", std::string());
    a.n_layer = *layers, a.n_embd = *hidden, a.n_head = *heads, a.n_ff = *ff, a.n_vocab = *vocab;
    a.n_head_kv = get_int(j, {"num_key_value_heads", "multi_query_group_num"}).value_or(a.n_head);
    a.head_dim =
        get_int(j, {"head_dim", "kv_channels"}).value_or(a.n_head ? a.n_embd / a.n_head : 0);
    a.n_ctx_train = get_int(j, {"max_position_embeddings", "seq_length"}).value_or(0);
    a.tied_embeddings = j.value("tie_word_embeddings", false);
    a.qkv_bias =
        a.family == "qwen2" || j.value("attention_bias", false) || j.value("add_qkv_bias", false);
    a.qk_norm = a.family == "qwen3" || a.family == "qwen3moe";
    read_config_moe(j, a);
    if (std::string why = validate(a); !why.empty()) return Status::error(where + ": " + why);
    return a;
}

Result<std::string> read_text(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
        return Status::error(path + " is a directory, not a config.json file");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot open " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

Result<ModelSource> source_from_gguf(const std::string& path) {
    Result<std::shared_ptr<const gguf::File>> file = gguf::File::open(path);
    if (!file) return file.status();
    const gguf::File& f = **file;
    Result<Arch> arch = arch_from_gguf(f);
    if (!arch) return arch.status();
    ModelSource s{.arch = *arch, .kind = "gguf", .spec = path};
    for (const gguf::TensorInfo& t : f.tensors()) {
        s.tensors.push_back({t.name, t.dims, 1.0, false});
        s.file_types.push_back(t.type);
        s.file_bytes.push_back(t.n_bytes);
    }
    classify_tensors(s.arch, s.tensors);
    s.file_quant = file_type_name(f.get_int("general.file_type").value_or(-1));
    return s;
}

Result<ModelSource> source_from_config_text(const std::string& text, const std::string& where) {
    nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded()) return Status::error(where + ": not valid JSON");
    Result<Arch> arch = arch_from_config(j, where);
    if (!arch) return arch.status();
    if (arch->name.empty()) arch->name = where;
    ModelSource s{.arch = *arch, .kind = "config.json", .spec = where};
    s.tensors = weight_tensors(s.arch);
    s.source_dtype = j.value("torch_dtype", std::string());
    return s;
}

Result<ModelSource> source_from_config(const std::string& path) {
    Result<std::string> text = read_text(path);
    if (!text) return text.status();
    return source_from_config_text(*text, path);
}

Result<ModelSource> source_from_preset(const std::string& name) {
    Result<Arch> arch = arch_from_preset(name);
    if (!arch) return arch.status();
    ModelSource s{.arch = *arch, .kind = "preset", .spec = name};
    s.tensors = weight_tensors(s.arch);
    s.source_dtype = "bfloat16";
    return s;
}

Result<ModelSource> open_source(const std::string& spec) {
    if (ends_with(spec, ".gguf")) return source_from_gguf(spec);
    std::error_code ec;
    if (ends_with(spec, ".json") || std::filesystem::is_regular_file(spec, ec)) {
        return source_from_config(spec);
    }
    return source_from_preset(spec);
}

}  // namespace citadel::plan
