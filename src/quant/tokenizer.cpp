#include "quant/tokenizer.h"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

namespace citadel::quant {
namespace {

using nlohmann::json;

// UTF-8 of one code point below 0x800.
std::string utf8(uint32_t cp) {
    if (cp < 0x80) return std::string(1, char(cp));
    return {char(0xC0 | (cp >> 6)), char(0x80 | (cp & 0x3F))};
}

// GPT-2's byte-level alphabet: printable bytes stand for themselves, the others are moved
// to code points from 256 up, so that every byte is a visible character.
std::vector<std::string> byte_level_alphabet() {
    std::vector<std::string> chars(256);
    uint32_t next = 256;
    for (uint32_t b = 0; b < 256; ++b) {
        const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
        chars[b] = utf8(printable ? b : next++);
    }
    return chars;
}

Result<json> read_json(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot read " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    json j = json::parse(ss.str(), nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Status::error(path + ": not valid JSON");
    return j;
}

// The ids of the vocabulary and of the added tokens, by token text.
Status collect_tokens(const json& tj, const std::string& path,
                      std::map<int64_t, std::string>& by_id,
                      std::map<int64_t, bool>& added_special) {
    const json& vocab = tj["model"]["vocab"];
    if (!vocab.is_object()) return Status::error(path + ": model.vocab is not an object");
    for (const auto& [text, id] : vocab.items()) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > (1 << 24)) {
            return Status::error(path + ": token '" + text + "' has an invalid id");
        }
        by_id[id.get<int64_t>()] = text;
    }
    const json added = tj.value("added_tokens", json::array());
    for (const json& a : added) {
        if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() ||
            !a.value("content", json()).is_string() || a["id"].get<int64_t>() < 0 ||
            a["id"].get<int64_t>() > (1 << 24)) {
            return Status::error(path + ": an added_tokens entry lacks an id or content");
        }
        by_id[a["id"].get<int64_t>()] = a["content"].get<std::string>();
        added_special[a["id"].get<int64_t>()] = a.value("special", false);
    }
    return ok_status();
}

Status collect_merges(const json& tj, const std::string& path, std::vector<std::string>& out) {
    const json merges = tj["model"].value("merges", json::array());
    for (const json& m : merges) {
        if (m.is_string()) {
            out.push_back(m.get<std::string>());
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            out.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
        } else {
            return Status::error(path + ": a merge is neither \"a b\" nor [\"a\", \"b\"]");
        }
    }
    return ok_status();
}

bool is_byte_token(const std::string& t) {
    return t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>';
}

// A special token of tokenizer_config.json: a string, {"content": ...}, or null.
std::optional<int64_t> special_id(const json& config, const char* key,
                                  const std::map<std::string, int64_t>& ids) {
    const json v = config.value(key, json());
    std::string text;
    if (v.is_string()) text = v.get<std::string>();
    if (v.is_object() && v.value("content", json()).is_string()) text = v["content"];
    const auto it = ids.find(text);
    if (text.empty() || it == ids.end()) return std::nullopt;
    return it->second;
}

std::string chat_template_of(const json& config) {
    const json t = config.value("chat_template", json());
    if (t.is_string()) return t.get<std::string>();
    if (t.is_array()) {  // [{"name": "default", "template": ...}, ...]
        for (const json& e : t) {
            if (e.is_object() && e.value("name", "") == "default" &&
                e.value("template", json()).is_string()) {
                return e["template"].get<std::string>();
            }
        }
    }
    return "";
}

std::string detect_pre(const std::map<std::string, int64_t>& ids, size_t n_tokens,
                       const std::string& fallback) {
    if (ids.count("<|begin_of_text|>")) return "llama-bpe";
    if (ids.count("<|im_start|>")) return n_tokens >= 150000 ? "qwen2" : "smollm";
    return fallback;
}

void apply_config(const json& config, const std::map<std::string, int64_t>& ids,
                  TokenizerData& tok) {
    tok.bos = special_id(config, "bos_token", ids);
    tok.eos = special_id(config, "eos_token", ids);
    tok.pad = special_id(config, "pad_token", ids);
    tok.unk = special_id(config, "unk_token", ids);
    if (config.value("add_bos_token", json()).is_boolean()) tok.add_bos = config["add_bos_token"];
    tok.chat_template = chat_template_of(config);
}

}  // namespace

