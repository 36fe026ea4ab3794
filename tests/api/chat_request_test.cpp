// Parsing /v1/chat/completions bodies: every rule, with the status and param of its error.
#include <gtest/gtest.h>

#include <limits>

#include "api/openai_request.h"
#include "api_test_util.h"

namespace citadel::api {
namespace {

using test::failed_with;
using test::parse;

// A valid body with `extra` fields appended (", \"n\": 2").
Parsed<ChatRequest> chat(const std::string& extra) {
    return parse_chat_request(R"({"model": "m", "messages": [{"role": "user", "content": "hi"}])" +
                              extra + "}");
}

// A body whose messages are `messages`.
Parsed<ChatRequest> chat_messages(const std::string& messages) {
    return parse_chat_request(R"({"model": "m", "messages": )" + messages + "}");
}

TEST(ApiChatRequest, MinimalWithOpenAIDefaults) {
    auto p = chat("");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->model, "m");
    EXPECT_EQ(p->messages, parse(R"([{"role": "user", "content": "hi"}])"));
    EXPECT_TRUE(p->tools.is_null());
    EXPECT_EQ(p->tool_choice.mode, ToolChoice::Mode::kNone);
    EXPECT_EQ(p->sampling.temperature, 1.0f);
    EXPECT_EQ(p->sampling.top_p, 1.0f);
    EXPECT_EQ(p->sampling.top_k, 0);
    EXPECT_EQ(p->sampling.min_p, 0.0f);
    EXPECT_EQ(p->sampling.repetition_penalty, 1.0f);
    EXPECT_FALSE(p->sampling.seed.has_value());
    EXPECT_FALSE(p->sampling.logprobs);
    EXPECT_FALSE(p->max_tokens.has_value());
    EXPECT_TRUE(p->stop.empty());
    EXPECT_EQ(p->n, 1);
    EXPECT_FALSE(p->stream);
    EXPECT_FALSE(p->include_usage);
    EXPECT_EQ(p->response_format, ResponseFormat::kText);
    EXPECT_TRUE(p->template_kwargs.is_null());
}

TEST(ApiChatRequest, ParsedIsAVariant) {
    auto p = chat(R"(, "n": 0)");
    EXPECT_TRUE(std::holds_alternative<ApiError>(p));
    EXPECT_NE(std::get_if<ApiError>(&p), nullptr);
    EXPECT_FALSE(p);
    auto q = chat("");
    EXPECT_EQ(std::get<ChatRequest>(q).model, "m");
}

TEST(ApiChatRequest, BodyMustBeAJsonObject) {
    auto bad = parse_chat_request(R"({"model": "m",)");
    EXPECT_TRUE(failed_with(bad, "", "invalid JSON body"));
    EXPECT_NE(bad.error().message.find("line 1, column"), std::string::npos) << bad.error().message;
    EXPECT_TRUE(failed_with(parse_chat_request("[1, 2]"), "", "JSON object, got an array"));
    EXPECT_TRUE(failed_with(parse_chat_request(""), "", "invalid JSON body"));
    EXPECT_TRUE(failed_with(parse_chat_request("\"x\""), "", "got a string"));
}

TEST(ApiChatRequest, InvalidUtf8IsRefused) {
    const std::string body = "{\"model\": \"m\xff\", \"messages\": []}";
    EXPECT_TRUE(failed_with(parse_chat_request(body), "", "invalid JSON body"));
    const std::string lone_surrogate =
        R"({"model": "m", "messages": [{"role": "user", "content": "\udc00"}]})";
    EXPECT_FALSE(parse_chat_request(lone_surrogate).ok());
}

TEST(ApiChatRequest, DeepNestingIsRefusedNotRecursed) {
    std::string deep(100000, '[');
    auto p = chat(R"(, "chat_template_kwargs": )" + deep);
    EXPECT_TRUE(failed_with(p, "", "nested deeper"));
    std::string ok_depth = R"(, "chat_template_kwargs": {"a": [[[[1]]]]})";
    EXPECT_TRUE(chat(ok_depth).ok());
}

TEST(ApiChatRequest, Model) {
    EXPECT_TRUE(failed_with(parse_chat_request(R"({"messages": []})"), "model", "required"));
    EXPECT_TRUE(failed_with(parse_chat_request(R"({"model": 5, "messages": []})"), "model",
                            "expected a string, got an integer"));
}

TEST(ApiChatRequest, Messages) {
    EXPECT_TRUE(failed_with(parse_chat_request(R"({"model": "m"})"), "messages", "required"));
    EXPECT_TRUE(failed_with(chat_messages("[]"), "messages", "must not be empty"));
    EXPECT_TRUE(failed_with(chat_messages("{}"), "messages", "got an object"));
    EXPECT_TRUE(failed_with(chat_messages("[1]"), "messages[0]", "got an integer"));
    EXPECT_TRUE(failed_with(chat_messages(R"([{"content": "x"}])"), "messages[0].role"));
    EXPECT_TRUE(failed_with(chat_messages(R"([{"role": "robot", "content": "x"}])"),
                            "messages[0].role", "must be one of"));
    EXPECT_TRUE(
        failed_with(chat_messages(R"([{"role": "user"}])"), "messages[0].content", "required"));
    EXPECT_TRUE(failed_with(chat_messages(R"([{"role": "user", "content": 5}])"),
                            "messages[0].content", "got an integer"));
    EXPECT_TRUE(
        failed_with(chat_messages(R"([{"role": "user", "content": "a"}, {"role": "user", "name": 1,
                          "content": "b"}])"),
                    "messages[1].name", "expected a string"));
}

