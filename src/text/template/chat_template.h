// Chat templates as Hugging Face applies them: a Jinja2 template rendered with the
// conversation (messages, tools, add_generation_prompt, bos_token, eos_token, ...).
//
//   auto t = ChatTemplate::create(source, {.bos_token = "<s>", .eos_token = "</s>"});
//   Result<std::string> prompt = t->apply(context_json);
#pragma once

#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "text/template/template.h"

namespace citadel::jinja {

struct ChatTemplateOptions {
    // Used when the context does not give bos_token / eos_token itself.
    std::optional<std::string> bos_token;
    std::optional<std::string> eos_token;
    RenderLimits limits;
    // Pins strftime_now(); unset: the real local time.
    std::optional<std::tm> now;
};

class ChatTemplate {
  public:
    static Result<ChatTemplate> create(std::string_view source, ChatTemplateOptions options = {});

    // `context` is a JSON object; every key becomes a template variable.
    Result<std::string> apply(const nlohmann::ordered_json& context) const;

  private:
    ChatTemplate(Template t, ChatTemplateOptions options)
        : template_(std::move(t)), options_(std::move(options)) {}
    Template template_;
    ChatTemplateOptions options_;
};

// The ChatML template used when a model ships none.
const char* chatml_template();

// "2026-11-21 09:30:00" or "2026-11-21T09:30:00" (seconds optional) as local time.
Result<std::tm> parse_datetime(std::string_view text);

}  // namespace citadel::jinja
