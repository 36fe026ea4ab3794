// Parsing the OpenAI request bodies (/v1/chat/completions, /v1/completions) into native
// requests. Every field is type- and range-checked; an error is a 400 whose param is the
// field's path and whose message says what was expected and what came. Unknown fields are
// ignored (as vLLM does). Never throws.
#pragma once

#include <string_view>

#include "api/errors.h"
#include "api/json_util.h"
#include "api/types.h"

namespace citadel::api {

Parsed<ChatRequest> parse_chat_request(std::string_view body);
Parsed<CompletionRequest> parse_completion_request(std::string_view body);

// SamplingParams with OpenAI's defaults (temperature 1, top_p 1, top_k off, min_p 0).
SamplingParams openai_sampling_defaults();

// Shared with the Ollama and tokenize parsers.
enum class Dialect { kOpenAI, kOllama };
// `messages` at `path`: a non-empty array of messages, normalized as ChatRequest::messages
// says. Ollama's messages carry "images" (refused when not empty), "tool_name" (kept as
// "name") and tool calls whose arguments are already objects (OpenAI's, strings, work too).
Parsed<Json> parse_messages(const Json& messages, const std::string& path, Dialect dialect);
// `tools` at `path`: an array of function tools, normalized as ChatRequest::tools says.
Parsed<Json> parse_tools(const Json& tools, const std::string& path);
// `stop` at `path`: a string or an array of up to 16 non-empty strings.
FieldError parse_stop(const Json& stop, const std::string& path, std::vector<std::string>& out);

}  // namespace citadel::api
