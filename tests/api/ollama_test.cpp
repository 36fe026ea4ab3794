// Ollama's /api/chat, /api/generate, /api/tags, /api/show and /api/version.
#include <gtest/gtest.h>

#include <cctype>

#include "api/ollama.h"
#include "api_test_util.h"

namespace citadel::api {
namespace {

using test::failed_with;
using test::parse;

Parsed<OllamaChatRequest> ollama_chat(const std::string& extra) {
    return parse_ollama_chat(
        R"({"model": "qwen3", "messages": [{"role": "user", "content": "hi"}])" + extra + "}");
}

TEST(ApiOllama, ChatDefaults) {
    auto p = ollama_chat("");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_TRUE(p->stream);
    EXPECT_TRUE(p->chat.stream);
    EXPECT_EQ(p->chat.model, "qwen3");
    EXPECT_EQ(p->chat.messages, parse(R"([{"role": "user", "content": "hi"}])"));
    EXPECT_EQ(p->chat.sampling.temperature, 0.8f);
    EXPECT_EQ(p->chat.sampling.top_k, 40);
    EXPECT_EQ(p->chat.sampling.top_p, 0.9f);
    EXPECT_EQ(p->chat.sampling.repetition_penalty, 1.0f);
    EXPECT_FALSE(p->chat.max_tokens.has_value());
    EXPECT_EQ(p->chat.tool_choice.mode, ToolChoice::Mode::kNone);
    EXPECT_EQ(p->chat.response_format, ResponseFormat::kText);
}

TEST(ApiOllama, ChatOptions) {
    auto p = ollama_chat(R"(, "stream": false, "format": "json", "keep_alive": "5m", "think": true,
        "options": {"temperature": 0, "top_p": 0.5, "top_k": 10, "min_p": 0.1, "num_predict": 64,
                    "stop": ["\n\n"], "seed": 7, "repeat_penalty": 1.2, "presence_penalty": 0.5,
                    "frequency_penalty": 0.25, "num_ctx": 8192, "mirostat": 0})");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_FALSE(p->stream);
    EXPECT_FALSE(p->chat.stream);
    EXPECT_EQ(p->chat.response_format, ResponseFormat::kJsonObject);
    const SamplingParams& s = p->chat.sampling;
    EXPECT_EQ(s.temperature, 0.0f);
    EXPECT_EQ(s.top_p, 0.5f);
    EXPECT_EQ(s.top_k, 10);
    EXPECT_EQ(s.min_p, 0.1f);
    EXPECT_EQ(s.seed, 7u);
    EXPECT_EQ(s.repetition_penalty, 1.2f);
    EXPECT_EQ(s.presence_penalty, 0.5f);
    EXPECT_EQ(s.frequency_penalty, 0.25f);
    EXPECT_EQ(p->chat.max_tokens, 64);
    EXPECT_EQ(p->chat.stop, std::vector<std::string>{"\n\n"});
    EXPECT_FALSE(ollama_chat(R"(, "options": {"num_predict": -1})")->chat.max_tokens.has_value());
    EXPECT_FALSE(ollama_chat(R"(, "options": {"num_predict": -2})")->chat.max_tokens.has_value());
    EXPECT_FALSE(ollama_chat(R"(, "options": {"seed": -1})")->chat.sampling.seed.has_value());
}

TEST(ApiOllama, ChatErrors) {
    EXPECT_TRUE(
        failed_with(ollama_chat(R"(, "options": {"num_predict": 0})"), "options.num_predict"));
    EXPECT_TRUE(
        failed_with(ollama_chat(R"(, "options": {"temperature": "hot"})"), "options.temperature"));
    EXPECT_TRUE(failed_with(ollama_chat(R"(, "options": {"top_p": 2})"), "options.top_p"));
    EXPECT_TRUE(failed_with(ollama_chat(R"(, "options": {"stop": [1]})"), "options.stop[0]"));
    EXPECT_TRUE(failed_with(ollama_chat(R"(, "options": [])"), "options"));
    EXPECT_TRUE(
        failed_with(ollama_chat(R"(, "format": {"type": "object"})"), "format", "not supported"));
    EXPECT_TRUE(failed_with(ollama_chat(R"(, "format": "xml")"), "format"));
    EXPECT_TRUE(failed_with(ollama_chat(R"(, "stream": "no")"), "stream"));
    EXPECT_TRUE(failed_with(parse_ollama_chat(R"({"messages": []})"), "model"));
    EXPECT_TRUE(failed_with(
        parse_ollama_chat(
            R"({"model": "m", "messages": [{"role": "user", "content": "x", "images": ["AAAA"]}]})"),
        "messages[0].images", "text only"));
    EXPECT_TRUE(
        parse_ollama_chat(
            R"({"model": "m", "messages": [{"role": "user", "content": "x", "images": []}]})")
            .ok());
}

TEST(ApiOllama, ChatToolsAndToolMessages) {
    auto p = parse_ollama_chat(R"({"model": "m", "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "tool_name": "get_weather", "content": "18C"}],
        "tools": [{"type": "function", "function": {"name": "get_weather",
                   "parameters": {"type": "object"}}}]})");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->chat.messages, parse(R"([
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        {"role": "tool", "content": "18C", "name": "get_weather"}])"));
    EXPECT_EQ(p->chat.tool_choice.mode, ToolChoice::Mode::kAuto);
    EXPECT_EQ(p->chat.tools[0]["function"]["name"], "get_weather");
}