TEST(ApiChatRequest, DeveloperBecomesSystemAndPartsAreJoined) {
    auto p = chat_messages(R"([
        {"role": "developer", "content": "be brief"},
        {"role": "user", "name": "ann", "content": [{"type": "text", "text": "a"},
                                                     {"type": "text", "text": "b"}]},
        {"role": "user", "content": []}])");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->messages, parse(R"([{"role": "system", "content": "be brief"},
                                     {"role": "user", "content": "a\nb", "name": "ann"},
                                     {"role": "user", "content": ""}])"));
}

TEST(ApiChatRequest, MediaPartsAreRefused) {
    const auto p = chat_messages(R"([{"role": "system", "content": "s"},
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}])");
    ASSERT_TRUE(failed_with(p, "messages[1].content[0]"));
    EXPECT_EQ(p.error().message, "messages[1].content[0]: this model accepts text only");
    EXPECT_TRUE(
        failed_with(chat_messages(R"([{"role": "user", "content": [{"type": "input_audio"}]}])"),
                    "messages[0].content[0]", "text only"));
    EXPECT_TRUE(failed_with(
        chat_messages(R"([{"role": "user", "content": [{"type": "magic", "text": "x"}]}])"),
        "messages[0].content[0].type", "unsupported"));
    EXPECT_TRUE(failed_with(chat_messages(R"([{"role": "user", "content": [{"type": "text"}]}])"),
                            "messages[0].content[0].text", "required"));
    EXPECT_TRUE(failed_with(chat_messages(R"([{"role": "user", "content": ["x"]}])"),
                            "messages[0].content[0]", "got a string"));
}

TEST(ApiChatRequest, AssistantToolCallsAndToolResults) {
    auto p = chat_messages(R"([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get", "arguments": "{\"city\": \"Paris\", \"n\": 2}"}},
            {"id": "call_2", "type": "function", "function": {"name": "bad", "arguments": "{oops"}},
            {"id": "call_3", "type": "function", "function": {"name": "arr", "arguments": "[1]"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"}])");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->messages, parse(R"([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get", "arguments": {"city": "Paris", "n": 2}}},
            {"id": "call_2", "type": "function", "function": {"name": "bad", "arguments": "{oops"}},
            {"id": "call_3", "type": "function", "function": {"name": "arr", "arguments": "[1]"}}]},
        {"role": "tool", "content": "18C", "tool_call_id": "call_1"}])"));
}

TEST(ApiChatRequest, AssistantToolCallErrors) {
    const std::string user = R"({"role": "user", "content": "x"}, )";
    EXPECT_TRUE(
        failed_with(chat_messages("[" + user + R"({"role": "assistant", "tool_calls": 3}])"),
                    "messages[1].tool_calls", "expected an array"));
    EXPECT_TRUE(failed_with(
        chat_messages("[" + user + R"({"role": "assistant", "tool_calls": [{"id": "a"}]}])"),
        "messages[1].tool_calls[0].function", "required"));
    EXPECT_TRUE(failed_with(
        chat_messages(
            "[" + user +
            R"({"role": "assistant", "tool_calls": [{"function": {"arguments": "{}"}}]}])"),
        "messages[1].tool_calls[0].function.name", "required"));
    EXPECT_TRUE(
        failed_with(chat_messages("[" + user +
                                  R"({"role": "assistant", "tool_calls": [{"function": {"name": "f",
                          "arguments": 5}}]}])"),
                    "messages[1].tool_calls[0].function.arguments", "got an integer"));
    EXPECT_TRUE(failed_with(chat_messages("[" + user +
                                          R"({"role": "assistant", "tool_calls": [{"type": "code",
                          "function": {"name": "f"}}]}])"),
                            "messages[1].tool_calls[0].type", "\"function\""));
}

