// Where a model's chat template comes from: a GGUF file (tokenizer.chat_template), a
// Hugging Face tokenizer directory (chat_template.jinja or tokenizer_config.json), or a
// plain template file. A model without a template falls back to ChatML with a warning.
#pragma once

#include <optional>
#include <string>

#include "core/status.h"

namespace citadel::jinja {

struct ChatTemplateSource {
    std::string source;
    std::optional<std::string> bos_token;
    std::optional<std::string> eos_token;
    std::string origin;     // file the template text came from, for messages
    bool fallback = false;  // the model had no template; this is ChatML
};

Result<ChatTemplateSource> load_template_file(const std::string& path);
Result<ChatTemplateSource> load_template_from_gguf(const std::string& path);
Result<ChatTemplateSource> load_template_from_hf_dir(const std::string& dir);

}  // namespace citadel::jinja
