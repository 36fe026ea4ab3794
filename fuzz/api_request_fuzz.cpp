// libFuzzer target for the api layer's parsers of untrusted bytes: every request parser, the
// tool-call parsers (streamed in two pieces too) and the stop matcher must return a value or
// an error with a message, never throw, crash, leak or trip a sanitizer. Seed with request
// bodies (tests/api has many) and model replies.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "api/ollama.h"
#include "api/openai_request.h"
#include "api/openai_response.h"
#include "api/tool_calls.h"
#include "text/stop_strings.h"

namespace {

using namespace citadel::api;

template <typename T>
void check(const Parsed<T>& p) {
    if (!p.ok() && p.error().message.empty()) __builtin_trap();  // every failure says why
    if (!p.ok()) (void)error_body(p.error());                    // and renders
}

void fuzz_requests(std::string_view body) {
    auto chat = parse_chat_request(body);
    check(chat);
    if (chat.ok()) {
        (void)dump_json(chat->messages);
        (void)dump_json(chat->tools);
        citadel::text::StopMatcher m(chat->stop);
        (void)m.push(body);
    }
    check(parse_completion_request(body));
    check(parse_tokenize(body));
    check(parse_detokenize(body));
    check(parse_ollama_chat(body));
    check(parse_ollama_generate(body));
    check(parse_ollama_show(body));
}

void fuzz_reply(std::string_view text) {
    for (const ToolFormat f : {ToolFormat::kHermes, ToolFormat::kLlama3, ToolFormat::kMistral}) {
        const ParsedReply whole = parse_tool_calls(f, text, [] { return std::string("id"); });
        ToolCallStream stream(f, [] { return std::string("id"); });
        const size_t half = text.size() / 2;
        auto a = stream.push(text.substr(0, half));
        auto b = stream.push(text.substr(half));
        auto c = stream.finish();
        if (a.calls.size() + b.calls.size() + c.calls.size() != whole.calls.size()) {
            __builtin_trap();  // streaming must find the calls the whole parse finds
        }
        if (!whole.calls.empty()) {
            (void)chat_completion({}, {{.tool_calls = whole.calls}}, {});
            (void)ollama_chat_line("m", whole.content, whole.calls, true, "stop", nullptr);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    fuzz_requests(bytes);
    fuzz_reply(bytes);
    // The first line as stop strings, the rest as the text.
    const size_t nl = bytes.find('\n');
    if (nl != std::string_view::npos) {
        citadel::text::StopMatcher m(
            {std::string(bytes.substr(0, nl / 2)), std::string(bytes.substr(nl / 2, nl - nl / 2))});
        const std::string_view rest = bytes.substr(nl + 1);
        std::string out;
        for (size_t i = 0; i < rest.size(); i += 3) {
            auto o = m.push(rest.substr(i, 3));
            out += o.text;
            if (o.stopped) break;
        }
        out += m.flush();
        if (out.size() > rest.size()) __builtin_trap();
    }
    return 0;
}
