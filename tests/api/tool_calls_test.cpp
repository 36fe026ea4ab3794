// Tool calls in model output: detection from real chat templates, parsing each format
// (several calls, malformed calls staying content), and streaming with every split.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>

#include "api/tool_calls.h"
#include "test_paths.h"

namespace citadel::api {
namespace {

// Deterministic ids: "id0", "id1", …
ToolCallIdGenerator counter() {
    return [n = 0]() mutable { return "id" + std::to_string(n++); };
}

struct Call {
    std::string id, name, arguments;
    bool operator==(const Call&) const = default;
};
std::vector<Call> calls_of(const std::vector<ToolCall>& calls) {
    std::vector<Call> out;
    for (const auto& c : calls) out.push_back({c.id, c.name, c.arguments});
    return out;
}
void PrintTo(const Call& c, std::ostream* os) {
    *os << "{" << c.id << ", " << c.name << ", " << c.arguments << "}";
}

ParsedReply parse(ToolFormat f, std::string_view text) {
    return parse_tool_calls(f, text, counter());
}

// The reply streamed in pieces cut at `cuts`, gathered as parse_tool_calls gathers it.
ParsedReply stream_in_pieces(ToolFormat f, std::string_view text, const std::vector<size_t>& cuts) {
    ToolCallStream stream(f, counter());
    ParsedReply r;
    size_t from = 0;
    auto take = [&](ToolCallStream::Out out) {
        r.content += out.content;
        for (auto& c : out.calls) r.calls.push_back(std::move(c));
    };
    for (const size_t cut : cuts) {
        take(stream.push(text.substr(from, cut - from)));
        from = cut;
    }
    take(stream.push(text.substr(from)));
    take(stream.finish());
    if (!r.calls.empty()) {
        const size_t b = r.content.find_first_not_of(" \t\r\n");
        const size_t e = r.content.find_last_not_of(" \t\r\n");
        r.content = b == std::string::npos ? "" : r.content.substr(b, e - b + 1);
    }
    return r;
}

// Streaming gives what parsing the whole reply gives, split at every position and byte by byte.
void expect_stream_matches(ToolFormat f, std::string_view text) {
    const ParsedReply whole = parse(f, text);
    for (size_t i = 0; i <= text.size(); ++i) {
        const ParsedReply s = stream_in_pieces(f, text, {i});
        EXPECT_EQ(s.content, whole.content) << "split at " << i << " of: " << text;
        EXPECT_EQ(calls_of(s.calls), calls_of(whole.calls)) << "split at " << i << " of: " << text;
    }
    std::vector<size_t> every;
    for (size_t i = 1; i < text.size(); ++i) every.push_back(i);
    const ParsedReply bytes = stream_in_pieces(f, text, every);
    EXPECT_EQ(bytes.content, whole.content) << "byte by byte: " << text;
    EXPECT_EQ(calls_of(bytes.calls), calls_of(whole.calls)) << "byte by byte: " << text;
}

const char* kWeather = R"({"name": "get_weather", "arguments": {"city": "Paris", "days": 2}})";
const char* kWeatherArgs = R"({"city":"Paris","days":2})";

TEST(ToolCallParse, HermesOneCall) {
    const auto r =
        parse(ToolFormat::kHermes, std::string("<tool_call>\n") + kWeather + "\n</tool_call>");
    EXPECT_EQ(r.content, "");
    EXPECT_EQ(calls_of(r.calls), (std::vector<Call>{{"id0", "get_weather", kWeatherArgs}}));
}

TEST(ToolCallParse, HermesContentAndSeveralCalls) {
    const std::string text = std::string("Let me check.\n<tool_call>\n") + kWeather +
                             "\n</tool_call>\n<tool_call>\n{\"name\": \"noop\", \"parameters\": "
                             "{}}\n</tool_call>\n<tool_call>{\"name\": \"s\", \"arguments\": "
                             "\"{\\\"q\\\": 1}\"}</tool_call>";
    const auto r = parse(ToolFormat::kHermes, text);
    EXPECT_EQ(r.content, "Let me check.");
    EXPECT_EQ(calls_of(r.calls), (std::vector<Call>{{"id0", "get_weather", kWeatherArgs},
                                                    {"id1", "noop", "{}"},
                                                    {"id2", "s", R"({"q":1})"}}));
}

TEST(ToolCallParse, HermesMalformedStaysContent) {
    const std::string bad = "<tool_call>\n{\"name\": \"f\", \"arguments\": {oops}\n</tool_call>";
    EXPECT_EQ(parse(ToolFormat::kHermes, bad).content, bad);
    EXPECT_TRUE(parse(ToolFormat::kHermes, bad).calls.empty());
    const std::string no_name = "<tool_call>{\"arguments\": {}}</tool_call>";
    EXPECT_EQ(parse(ToolFormat::kHermes, no_name).content, no_name);
    const std::string bad_args = "<tool_call>{\"name\": \"f\", \"arguments\": 5}</tool_call>";
    EXPECT_EQ(parse(ToolFormat::kHermes, bad_args).content, bad_args);
    // A good call next to a bad one: the good one is a call, the bad one content.
    const auto mixed =
        parse(ToolFormat::kHermes, bad + "\n<tool_call>{\"name\": \"g\"}</tool_call>");
    EXPECT_EQ(mixed.content, bad);
    EXPECT_EQ(calls_of(mixed.calls), (std::vector<Call>{{"id0", "g", "{}"}}));
}

TEST(ToolCallParse, HermesUnterminated) {
    const auto r =
        parse(ToolFormat::kHermes, "ok <tool_call>\n{\"name\": \"f\", \"arguments\": {}}");
    EXPECT_EQ(r.content, "ok");
    EXPECT_EQ(calls_of(r.calls), (std::vector<Call>{{"id0", "f", "{}"}}));
    const std::string cut = "ok <tool_call>\n{\"name\": \"f\", \"argu";
    EXPECT_EQ(parse(ToolFormat::kHermes, cut).content, cut);
    EXPECT_EQ(parse(ToolFormat::kHermes, "a <tool").content, "a <tool");
    EXPECT_EQ(parse(ToolFormat::kHermes, "no calls here\n").content, "no calls here\n");
}

TEST(ToolCallParse, Llama3) {
    const auto one =
        parse(ToolFormat::kLlama3,
              R"({"name": "get_weather", "parameters": {"city": "Paris", "days": 2}})");
    EXPECT_EQ(one.content, "");
    EXPECT_EQ(calls_of(one.calls), (std::vector<Call>{{"id0", "get_weather", kWeatherArgs}}));
    const auto tagged =
        parse(ToolFormat::kLlama3, "<|python_tag|>{\"name\": \"f\", \"parameters\": {\"a\": 1}}");
    EXPECT_EQ(calls_of(tagged.calls), (std::vector<Call>{{"id0", "f", R"({"a":1})"}}));
    const auto several = parse(ToolFormat::kLlama3,
                               " {\"name\": \"f\", \"parameters\": {}}; {\"name\": \"g\", "
                               "\"arguments\": {\"b\": [1]}};");
    EXPECT_EQ(calls_of(several.calls),
              (std::vector<Call>{{"id0", "f", "{}"}, {"id1", "g", R"({"b":[1]})"}}));
    for (const char* content :
         {"Hello {\"name\": \"f\", \"parameters\": {}}", "{\"name\": \"f\", \"parameters\": {}} ok",
          "{\"foo\": 1}", "{ bad", "{\"name\": \"f\"}; nope", "<|python_tag|>f.call(q=\"x\")",
          "plain text", ""}) {
        const auto r = parse(ToolFormat::kLlama3, content);
        EXPECT_EQ(r.content, content);
        EXPECT_TRUE(r.calls.empty()) << content;
    }
}

TEST(ToolCallParse, Mistral) {
    const auto array = parse(ToolFormat::kMistral,
                             "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                             "\"Paris\", \"days\": 2}}, {\"name\": \"g\", \"arguments\": {}}]");
    EXPECT_EQ(array.content, "");
    EXPECT_EQ(calls_of(array.calls),
              (std::vector<Call>{{"id0", "get_weather", kWeatherArgs}, {"id1", "g", "{}"}}));
    const auto named = parse(ToolFormat::kMistral,
                             "Sure. [TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\", \"days\": "
                             "2}[TOOL_CALLS]g[CALL_ID]a1b2c3d4e[ARGS]{}");
    EXPECT_EQ(named.content, "Sure.");
    EXPECT_EQ(calls_of(named.calls),
              (std::vector<Call>{{"id0", "get_weather", kWeatherArgs}, {"id1", "g", "{}"}}));
    for (const char* content :
         {"[TOOL_CALLS][{\"name\": \"f\", \"arguments\": ", "[TOOL_CALLS]f[ARGS]not json",
          "[TOOL_CALLS][{\"arguments\": {}}]", "[TOOL_CALLS]", "[TOOL_CALLS]f g[ARGS]{}",
          "[TOOL_CALLS]f[ARGS][1]", "[TOOL_CALLS][]", "[TOOL_CALLS]f[ARG"}) {
        const auto r = parse(ToolFormat::kMistral, content);
        EXPECT_EQ(r.content, content);
        EXPECT_TRUE(r.calls.empty()) << content;
    }
}

TEST(ToolCallParse, NoneKeepsEverything) {
    const std::string text = std::string("<tool_call>") + kWeather + "</tool_call>";
    EXPECT_EQ(parse(ToolFormat::kNone, text).content, text);
}

TEST(ToolCallParse, RandomIds) {
    // "call_" + 24 alphanumerics; Mistral: 9 alphanumerics.
    auto alnum = [](std::string_view s) {
        return std::all_of(s.begin(), s.end(),
                           [](char c) { return std::isalnum((unsigned char)c); });
    };
    auto openai = [&](const std::string& id) {
        return id.size() == 29 && id.starts_with("call_") && alnum(id.substr(5));
    };
    EXPECT_TRUE(openai(random_tool_call_id(ToolFormat::kHermes)));
    const std::string m = random_tool_call_id(ToolFormat::kMistral);
    EXPECT_TRUE(m.size() == 9 && alnum(m)) << m;
    EXPECT_NE(random_tool_call_id(ToolFormat::kHermes), random_tool_call_id(ToolFormat::kHermes));
    const auto r =
        parse_tool_calls(ToolFormat::kHermes, "<tool_call>{\"name\": \"f\"}</tool_call>");
    ASSERT_EQ(r.calls.size(), 1u);
    EXPECT_TRUE(openai(r.calls[0].id)) << r.calls[0].id;
}

TEST(ToolCallStream, EverySplitMatchesTheWholeParse) {
    const std::string hermes = std::string("Let me check.\n<tool_call>\n") + kWeather +
                               "\n</tool_call>\n<tool_call>\n{\"name\": \"b\"}\n</tool_call> end";
    expect_stream_matches(ToolFormat::kHermes, hermes);
    expect_stream_matches(ToolFormat::kHermes, "a <tool_call>{oops}</tool_call> <tool_c b");
    expect_stream_matches(ToolFormat::kHermes, "x <tool_call>{\"name\": \"f\"}");
    expect_stream_matches(ToolFormat::kHermes, "<<tool_call>{\"name\": \"f\"}</tool_call><");
    expect_stream_matches(ToolFormat::kLlama3,
                          "<|python_tag|>{\"name\": \"f\", \"parameters\": {}}; {\"name\": \"g\"}");
    expect_stream_matches(ToolFormat::kLlama3, "<|python nope");
    expect_stream_matches(ToolFormat::kLlama3, "Hello there");
    expect_stream_matches(ToolFormat::kMistral,
                          "Hi [TOOL_CALLS][{\"name\": \"f\", \"arguments\": {\"x\": \"]\"}}] and "
                          "[TOOL_CALLS]g[CALL_ID]abc[ARGS]{\"y\": \"}\"}[TOOL_CALLS]h[ARGS]{bad}");
    expect_stream_matches(ToolFormat::kMistral, "[TOOL_CALLS]f[ARGS]{\"a\": 1");
}

TEST(ToolCallStream, HoldsBackOnlyAPossibleMarker) {
    ToolCallStream s(ToolFormat::kHermes, counter());
    EXPECT_EQ(s.push("Hello <tool").content, "Hello ");
    EXPECT_EQ(s.push("ing").content, "<tooling");
    EXPECT_EQ(s.push(" <").content, " ");
    auto out = s.push("tool_call>\n{\"name\": \"f\", ");
    EXPECT_EQ(out.content, "");
    EXPECT_TRUE(out.calls.empty());
    out = s.push("\"arguments\": {\"x\": 1}}\n</tool_call>\n\nDone");
    EXPECT_EQ(out.content, "Done");  // whitespace after a call is dropped
    EXPECT_EQ(calls_of(out.calls), (std::vector<Call>{{"id0", "f", R"({"x":1})"}}));
    EXPECT_EQ(s.finish().content, "");
    EXPECT_EQ(s.push("late").content, "");
}

TEST(ToolCallStream, NeverHoldsMoreThanTheMarkerOutsideCalls) {
    const std::string text = "The <tool> tag and <tool_ and <tool_cal are not markers <t";
    for (const ToolFormat f : {ToolFormat::kHermes, ToolFormat::kMistral}) {
        ToolCallStream s(f);
        size_t pushed = 0, emitted = 0;
        for (const char c : text) {
            emitted += s.push(std::string_view(&c, 1)).content.size();
            ++pushed;
            EXPECT_LT(pushed - emitted, std::string_view("[TOOL_CALLS]").size());
        }
        emitted += s.finish().content.size();
        EXPECT_EQ(emitted, text.size());
    }
}

TEST(ToolCallStream, Llama3DecidesAtTheStart) {
    ToolCallStream content(ToolFormat::kLlama3, counter());
    EXPECT_EQ(content.push("Sure").content, "Sure");
    EXPECT_EQ(content.push(" {\"name\"").content, " {\"name\"");
    ToolCallStream call(ToolFormat::kLlama3, counter());
    EXPECT_EQ(call.push("<|python").content, "");
    EXPECT_EQ(call.push("_tag|>{\"name\": \"f\", \"parameters\": {}}").content, "");
    auto out = call.finish();
    EXPECT_EQ(out.content, "");
    EXPECT_EQ(calls_of(out.calls), (std::vector<Call>{{"id0", "f", "{}"}}));
}

std::string template_source(const std::string& name) {
    std::ifstream in(test::shared_dir() + "/reference/templates/" + name + ".json");
    if (!in) return "";
    std::stringstream ss;
    ss << in.rdbuf();
    return Json::parse(ss.str()).value("source", "");
}

TEST(ToolCallDetect, RealTemplates) {
    const std::vector<std::pair<const char*, ToolFormat>> cases = {
        {"Qwen-Qwen3-0.6B", ToolFormat::kHermes},
        {"Qwen-Qwen2.5-7B-Instruct", ToolFormat::kHermes},
        {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use", ToolFormat::kHermes},
        {"meta-llama-Llama-3.1-8B-Instruct", ToolFormat::kLlama3},
        {"meta-llama-Llama-3.2-3B-Instruct", ToolFormat::kLlama3},
        {"mistralai-Mistral-Nemo-Instruct-2407", ToolFormat::kMistral},
        {"unsloth-mistral-Devstral-Small-2507", ToolFormat::kMistral},
        {"Mistral-Small-3.2-24B-Instruct-2506", ToolFormat::kMistral},
        {"Qwen3-Coder", ToolFormat::kNone},
        {"google-gemma-2-2b-it", ToolFormat::kNone},
        {"microsoft-Phi-3.5-mini-instruct", ToolFormat::kNone},
        {"deepseek-ai-DeepSeek-R1-Distill-Llama-8B", ToolFormat::kNone},
    };
    for (const auto& [name, format] : cases) {
        const std::string src = template_source(name);
        if (src.empty()) GTEST_SKIP() << "no reference template " << name;
        EXPECT_EQ(detect_tool_format(src), format) << name;
    }
    EXPECT_EQ(detect_tool_format(""), ToolFormat::kNone);
}

TEST(ToolCallSyntax, PiecesMakeACallTheParserReads) {
    const auto h = tool_call_syntax(ToolFormat::kHermes);
    EXPECT_EQ(h.before_name, "<tool_call>\n{\"name\": \"");
    EXPECT_EQ(h.after_name, "\", \"arguments\": ");
    EXPECT_EQ(h.after_arguments, "}\n</tool_call>");
    EXPECT_EQ(tool_call_syntax(ToolFormat::kNone).before_name, "");
    for (const ToolFormat f : {ToolFormat::kHermes, ToolFormat::kLlama3, ToolFormat::kMistral}) {
        for (const std::string tpl : {"", "[ARGS]"}) {
            const auto s = tool_call_syntax(f, tpl);
            const std::string text = s.before_name + "get_weather" + s.after_name +
                                     "{\"city\": \"Paris\", \"days\": 2}" + s.after_arguments;
            const auto r = parse(f, text);
            EXPECT_EQ(r.content, "") << text;
            EXPECT_EQ(calls_of(r.calls), (std::vector<Call>{{"id0", "get_weather", kWeatherArgs}}))
                << text;
        }
    }
    EXPECT_EQ(tool_call_syntax(ToolFormat::kMistral, "x[ARGS]y").after_name, "[ARGS]");
}

}  // namespace
}  // namespace citadel::api