TEST(ApiChatRequest, LegacyFunctionCallMessages) {
    auto p = chat_messages(R"([{"role": "user", "content": "x"},
        {"role": "assistant", "function_call": {"name": "f", "arguments": "{\"a\": 1}"}},
        {"role": "function", "name": "f", "content": "done"}])");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->messages[1], parse(R"({"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]})"));
    EXPECT_EQ(p->messages[2], parse(R"({"role": "tool", "content": "done", "name": "f"})"));
}

TEST(ApiChatRequest, TemperatureTopPTopKMinP) {
    EXPECT_EQ(chat(R"(, "temperature": 0)")->sampling.temperature, 0.0f);
    EXPECT_EQ(chat(R"(, "temperature": 2)")->sampling.temperature, 2.0f);
    EXPECT_TRUE(failed_with(chat(R"(, "temperature": 2.5)"), "temperature", "[0, 2], got 2.5"));
    EXPECT_TRUE(failed_with(chat(R"(, "temperature": -0.1)"), "temperature"));
    EXPECT_TRUE(failed_with(chat(R"(, "temperature": "hot")"), "temperature",
                            "expected a number, got a string"));
    EXPECT_FALSE(chat(R"(, "temperature": 1e400)").ok());  // inf, or a parse error
    EXPECT_EQ(chat(R"(, "temperature": null)")->sampling.temperature, 1.0f);
    EXPECT_EQ(chat(R"(, "top_p": 1)")->sampling.top_p, 1.0f);
    EXPECT_TRUE(failed_with(chat(R"(, "top_p": 0)"), "top_p", "(0, 1]"));
    EXPECT_TRUE(failed_with(chat(R"(, "top_p": 1.01)"), "top_p"));
    EXPECT_EQ(chat(R"(, "top_k": -1)")->sampling.top_k, 0);
    EXPECT_EQ(chat(R"(, "top_k": 50)")->sampling.top_k, 50);
    EXPECT_TRUE(failed_with(chat(R"(, "top_k": -2)"), "top_k"));
    EXPECT_TRUE(failed_with(chat(R"(, "top_k": 1.5)"), "top_k", "expected an integer"));
    EXPECT_TRUE(failed_with(chat(R"(, "top_k": 1e12)"), "top_k"));
    EXPECT_EQ(chat(R"(, "min_p": 0.05)")->sampling.min_p, 0.05f);
    EXPECT_TRUE(failed_with(chat(R"(, "min_p": 1.5)"), "min_p"));
}

TEST(ApiChatRequest, Penalties) {
    auto p = chat(R"(, "presence_penalty": -2, "frequency_penalty": 2, "repetition_penalty": 10)");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->sampling.presence_penalty, -2.0f);
    EXPECT_EQ(p->sampling.frequency_penalty, 2.0f);
    EXPECT_EQ(p->sampling.repetition_penalty, 10.0f);
    EXPECT_TRUE(failed_with(chat(R"(, "presence_penalty": 2.1)"), "presence_penalty"));
    EXPECT_TRUE(failed_with(chat(R"(, "frequency_penalty": -3)"), "frequency_penalty"));
    EXPECT_TRUE(failed_with(chat(R"(, "repetition_penalty": 0)"), "repetition_penalty", "(0, 10]"));
    EXPECT_TRUE(failed_with(chat(R"(, "repetition_penalty": 10.5)"), "repetition_penalty"));
    EXPECT_TRUE(
        failed_with(chat(R"(, "frequency_penalty": true)"), "frequency_penalty", "got a boolean"));
}

