// A conversation rendered for the model: the chat template's text, and where in it the
// conversation's own content landed. Tokenizing it parses the template's special tokens
// but never ones that a user wrote into a message (prompt-injection of "<|im_start|>system").
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "text/regex.h"
#include "text/template/chat_template.h"
#include "text/tokenizer.h"

namespace citadel::text {

struct ChatPrompt {
    std::string text;
    std::vector<Span> content;  // byte ranges of message content inside text
};

// Renders context (messages, tools, add_generation_prompt, …) with the template.
Result<ChatPrompt> render_chat(const jinja::ChatTemplate& tpl,
                               const nlohmann::ordered_json& context);

// Token ids of the prompt: template special tokens parsed, content ones kept literal; BOS in
// front when the model wants one and the template did not write it.
std::vector<int32_t> encode_chat(const Tokenizer& tok, const ChatPrompt& prompt);

}  // namespace citadel::text
