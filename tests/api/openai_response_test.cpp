// The exact shapes of the OpenAI response bodies and of the error bodies, compared as parsed
// JSON with OpenAI's documented objects.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "api/openai_response.h"
#include "api_test_util.h"

namespace citadel::api {
namespace {

using test::parse;

const ResponseMeta kMeta = {.id = "chatcmpl-1", .created = 1700000000, .model = "qwen"};

TEST(ApiErrors, Bodies) {
    const ApiError e = invalid_param("temperature", "must be in [0, 2], got 3");
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.message, "temperature: must be in [0, 2], got 3");
    EXPECT_EQ(parse(error_body(e)), parse(R"({"error": {
        "message": "temperature: must be in [0, 2], got 3", "type": "invalid_request_error",
        "param": "temperature", "code": null}})"));
    const ApiError nf = not_found("The model 'x' does not exist", "model_not_found");
    EXPECT_EQ(nf.status, 404);
    EXPECT_EQ(parse(error_body(nf)), parse(R"({"error": {
        "message": "The model 'x' does not exist", "type": "not_found_error", "param": null,
        "code": "model_not_found"}})"));
    EXPECT_EQ(parse(ollama_error_body(nf)), parse(R"({"error": "The model 'x' does not exist"})"));
    EXPECT_EQ(server_error("boom").status, 500);
    // Bytes that are not UTF-8 in a message never make the body throw.
    EXPECT_EQ(parse(ollama_error_body(invalid_request("bad \xff"))),
              parse(R"({"error": "bad \ufffd"})"));
}

TEST(ApiResponse, ChatCompletion) {
    const std::string body =
        chat_completion(kMeta, {{.index = 0, .content = "Hello!", .finish_reason = "stop"}},
                        {.prompt_tokens = 9, .completion_tokens = 3, .cached_tokens = 4});
    EXPECT_EQ(parse(body), parse(R"({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "qwen",
        "system_fingerprint": null,
        "choices": [{"index": 0,
                     "message": {"role": "assistant", "content": "Hello!", "refusal": null},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12,
                  "prompt_tokens_details": {"cached_tokens": 4}}})"));
    // Field order follows OpenAI's.
    EXPECT_EQ(body.substr(0, 39), R"({"id":"chatcmpl-1","object":"chat.compl)");
}

TEST(ApiResponse, ChatCompletionWithToolCalls) {
    ChatChoice c{.index = 0, .finish_reason = "stop"};
    c.tool_calls = {{"call_a", "get_weather", R"({"city":"Paris"})"}, {"call_b", "noop", "{}"}};
    ResponseMeta meta = kMeta;
    meta.system_fingerprint = "fp_citadel";
    EXPECT_EQ(parse(chat_completion(meta, {c}, {})), parse(R"({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1700000000, "model": "qwen",
        "system_fingerprint": "fp_citadel",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": null,
            "refusal": null, "tool_calls": [
                {"index": 0, "id": "call_a", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"index": 1, "id": "call_b", "type": "function",
                 "function": {"name": "noop", "arguments": "{}"}}]},
            "logprobs": null, "finish_reason": "tool_calls"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0,
                  "prompt_tokens_details": {"cached_tokens": 0}}})"));
    c.content = "Let me check.";
    const Json j = parse(chat_completion(kMeta, {c}, {}));
    EXPECT_EQ(j["choices"][0]["message"]["content"], "Let me check.");
}

TEST(ApiResponse, ChatLogprobs) {
    ChatChoice c{.index = 1, .content = "Hi", .finish_reason = "length"};
    c.logprobs = std::vector<TokenInfo>{{"Hi", -0.25f, {{"Hi", -0.25f}, {"Hello", -1.5f}}},
                                        {"\xe4\xbd", -std::numeric_limits<float>::infinity(), {}}};
    const Json j = parse(chat_completion(kMeta, {c}, {}));
    EXPECT_EQ(j["choices"][0]["logprobs"], parse(R"({"content": [
        {"token": "Hi", "logprob": -0.25, "bytes": [72, 105], "top_logprobs": [
            {"token": "Hi", "logprob": -0.25, "bytes": [72, 105]},
            {"token": "Hello", "logprob": -1.5, "bytes": [72, 101, 108, 108, 111]}]},
        {"token": "\ufffd", "logprob": -9999.0, "bytes": [228, 189], "top_logprobs": []}],
        "refusal": null})"));
    EXPECT_EQ(j["choices"][0]["index"], 1);
    EXPECT_EQ(j["choices"][0]["finish_reason"], "length");
    // A float logprob is written in its shortest form.
    c.logprobs = std::vector<TokenInfo>{{"a", -0.1f, {}}};
    EXPECT_NE(chat_completion(kMeta, {c}, {}).find(R"("logprob":-0.1,)"), std::string::npos);
}

TEST(ApiResponse, ChatChunks) {
    ChatDelta first{.index = 0, .role = true, .content = ""};
    EXPECT_EQ(parse(chat_chunk(kMeta, first)), parse(R"({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
        "model": "qwen", "system_fingerprint": null,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                     "logprobs": null, "finish_reason": null}]})"));
    ChatDelta text{.index = 2, .content = "lo"};
    const Json t = parse(chat_chunk(kMeta, text));
    EXPECT_EQ(t["choices"][0]["delta"], parse(R"({"content": "lo"})"));  // no role after the first
    EXPECT_EQ(t["choices"][0]["index"], 2);
    ChatDelta last{.index = 0, .finish_reason = "stop"};
    EXPECT_EQ(parse(chat_chunk(kMeta, last))["choices"][0],
              parse(R"({"index": 0, "delta": {}, "logprobs": null, "finish_reason": "stop"})"));
}