TEST(ApiChatRequest, NAndMaxTokens) {
    EXPECT_EQ(chat(R"(, "n": 16)")->n, 16);
    EXPECT_TRUE(failed_with(chat(R"(, "n": 0)"), "n", "[1, 16]"));
    EXPECT_TRUE(failed_with(chat(R"(, "n": 17)"), "n"));
    EXPECT_EQ(chat(R"(, "max_tokens": 5)")->max_tokens, 5);
    EXPECT_EQ(chat(R"(, "max_tokens": 5.0)")->max_tokens, 5);
    EXPECT_EQ(chat(R"(, "max_tokens": 9223372036854775807)")->max_tokens,
              std::numeric_limits<int64_t>::max());
    EXPECT_EQ(chat(R"(, "max_tokens": 5, "max_completion_tokens": 7)")->max_tokens, 7);
    EXPECT_TRUE(failed_with(chat(R"(, "max_tokens": 0)"), "max_tokens", ">= 1"));
    EXPECT_TRUE(failed_with(chat(R"(, "max_tokens": -5)"), "max_tokens"));
    EXPECT_TRUE(failed_with(chat(R"(, "max_tokens": 5.5)"), "max_tokens", "expected an integer"));
    EXPECT_TRUE(failed_with(chat(R"(, "max_tokens": "5")"), "max_tokens", "got a string"));
    EXPECT_TRUE(failed_with(chat(R"(, "max_tokens": 1e300)"), "max_tokens"));
    EXPECT_TRUE(failed_with(chat(R"(, "max_tokens": 9223372036854775808)"), "max_tokens"));
    EXPECT_TRUE(failed_with(chat(R"(, "max_tokens": 99999999999999999999)"), "max_tokens"));
    EXPECT_TRUE(failed_with(chat(R"(, "max_tokens": -1e300)"), "max_tokens"));
    EXPECT_TRUE(failed_with(chat(R"(, "max_completion_tokens": 0)"), "max_completion_tokens"));
}

TEST(ApiChatRequest, Seed) {
    EXPECT_EQ(chat(R"(, "seed": 42)")->sampling.seed, 42u);
    EXPECT_EQ(chat(R"(, "seed": -1)")->sampling.seed, std::numeric_limits<uint64_t>::max());
    EXPECT_EQ(chat(R"(, "seed": 18446744073709551615)")->sampling.seed,
              std::numeric_limits<uint64_t>::max());
    EXPECT_TRUE(failed_with(chat(R"(, "seed": 1.5)"), "seed"));
    EXPECT_TRUE(failed_with(chat(R"(, "seed": 1e30)"), "seed"));
    EXPECT_TRUE(failed_with(chat(R"(, "seed": "7")"), "seed"));
}

