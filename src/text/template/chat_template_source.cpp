#include "text/template/chat_template_source.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/log.h"
#include "gguf/gguf.h"
#include "text/template/chat_template.h"

namespace citadel::jinja {
namespace {

Result<std::string> read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot open '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return Status::error("cannot read '" + path + "'");
    return ss.str();
}

ChatTemplateSource chatml_fallback(const std::string& origin) {
    CITADEL_LOG_WARN("%s has no chat template; using ChatML", origin.c_str());
    ChatTemplateSource s;
    s.source = chatml_template();
    s.origin = origin;
    s.fallback = true;
    return s;
}

std::optional<std::string> token_by_id(const gguf::File& file, std::string_view id_key) {
    const std::optional<int64_t> id = file.get_int(id_key);
    const gguf::Value* tokens = file.find("tokenizer.ggml.tokens");
    if (!id || !tokens || !tokens->as_array()) return std::nullopt;
    const auto& items = tokens->as_array()->items;
    if (*id < 0 || size_t(*id) >= items.size()) return std::nullopt;
    const std::string* s = items[size_t(*id)].as_string();
    return s ? std::optional<std::string>(*s) : std::nullopt;
}

// bos_token / eos_token in tokenizer_config.json: a string or {"content": "..."}.
std::optional<std::string> special_token(const nlohmann::ordered_json& config, const char* key) {
    auto it = config.find(key);
    if (it == config.end()) return std::nullopt;
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
        return (*it)["content"].get<std::string>();
    }
    return std::nullopt;
}

Result<std::string> template_from_config(const nlohmann::ordered_json& config,
                                         const std::string& path) {
    auto it = config.find("chat_template");
    if (it == config.end() || it->is_null()) return std::string();
    if (it->is_string()) return it->get<std::string>();
    if (!it->is_array()) return Status::error(path + ": chat_template must be a string or a list");
    const nlohmann::ordered_json* first = nullptr;
    for (const auto& entry : *it) {
        if (!entry.is_object() || !entry.contains("template") || !entry["template"].is_string()) {
            return Status::error(path + ": chat_template entries need a \"template\" string");
        }
        if (!first) first = &entry;
        if (entry.value("name", "") == "default") return entry["template"].get<std::string>();
    }
    if (!first) return std::string();
    CITADEL_LOG_WARN("%s: no chat template named \"default\"; using \"%s\"", path.c_str(),
                     first->value("name", "").c_str());
    return (*first)["template"].get<std::string>();
}

}  // namespace

Result<ChatTemplateSource> load_template_file(const std::string& path) {
    Result<std::string> text = read_text(path);
    if (!text) return text.status();
    ChatTemplateSource s;
    s.source = std::move(*text);
    s.origin = path;
    return s;
}

Result<ChatTemplateSource> load_template_from_gguf(const std::string& path) {
    auto file = gguf::File::open(path);
    if (!file) return file.status();
    const gguf::File& f = **file;
    std::optional<std::string> text = f.get_string("tokenizer.chat_template");
    ChatTemplateSource s = text ? ChatTemplateSource{} : chatml_fallback(path);
    if (text) {
        s.source = std::move(*text);
        s.origin = path;
    }
    s.bos_token = token_by_id(f, "tokenizer.ggml.bos_token_id");
    s.eos_token = token_by_id(f, "tokenizer.ggml.eos_token_id");
    return s;
}

Result<ChatTemplateSource> load_template_from_hf_dir(const std::string& dir) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return Status::error("'" + dir + "' is not a directory");
    const std::string config_path = (fs::path(dir) / "tokenizer_config.json").string();
    nlohmann::ordered_json config = nlohmann::ordered_json::object();
    if (fs::exists(config_path, ec)) {
        Result<std::string> text = read_text(config_path);
        if (!text) return text.status();
        config = nlohmann::ordered_json::parse(*text, nullptr, false);
        if (config.is_discarded() || !config.is_object()) {
            return Status::error(config_path + ": not a JSON object");
        }
    }
    ChatTemplateSource s;
    s.bos_token = special_token(config, "bos_token");
    s.eos_token = special_token(config, "eos_token");
    const std::string jinja_path = (fs::path(dir) / "chat_template.jinja").string();
    if (fs::exists(jinja_path, ec)) {
        Result<std::string> text = read_text(jinja_path);
        if (!text) return text.status();
        s.source = std::move(*text);
        s.origin = jinja_path;
        return s;
    }
    Result<std::string> from_config = template_from_config(config, config_path);
    if (!from_config) return from_config.status();
    if (from_config->empty()) {
        ChatTemplateSource fallback = chatml_fallback(dir);
        fallback.bos_token = s.bos_token;
        fallback.eos_token = s.eos_token;
        return fallback;
    }
    s.source = std::move(*from_config);
    s.origin = config_path;
    return s;
}

}  // namespace citadel::jinja