TEST(ApiOllama, Generate) {
    auto p = parse_ollama_generate(R"({"model": "m", "prompt": "Why?", "system": "Be brief.",
        "raw": true, "stream": false, "options": {"num_predict": 8, "temperature": 0.1}})");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->model, "m");
    EXPECT_EQ(p->prompt, "Why?");
    EXPECT_EQ(p->system, "Be brief.");
    EXPECT_TRUE(p->raw);
    EXPECT_FALSE(p->stream);
    EXPECT_EQ(p->completion.model, "m");
    ASSERT_EQ(p->completion.prompts.size(), 1u);
    EXPECT_EQ(p->completion.prompts[0].text, "Why?");
    EXPECT_EQ(p->completion.max_tokens, 8);
    EXPECT_EQ(p->completion.sampling.temperature, 0.1f);
    EXPECT_EQ(p->completion.sampling.top_k, 40);

    auto d = parse_ollama_generate(R"({"model": "m"})");
    ASSERT_TRUE(d.ok());
    EXPECT_TRUE(d->stream);
    EXPECT_EQ(d->prompt, "");
    EXPECT_EQ(d->completion.max_tokens, kUpToContext);
    EXPECT_EQ(d->format, ResponseFormat::kText);
    EXPECT_EQ(parse_ollama_generate(R"({"model": "m", "format": "json"})")->format,
              ResponseFormat::kJsonObject);

    EXPECT_TRUE(failed_with(parse_ollama_generate(R"({"model": "m", "images": ["x"]})"), "images"));
    EXPECT_TRUE(failed_with(parse_ollama_generate(R"({"model": "m", "suffix": "x"})"), "suffix"));
    EXPECT_TRUE(failed_with(parse_ollama_generate(R"({"model": "m", "prompt": 1})"), "prompt"));
    EXPECT_TRUE(failed_with(parse_ollama_generate(R"({"model": "m", "raw": "yes"})"), "raw"));
}

// "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ" (std::regex trips a GCC 12 warning under the sanitizers).
bool is_rfc3339_nanos(const std::string& s) {
    const std::string shape = "dddd-dd-ddTdd:dd:dd.dddddddddZ";
    if (s.size() != shape.size()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        if (shape[i] == 'd' ? !std::isdigit(static_cast<unsigned char>(s[i])) : s[i] != shape[i]) {
            return false;
        }
    }
    return true;
}