TEST(ApiChatRequest, LogitBias) {
    auto p = chat(R"(, "logit_bias": {"5": 10, "0": -100, "2147483647": 100})");
    ASSERT_TRUE(p.ok()) << p.error().message;
    const std::vector<std::pair<int32_t, float>> want = {
        {5, 10.0f}, {0, -100.0f}, {2147483647, 100.0f}};
    EXPECT_EQ(p->sampling.logit_bias, want);
    for (const char* key : {"abc", "-1", "", "1.5", " 1", "2147483648", "99999999999"}) {
        EXPECT_TRUE(failed_with(chat(std::string(R"(, "logit_bias": {")") + key + R"(": 1})"),
                                "logit_bias", "token ids"))
            << key;
    }
    EXPECT_TRUE(failed_with(chat(R"(, "logit_bias": {"5": 101})"), "logit_bias.5", "[-100, 100]"));
    EXPECT_TRUE(failed_with(chat(R"(, "logit_bias": {"5": "x"})"), "logit_bias.5"));
    EXPECT_TRUE(failed_with(chat(R"(, "logit_bias": [1])"), "logit_bias", "expected an object"));
}

TEST(ApiChatRequest, Logprobs) {
    auto p = chat(R"(, "logprobs": true, "top_logprobs": 20)");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_TRUE(p->sampling.logprobs);
    EXPECT_EQ(p->sampling.top_logprobs, 20);
    EXPECT_TRUE(chat(R"(, "logprobs": true)").ok());
    EXPECT_TRUE(failed_with(chat(R"(, "top_logprobs": 2)"), "top_logprobs", "logprobs"));
    EXPECT_TRUE(failed_with(chat(R"(, "logprobs": false, "top_logprobs": 2)"), "top_logprobs"));
    EXPECT_TRUE(failed_with(chat(R"(, "logprobs": true, "top_logprobs": 21)"), "top_logprobs"));
    EXPECT_TRUE(failed_with(chat(R"(, "logprobs": 1)"), "logprobs", "expected a boolean"));
}

TEST(ApiChatRequest, Stop) {
    EXPECT_EQ(chat(R"(, "stop": "END")")->stop, std::vector<std::string>{"END"});
    EXPECT_EQ(chat(R"(, "stop": ["a", "b"])")->stop, (std::vector<std::string>{"a", "b"}));
    std::string sixteen = R"(, "stop": [)";
    for (int i = 0; i < 16; ++i) sixteen += (i ? ", \"s" : "\"s") + std::to_string(i) + "\"";
    EXPECT_EQ(chat(sixteen + "]")->stop.size(), 16u);
    EXPECT_TRUE(failed_with(chat(sixteen + R"(, "x"])"), "stop", "at most 16"));
    EXPECT_TRUE(failed_with(chat(R"(, "stop": ["a", ""])"), "stop[1]", "must not be empty"));
    EXPECT_TRUE(failed_with(chat(R"(, "stop": "")"), "stop", "must not be empty"));
    EXPECT_TRUE(failed_with(chat(R"(, "stop": ["a", 1])"), "stop[1]", "expected a string"));
    EXPECT_TRUE(failed_with(chat(R"(, "stop": 1)"), "stop"));
}

TEST(ApiChatRequest, StreamAndStreamOptions) {
    auto p = chat(R"(, "stream": true, "stream_options": {"include_usage": true})");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_TRUE(p->stream);
    EXPECT_TRUE(p->include_usage);
    EXPECT_FALSE(chat(R"(, "stream": true)")->include_usage);
    EXPECT_TRUE(failed_with(chat(R"(, "stream_options": {"include_usage": true})"),
                            "stream_options", "only allowed when stream is true"));
    EXPECT_TRUE(chat(R"(, "stream": false, "stream_options": null)").ok());
    EXPECT_TRUE(failed_with(chat(R"(, "stream": true, "stream_options": {"include_usage": 1})"),
                            "stream_options.include_usage"));
    EXPECT_TRUE(failed_with(chat(R"(, "stream": true, "stream_options": true)"), "stream_options"));
    EXPECT_TRUE(failed_with(chat(R"(, "stream": "yes")"), "stream", "expected a boolean"));
}

TEST(ApiChatRequest, ResponseFormat) {
    EXPECT_EQ(chat(R"(, "response_format": {"type": "json_object"})")->response_format,
              ResponseFormat::kJsonObject);
    EXPECT_EQ(chat(R"(, "response_format": {"type": "text"})")->response_format,
              ResponseFormat::kText);
    auto schema = chat(R"(, "response_format": {"type": "json_schema", "json_schema": {}})");
    ASSERT_TRUE(failed_with(schema, "response_format"));
    EXPECT_EQ(schema.error().message,
              "response_format json_schema is not supported; use json_object");
    EXPECT_TRUE(
        failed_with(chat(R"(, "response_format": {"type": "yaml"})"), "response_format.type"));
    EXPECT_TRUE(
        failed_with(chat(R"(, "response_format": {})"), "response_format.type", "required"));
    EXPECT_TRUE(failed_with(chat(R"(, "response_format": "json")"), "response_format"));
}

constexpr const char* kTools = R"(, "tools": [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
     "extra": 1}},
    {"type": "function", "function": {"name": "noop"}}])";