TokenizerData synthetic_tokenizer(int64_t n_vocab, const std::string& pre) {
    TokenizerData tok;
    tok.model = "gpt2";
    tok.pre = pre;
    tok.tokens = byte_level_alphabet();
    // Two-character tokens from letters and the space marker, each with its merge.
    std::vector<std::string> chars = {utf8(0x120)};  // "Ġ": a byte-level space
    for (char c = 'a'; c <= 'z'; ++c) chars.push_back(std::string(1, c));
    for (char c = 'A'; c <= 'Z'; ++c) chars.push_back(std::string(1, c));
    const int64_t n_regular = n_vocab - 1;  // the last id is <|endoftext|>
    for (size_t i = 0; i < chars.size() && int64_t(tok.tokens.size()) < n_regular; ++i) {
        for (size_t j = 0; j < chars.size() && int64_t(tok.tokens.size()) < n_regular; ++j) {
            tok.tokens.push_back(chars[i] + chars[j]);
            tok.merges.push_back(chars[i] + " " + chars[j]);
        }
    }
    while (int64_t(tok.tokens.size()) < n_regular) {
        tok.tokens.push_back("[FILL" + std::to_string(tok.tokens.size()) + "]");
    }
    tok.types.assign(tok.tokens.size(), kTokenNormal);
    tok.tokens.push_back("<|endoftext|>");
    tok.types.push_back(kTokenControl);
    tok.bos = tok.eos = int64_t(tok.tokens.size()) - 1;
    return tok;
}

Result<TokenizerData> load_hf_tokenizer(const std::string& dir, const std::string& default_pre) {
    const std::string path = dir + "/tokenizer.json";
    Result<json> tj = read_json(path);
    if (!tj) return tj.status();
    if (!tj->contains("model") || (*tj)["model"].value("type", "") != "BPE") {
        return Status::error(path + ": only BPE tokenizers are supported");
    }
    std::map<int64_t, std::string> by_id;
    std::map<int64_t, bool> added_special;
    CITADEL_TRY(collect_tokens(*tj, path, by_id, added_special));
    if (by_id.empty()) return Status::error(path + ": the vocabulary is empty");
    const bool sentencepiece = (*tj)["model"].value("byte_fallback", false);

    TokenizerData tok;
    tok.model = sentencepiece ? "llama" : "gpt2";
    const int64_t n_tokens = by_id.rbegin()->first + 1;
    std::map<std::string, int64_t> ids;
    for (int64_t id = 0; id < n_tokens; ++id) {
        const auto it = by_id.find(id);
        const bool hole = it == by_id.end();
        const std::string text = hole ? "[PAD" + std::to_string(id) + "]" : it->second;
        int32_t type = hole ? kTokenUnused : kTokenNormal;
        if (const auto a = added_special.find(id); a != added_special.end()) {
            type = a->second ? kTokenControl : kTokenUserDefined;
        } else if (sentencepiece && is_byte_token(text)) {
            type = kTokenByte;
        }
        tok.tokens.push_back(text);
        tok.types.push_back(type);
        if (sentencepiece) tok.scores.push_back(type == kTokenNormal ? -float(id) : 0.0f);
        ids.emplace(text, id);
    }
    if (!sentencepiece) {
        CITADEL_TRY(collect_merges(*tj, path, tok.merges));
        tok.pre = detect_pre(ids, tok.tokens.size(), default_pre);
    }
    if (Result<json> config = read_json(dir + "/tokenizer_config.json"); config) {
        apply_config(*config, ids, tok);
    }
    if (tok.unk && size_t(*tok.unk) < tok.types.size()) tok.types[size_t(*tok.unk)] = kTokenUnknown;
    return tok;
}

Status pad_vocab(TokenizerData& tok, int64_t n_vocab) {
    if (int64_t(tok.tokens.size()) > n_vocab) {
        return Status::error("the tokenizer has " + std::to_string(tok.tokens.size()) +
                             " tokens, more than the model's vocabulary of " +
                             std::to_string(n_vocab));
    }
    while (int64_t(tok.tokens.size()) < n_vocab) {
        tok.tokens.push_back("[PAD" + std::to_string(tok.tokens.size()) + "]");
        tok.types.push_back(kTokenUnused);
        if (!tok.scores.empty()) tok.scores.push_back(0.0f);
    }
    return ok_status();
}

void add_tokenizer_metadata(gguf::Writer& w, const TokenizerData& tok) {
    using gguf::Value;
    w.set("tokenizer.ggml.model", Value::string(tok.model));
    if (!tok.pre.empty()) w.set("tokenizer.ggml.pre", Value::string(tok.pre));
    w.set("tokenizer.ggml.tokens", Value::string_array(tok.tokens));
    if (!tok.scores.empty()) w.set("tokenizer.ggml.scores", Value::f32_array(tok.scores));
    w.set("tokenizer.ggml.token_type", Value::i32_array(tok.types));
    if (!tok.merges.empty()) w.set("tokenizer.ggml.merges", Value::string_array(tok.merges));
    auto set_id = [&](const char* key, const std::optional<int64_t>& id) {
        if (id) w.set(key, Value::u32(uint32_t(*id)));
    };
    set_id("tokenizer.ggml.bos_token_id", tok.bos);
    set_id("tokenizer.ggml.eos_token_id", tok.eos);
    set_id("tokenizer.ggml.padding_token_id", tok.pad);
    set_id("tokenizer.ggml.unknown_token_id", tok.unk);
    if (tok.add_bos) w.set("tokenizer.ggml.add_bos_token", Value::boolean(*tok.add_bos));
    if (!tok.chat_template.empty()) {
        w.set("tokenizer.chat_template", Value::string(tok.chat_template));
    }
}

}  // namespace citadel::quant