TEST(ApiOllama, ChatLines) {
    const std::string line = ollama_chat_line("qwen3", "Hel", {}, false, "", nullptr);
    ASSERT_EQ(line.back(), '\n');
    ASSERT_EQ(line.find('\n'), line.size() - 1);
    Json j = parse(line);
    ASSERT_TRUE(is_rfc3339_nanos(j["created_at"].get<std::string>())) << line;
    j.erase("created_at");
    EXPECT_EQ(j, parse(R"({"model": "qwen3", "message": {"role": "assistant", "content": "Hel"},
                           "done": false})"));

    const OllamaTimings t{.total_ns = 100,
                          .load_ns = 1,
                          .prompt_eval_ns = 20,
                          .eval_ns = 70,
                          .prompt_eval_count = 5,
                          .eval_count = 7};
    const std::vector<ToolCall> calls = {{"call_1", "get_weather", R"({"city":"Paris"})"}};
    Json done = parse(ollama_chat_line("qwen3", "", calls, true, "stop", &t));
    done.erase("created_at");
    EXPECT_EQ(done, parse(R"({"model": "qwen3",
        "message": {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
        "done": true, "done_reason": "stop", "total_duration": 100, "load_duration": 1,
        "prompt_eval_count": 5, "prompt_eval_duration": 20, "eval_count": 7,
        "eval_duration": 70})"));
}

TEST(ApiOllama, GenerateLines) {
    Json j = parse(ollama_generate_line("m", "The", false, "", nullptr));
    j.erase("created_at");
    EXPECT_EQ(j, parse(R"({"model": "m", "response": "The", "done": false})"));
    Json done = parse(ollama_generate_line("m", "", true, "length", nullptr));
    done.erase("created_at");
    EXPECT_EQ(done,
              parse(R"({"model": "m", "response": "", "done": true, "done_reason": "length"})"));
}

TEST(ApiOllama, Rfc3339) {
    EXPECT_EQ(rfc3339_nanos(0), "1970-01-01T00:00:00.000000000Z");
    EXPECT_EQ(rfc3339_nanos(1714566896123456789), "2024-05-01T12:34:56.123456789Z");
    EXPECT_EQ(rfc3339_nanos(-1), "1969-12-31T23:59:59.999999999Z");
}

TEST(ApiOllama, TagsShowVersion) {
    const OllamaModel m{.name = "qwen3:0.6b",
                        .size_bytes = 1000,
                        .digest = "abc",
                        .family = "qwen3",
                        .parameter_size = "596M",
                        .quantization = "Q8_0",
                        .modified_unix = 1714566896};
    EXPECT_EQ(parse(ollama_tags({m})), parse(R"({"models": [{
        "name": "qwen3:0.6b", "model": "qwen3:0.6b", "modified_at": "2024-05-01T12:34:56.000000000Z",
        "size": 1000, "digest": "abc", "details": {"parent_model": "", "format": "gguf",
        "family": "qwen3", "families": ["qwen3"], "parameter_size": "596M",
        "quantization_level": "Q8_0"}}]})"));
    EXPECT_EQ(parse(ollama_tags({})), parse(R"({"models": []})"));

    const Json show = parse(ollama_show(m, "{{ x }}<tool_call>", 40960, "qwen3"));
    EXPECT_EQ(show["template"], "{{ x }}<tool_call>");
    EXPECT_EQ(show["model_info"], parse(R"({"general.architecture": "qwen3",
                                            "qwen3.context_length": 40960})"));
    EXPECT_EQ(show["capabilities"], parse(R"(["completion", "tools"])"));
    EXPECT_EQ(show["details"]["quantization_level"], "Q8_0");
    EXPECT_EQ(parse(ollama_show(m, "plain", 1, "llama"))["capabilities"],
              parse(R"(["completion"])"));

    EXPECT_EQ(*parse_ollama_show(R"({"model": "a"})"), "a");
    EXPECT_EQ(*parse_ollama_show(R"({"name": "b"})"), "b");
    EXPECT_TRUE(failed_with(parse_ollama_show("{}"), "model", "required"));
    EXPECT_TRUE(failed_with(parse_ollama_show(R"({"model": 1})"), "model"));
    EXPECT_EQ(parse(ollama_version("0.1.0")), parse(R"({"version": "0.1.0"})"));
}

}  // namespace
}  // namespace citadel::api