TEST(ApiChatRequest, Tools) {
    auto p = chat(kTools);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->tools, parse(R"([
        {"type": "function", "function": {"name": "get_weather", "description": "Weather",
         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
        {"type": "function", "function": {"name": "noop"}}])"));
    EXPECT_EQ(p->tool_choice.mode, ToolChoice::Mode::kAuto);
    EXPECT_TRUE(chat(R"(, "tools": [])")->tools.is_null());
    EXPECT_TRUE(failed_with(chat(R"(, "tools": {})"), "tools", "expected an array"));
    EXPECT_TRUE(
        failed_with(chat(R"(, "tools": [{"type": "function"}])"), "tools[0].function", "required"));
    EXPECT_TRUE(failed_with(
        chat(R"(, "tools": [{"type": "retrieval", "function": {"name": "a"}}])"), "tools[0].type"));
    EXPECT_TRUE(failed_with(chat(R"(, "tools": [{"function": {"name": "has space"}}])"),
                            "tools[0].function.name", "a-z"));
    EXPECT_TRUE(
        failed_with(chat(R"(, "tools": [{"function": {"name": ""}}])"), "tools[0].function.name"));
    EXPECT_TRUE(failed_with(
        chat(R"(, "tools": [{"function": {"name": ")" + std::string(65, 'a') + R"("}}])"),
        "tools[0].function.name"));
    EXPECT_TRUE(failed_with(chat(R"(, "tools": [{"function": {"name": "f", "parameters": []}}])"),
                            "tools[0].function.parameters", "an object"));
    EXPECT_TRUE(failed_with(chat(R"(, "tools": [{"function": {"name": "f", "description": 1}}])"),
                            "tools[0].function.description"));
}

TEST(ApiChatRequest, ToolChoice) {
    using Mode = ToolChoice::Mode;
    const std::string tools = kTools;
    EXPECT_EQ(chat(tools + R"(, "tool_choice": "none")")->tool_choice.mode, Mode::kNone);
    EXPECT_EQ(chat(tools + R"(, "tool_choice": "auto")")->tool_choice.mode, Mode::kAuto);
    EXPECT_EQ(chat(tools + R"(, "tool_choice": "required")")->tool_choice.mode, Mode::kRequired);
    auto named =
        chat(tools + R"(, "tool_choice": {"type": "function", "function": {"name": "noop"}})");
    ASSERT_TRUE(named.ok()) << named.error().message;
    EXPECT_EQ(named->tool_choice.mode, Mode::kFunction);
    EXPECT_EQ(named->tool_choice.function, "noop");
    EXPECT_TRUE(failed_with(
        chat(tools + R"(, "tool_choice": {"type": "function", "function": {"name": "other"}})"),
        "tool_choice.function.name", "no function"));
    EXPECT_TRUE(failed_with(chat(tools + R"(, "tool_choice": "always")"), "tool_choice"));
    EXPECT_TRUE(failed_with(chat(tools + R"(, "tool_choice": 1)"), "tool_choice"));
    EXPECT_TRUE(
        failed_with(chat(R"(, "tool_choice": "required")"), "tool_choice", "requires tools"));
    EXPECT_TRUE(
        failed_with(chat(R"(, "tool_choice": {"type": "function", "function": {"name": "f"}})"),
                    "tool_choice", "requires tools"));
    EXPECT_EQ(chat(R"(, "tool_choice": "none")")->tool_choice.mode, Mode::kNone);
    EXPECT_TRUE(chat(R"(, "tool_choice": "auto")").ok());
}

TEST(ApiChatRequest, LegacyFunctionsBecomeTools) {
    auto p = chat(R"(, "functions": [{"name": "f", "parameters": {"type": "object"}}],
                      "function_call": {"name": "f"})");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->tools, parse(R"([{"type": "function",
                                   "function": {"name": "f", "parameters": {"type": "object"}}}])"));
    EXPECT_EQ(p->tool_choice.mode, ToolChoice::Mode::kFunction);
    EXPECT_EQ(p->tool_choice.function, "f");
    auto none = chat(R"(, "functions": [{"name": "f"}], "function_call": "none")");
    EXPECT_EQ(none->tool_choice.mode, ToolChoice::Mode::kNone);
    EXPECT_TRUE(
        failed_with(chat(R"(, "functions": [{"name": "f"}], "function_call": {"name": "g"})"),
                    "function_call.name"));
    EXPECT_TRUE(failed_with(chat(R"(, "functions": [{"description": "x"}])"), "functions[0].name"));
}

TEST(ApiChatRequest, Extensions) {
    auto p = chat(R"(, "ignore_eos": true, "user": "u1", "stop_token_ids": [7, 8],
                      "chat_template_kwargs": {"enable_thinking": false})");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_TRUE(p->ignore_eos);
    EXPECT_EQ(p->user, "u1");
    EXPECT_EQ(p->stop_token_ids, (std::vector<int32_t>{7, 8}));
    EXPECT_EQ(p->template_kwargs, parse(R"({"enable_thinking": false})"));
    EXPECT_TRUE(failed_with(chat(R"(, "chat_template_kwargs": [1])"), "chat_template_kwargs"));
    EXPECT_TRUE(failed_with(chat(R"(, "ignore_eos": 1)"), "ignore_eos"));
    EXPECT_TRUE(failed_with(chat(R"(, "stop_token_ids": [-1])"), "stop_token_ids[0]"));
}

TEST(ApiChatRequest, UnknownFieldsAreIgnored) {
    auto p = chat(R"(, "frobnicate": {"x": [1, 2]}, "parallel_tool_calls": true,
                      "metadata": null, "store": false, "service_tier": "auto")");
    EXPECT_TRUE(p.ok()) << p.error().message;
}

}  // namespace
}  // namespace citadel::api
