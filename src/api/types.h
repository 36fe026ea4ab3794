// What the api layer hands inward: requests parsed from the OpenAI and Ollama wire formats
// into native structs. Past this point code works with types, not with request JSON; the
// only JSON left is what the chat template consumes (messages, tools, template kwargs).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/sampler.h"

namespace citadel::api {

enum class ResponseFormat { kText, kJsonObject };

struct ToolChoice {
    enum class Mode { kAuto, kNone, kRequired, kFunction } mode = Mode::kAuto;
    std::string function;  // kFunction: the tool to call
};

struct ChatRequest {
    std::string model;
    // Normalized for the chat template: an array of {"role", "content": string, and when
    // given "name", "tool_call_id", "reasoning_content", "tool_calls": [{"id"?, "type":
    // "function", "function": {"name", "arguments": object (or the string when it is not a
    // JSON object)}}]}. Roles are system, user, assistant, tool ("developer" became system,
    // legacy "function" became tool). Text parts are joined with "\n"; null content is "".
    nlohmann::ordered_json messages;
    // An array of {"type": "function", "function": {"name", "description"?, "parameters"?,
    // "strict"?}} (legacy `functions` converted), or null when none.
    nlohmann::ordered_json tools;
    // Default: kAuto with tools, kNone without (OpenAI's rule).
    ToolChoice tool_choice;
    // OpenAI's defaults: temperature 1, top_p 1, top_k 0 (off), min_p 0, no penalties.
    SamplingParams sampling;
    std::optional<int64_t> max_tokens;  // max_completion_tokens, else max_tokens; none: the context
    std::vector<std::string> stop;      // up to 16 strings, none empty
    int n = 1;                          // 1..16
    bool stream = false;
    bool include_usage = false;  // stream_options.include_usage
    bool ignore_eos = false;
    ResponseFormat response_format = ResponseFormat::kText;
    std::string user;
    nlohmann::ordered_json template_kwargs;  // chat_template_kwargs object (vLLM), or null
    std::vector<int32_t> stop_token_ids;     // vLLM extension: extra stop tokens (ids >= 0)
};

struct CompletionPrompt {
    std::string text;
    std::vector<int32_t> tokens;  // ids >= 0; the caller checks them against the vocabulary
    bool is_tokens = false;
};

// max_tokens of a CompletionRequest: no limit but the context (only from Ollama's
// num_predict -1 / -2; OpenAI's /v1/completions always has a limit, 16 by default).
inline constexpr int64_t kUpToContext = -1;

struct CompletionRequest {
    std::string model;
    std::vector<CompletionPrompt> prompts;  // string, [string...], [int...], or [[int...]...]
    SamplingParams sampling;                // OpenAI's defaults, as for chat
    int64_t max_tokens = 16;                // >= 1, or kUpToContext
    std::vector<std::string> stop;
    int n = 1;
    bool stream = false, include_usage = false, echo = false, ignore_eos = false;
    // The legacy logprobs count 0..5 (-1: none); sampling.logprobs and top_logprobs follow it.
    int logprobs = -1;
    std::string user;
    std::vector<int32_t> stop_token_ids;  // vLLM extension
};

}  // namespace citadel::api
