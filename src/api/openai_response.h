// Building the OpenAI response bodies (and the /tokenize, /detokenize bodies, which follow
// vLLM's and llama.cpp's shapes). Every builder returns compact JSON text; strings that are
// not valid UTF-8 (a token may carry part of a character) have their bad bytes replaced by
// U+FFFD, so building never throws. Logprobs that are -inf (or NaN) are written as -9999.0,
// as OpenAI does.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/errors.h"
#include "api/json_util.h"

namespace citadel::api {

struct TokenInfo {
    std::string text;  // the token's bytes
    float logprob = 0;
    std::vector<std::pair<std::string, float>> top;  // alternatives, most likely first
};

struct ToolCall {
    std::string id;
    std::string name;
    std::string arguments;  // JSON text
};

struct UsageInfo {
    int64_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
};

struct ChatChoice {
    int index = 0;
    std::string content;
    std::vector<ToolCall> tool_calls;
    std::string finish_reason;  // "tool_calls" is written instead when tool_calls is not empty
    std::optional<std::vector<TokenInfo>> logprobs;
};

struct ChatDelta {
    int index = 0;
    bool role = false;  // write "role": "assistant" (the first chunk of a choice)
    std::optional<std::string> content;
    std::vector<ToolCall> tool_calls;  // complete calls; an empty id/name is left out
    int first_tool_index = 0;          // the "index" of tool_calls[0] within the choice
    std::optional<std::string> finish_reason;
    std::optional<std::vector<TokenInfo>> logprobs;
};

struct ResponseMeta {
    std::string id;       // made by the caller: "chatcmpl-…", "cmpl-…"
    int64_t created = 0;  // unix seconds
    std::string model;
    std::string system_fingerprint;  // empty -> null
};

// {"id", "object": "chat.completion", "created", "model", "system_fingerprint", "choices":
// [{"index", "message": {"role", "content", "refusal", "tool_calls"?}, "logprobs",
// "finish_reason"}], "usage"}. content is null when there are tool calls and no text.
std::string chat_completion(const ResponseMeta& meta, const std::vector<ChatChoice>& choices,
                            const UsageInfo& usage);
// {"id", "object": "chat.completion.chunk", "created", "model", "system_fingerprint",
// "choices": [{"index", "delta": {"role"?, "content"?, "tool_calls"?}, "logprobs",
// "finish_reason"}]}; tool call deltas carry index, id, type "function", function{name,
// arguments}.
std::string chat_chunk(const ResponseMeta& meta, const ChatDelta& delta);
// The last chunk of a stream with include_usage: "choices": [] and "usage".
std::string usage_chunk(const ResponseMeta& meta, const UsageInfo& usage, bool chat);

struct CompletionChoice {
    int index = 0;
    std::string text;
    std::string finish_reason;
    std::optional<std::vector<TokenInfo>> logprobs;
    int64_t text_offset0 = 0;  // text_offset of the first token (counted in code points)
};

// {"id", "object": "text_completion", "created", "model", "system_fingerprint", "choices":
// [{"text", "index", "logprobs", "finish_reason"}], "usage"}; logprobs in the legacy shape
// {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}.
std::string completion(const ResponseMeta& meta, const std::vector<CompletionChoice>& choices,
                       const UsageInfo& usage);
// One chunk; finish_reason is null unless final_chunk.
std::string completion_chunk(const ResponseMeta& meta, const CompletionChoice& choice,
                             bool final_chunk);

std::string sse(const std::string& json);  // "data: <json>\n\n"
std::string sse_done();                    // "data: [DONE]\n\n"

struct ModelInfo {
    std::string id;
    int64_t created = 0;
    std::string owned_by = "citadel";
    int64_t max_model_len = 0;  // 0: left out
    std::string state;          // "ready", "loading", "unloaded", "failed"; empty: left out
};
std::string model_list(const std::vector<ModelInfo>& models);  // {"object": "list", "data"}
std::string model_object(const ModelInfo& model);  // {"id", "object": "model", "created", …}

// /tokenize: vLLM's {"model"?, "prompt", "add_special_tokens"?} or {"model"?, "messages",
// "add_generation_prompt"?, "add_special_tokens"?}; llama.cpp's {"content", "add_special"?,
// "with_pieces"?}. add_special defaults to true for a prompt, false for messages (the
// template writes the special tokens) and for llama.cpp's content (its default).
struct TokenizeRequest {
    std::string model;  // may be empty
    std::string text;
    bool add_special = true;
    bool with_pieces = false;
    nlohmann::ordered_json messages;  // normalized as ChatRequest::messages, or null for text
    bool add_generation_prompt = true;
};
Parsed<TokenizeRequest> parse_tokenize(std::string_view body);

// /detokenize: {"model"?, "tokens": [ids >= 0]}.
struct DetokenizeRequest {
    std::string model;
    std::vector<int32_t> tokens;
};
Parsed<DetokenizeRequest> parse_detokenize(std::string_view body);

// {"tokens", "count", "max_model_len"}; with pieces, tokens are llama.cpp's [{"id", "piece"}]
// (a piece that is not valid UTF-8 is written as its byte values).
std::string tokenize_response(const std::vector<int32_t>& tokens,
                              const std::vector<std::string>* pieces, int64_t max_model_len);
std::string detokenize_response(const std::string& text);  // {"prompt": text, "content": text}

// The pieces used above, for other builders.
Json usage_json(const UsageInfo& usage);
Json tool_calls_json(const std::vector<ToolCall>& calls, int first_index);

}  // namespace citadel::api