TEST(ApiResponse, ChatChunkToolCalls) {
    ChatDelta d{.index = 0, .first_tool_index = 1};
    d.tool_calls = {{"call_x", "f", R"({"a":1})"}};
    EXPECT_EQ(parse(chat_chunk(kMeta, d))["choices"][0]["delta"], parse(R"({"tool_calls": [
        {"index": 1, "id": "call_x", "type": "function",
         "function": {"name": "f", "arguments": "{\"a\":1}"}}]})"));
    // A continuation delta (no id, no name) carries only the index and arguments.
    d.tool_calls = {{"", "", R"("b":2})"}};
    EXPECT_EQ(parse(chat_chunk(kMeta, d))["choices"][0]["delta"], parse(R"({"tool_calls": [
        {"index": 1, "function": {"arguments": "\"b\":2}"}}]})"));
}

TEST(ApiResponse, ChatChunkLogprobs) {
    ChatDelta d{.index = 0, .content = "a"};
    d.logprobs = std::vector<TokenInfo>{{"a", -0.5f, {{"a", -0.5f}}}};
    EXPECT_EQ(parse(chat_chunk(kMeta, d))["choices"][0]["logprobs"], parse(R"({"content": [
        {"token": "a", "logprob": -0.5, "bytes": [97],
         "top_logprobs": [{"token": "a", "logprob": -0.5, "bytes": [97]}]}], "refusal": null})"));
}

TEST(ApiResponse, UsageChunk) {
    EXPECT_EQ(parse(usage_chunk(kMeta, {.prompt_tokens = 5, .completion_tokens = 2}, true)),
              parse(R"({"id": "chatcmpl-1", "object": "chat.completion.chunk",
                        "created": 1700000000, "model": "qwen", "system_fingerprint": null,
                        "choices": [],
                        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7,
                                  "prompt_tokens_details": {"cached_tokens": 0}}})"));
    EXPECT_EQ(parse(usage_chunk(kMeta, {}, false))["object"], "text_completion");
}

TEST(ApiResponse, Completion) {
    const ResponseMeta meta{.id = "cmpl-1", .created = 5, .model = "m"};
    EXPECT_EQ(parse(completion(meta, {{.index = 0, .text = " there", .finish_reason = "length"}},
                               {.prompt_tokens = 2, .completion_tokens = 1})),
              parse(R"({"id": "cmpl-1", "object": "text_completion", "created": 5, "model": "m",
                        "system_fingerprint": null,
                        "choices": [{"text": " there", "index": 0, "logprobs": null,
                                     "finish_reason": "length"}],
                        "usage": {"prompt_tokens": 2, "completion_tokens": 1, "total_tokens": 3,
                                  "prompt_tokens_details": {"cached_tokens": 0}}})"));
}

TEST(ApiResponse, CompletionLegacyLogprobs) {
    CompletionChoice c{.index = 0, .text = "\xc3\xa9t\xc3\xa9!", .finish_reason = "stop"};
    c.text_offset0 = 10;
    c.logprobs = std::vector<TokenInfo>{{"\xc3\xa9t", -0.5f, {{"\xc3\xa9t", -0.5f}, {"a", -2.0f}}},
                                        {"\xc3\xa9", -1.0f, {}},
                                        {"!", -std::nanf(""), {{"!", -0.25f}}}};
    const Json j = parse(completion({.id = "c"}, {c}, {}));
    EXPECT_EQ(j["choices"][0]["logprobs"], parse(R"({
        "tokens": ["ét", "é", "!"],
        "token_logprobs": [-0.5, -1.0, -9999.0],
        "top_logprobs": [{"ét": -0.5, "a": -2.0}, {}, {"!": -0.25}],
        "text_offset": [10, 12, 13]})"));
}

TEST(ApiResponse, CompletionChunks) {
    const ResponseMeta meta{.id = "cmpl-1", .created = 5, .model = "m"};
    const CompletionChoice c{.index = 1, .text = "ab", .finish_reason = "stop"};
    EXPECT_EQ(parse(completion_chunk(meta, c, false)),
              parse(R"({"id": "cmpl-1", "object": "text_completion", "created": 5, "model": "m",
                        "system_fingerprint": null,
                        "choices": [{"text": "ab", "index": 1, "logprobs": null,
                                     "finish_reason": null}]})"));
    EXPECT_EQ(parse(completion_chunk(meta, c, true))["choices"][0]["finish_reason"], "stop");
}

TEST(ApiResponse, SseAndModels) {
    EXPECT_EQ(sse(R"({"a":1})"), "data: {\"a\":1}\n\n");
    EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
    const ModelInfo m{.id = "qwen3", .created = 7, .max_model_len = 4096};
    EXPECT_EQ(parse(model_object(m)), parse(R"({"id": "qwen3", "object": "model", "created": 7,
                                                "owned_by": "citadel", "max_model_len": 4096})"));
    EXPECT_EQ(parse(model_list({m, {.id = "b"}})), parse(R"({"object": "list", "data": [
        {"id": "qwen3", "object": "model", "created": 7, "owned_by": "citadel",
         "max_model_len": 4096},
        {"id": "b", "object": "model", "created": 0, "owned_by": "citadel"}]})"));
    EXPECT_EQ(parse(model_list({})), parse(R"({"object": "list", "data": []})"));
}

TEST(ApiResponse, InvalidUtf8IsReplacedNotThrown) {
    const ChatChoice c{.index = 0, .content = "a\xe4\xbd", .finish_reason = "stop"};
    std::string body;
    ASSERT_NO_THROW(body = chat_completion(kMeta, {c}, {}));
    EXPECT_EQ(parse(body)["choices"][0]["message"]["content"], "a\ufffd");
}

}  // namespace
}  // namespace citadel::api
