// Ollama's API (docs/api.md of github.com/ollama/ollama): /api/chat, /api/generate, /api/tags,
// /api/show, /api/version. Requests parse into the same native structs as OpenAI's; replies
// are NDJSON lines. Ollama's sampling defaults apply (temperature 0.8, top_k 40, top_p 0.9,
// min_p 0, no length limit) except repeat_penalty, which defaults to 1.0: Citadel's
// repetition penalty covers the whole prompt and output, not llama.cpp's last 64 tokens, so
// Ollama's 1.1 would penalize far more than it does there.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "api/errors.h"
#include "api/openai_response.h"
#include "api/types.h"

namespace citadel::api {

// /api/chat: model, messages (images -> 400), tools, format ("json" -> json_object; a JSON
// schema -> 400), options {temperature, top_p, top_k, min_p, num_predict (-1 / -2: no limit),
// stop, seed (< 0: random), repeat_penalty, presence_penalty, frequency_penalty}, stream
// (default true). keep_alive, think and the other options are ignored. chat.stream mirrors
// `stream`.
struct OllamaChatRequest {
    ChatRequest chat;
    bool stream = true;
};
// /api/generate: as /api/chat with prompt (default ""), system, raw, and images -> 400,
// suffix -> 400. completion.prompts holds the one text prompt (the caller renders the
// template unless raw); completion.max_tokens is kUpToContext unless num_predict says.
struct OllamaGenerateRequest {
    std::string model;
    std::string prompt;
    std::string system;
    bool raw = false;
    bool stream = true;
    CompletionRequest completion;
    ResponseFormat format = ResponseFormat::kText;
};
Parsed<OllamaChatRequest> parse_ollama_chat(std::string_view body);
Parsed<OllamaGenerateRequest> parse_ollama_generate(std::string_view body);

struct OllamaTimings {
    int64_t total_ns = 0, load_ns = 0, prompt_eval_ns = 0, eval_ns = 0;
    int64_t prompt_eval_count = 0, eval_count = 0;
};

// One NDJSON line, "\n" included: {"model", "created_at" (RFC 3339, nanoseconds, UTC),
// "message": {"role": "assistant", "content", "tool_calls"?: [{"function": {"name",
// "arguments": object}}]}, "done"}; with done also "done_reason" and, given timings,
// "total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
// "eval_count", "eval_duration".
std::string ollama_chat_line(const std::string& model, const std::string& content,
                             const std::vector<ToolCall>& calls, bool done,
                             const std::string& done_reason, const OllamaTimings* timings);
// The same with "response" instead of "message".
std::string ollama_generate_line(const std::string& model, const std::string& response, bool done,
                                 const std::string& done_reason, const OllamaTimings* timings);

struct OllamaModel {
    std::string name;
    int64_t size_bytes = 0;
    std::string digest;
    std::string family;
    std::string parameter_size;  // "494.03M"
    std::string quantization;    // "Q8_0"
    int64_t modified_unix = 0;
};
// {"models": [{"name", "model", "modified_at", "size", "digest", "details": {"parent_model",
// "format", "family", "families", "parameter_size", "quantization_level"}}]}
std::string ollama_tags(const std::vector<OllamaModel>& models);
// /api/show's body: the model's name ("model", or the legacy "name").
Parsed<std::string> parse_ollama_show(std::string_view body);
// {"modelfile", "parameters", "template", "details", "model_info": {"general.architecture",
// "<arch>.context_length"}, "capabilities": ["completion", "tools"?], "modified_at"}
std::string ollama_show(const OllamaModel& model, const std::string& template_source,
                        int64_t context_length, const std::string& architecture);
std::string ollama_version(const std::string& version);  // {"version"}

// "2024-05-01T12:34:56.123456789Z" for a time in nanoseconds since the Unix epoch.
std::string rfc3339_nanos(int64_t unix_ns);

}  // namespace citadel::api
