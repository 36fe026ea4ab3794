// libFuzzer target for the chat-template interpreter: any bytes must parse and render to a
// text or an error with a message, never a crash, sanitizer report, leak, hang or stack
// overflow. Small limits keep each input fast. Seed with the reference templates' sources.
#include <cstddef>
#include <cstdint>
#include <string>

#include "text/template/chat_template.h"

namespace {

const nlohmann::ordered_json& context() {
    static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi \"there\" {{ x }}"},
            {"role": "assistant", "content": "", "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": {"city": "Paris", "n": 1.5}}}]},
            {"role": "tool", "content": "{\"temp\": 18}"}
        ],
        "tools": [{"type": "function", "function": {"name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "add_generation_prompt": true,
        "bos_token": "<s>",
        "eos_token": "</s>"
    })");
    return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace citadel::jinja;
    const std::string source(reinterpret_cast<const char*>(data), size);
    ChatTemplateOptions options;
    options.limits.max_output_bytes = 1 << 16;
    options.limits.max_loop_iterations = 20'000;
    options.limits.max_steps = 200'000;
    options.limits.max_call_depth = 40;
    options.limits.max_eval_depth = 400;
    options.now = std::tm{};
    auto tpl = ChatTemplate::create(source, options);
    if (!tpl.ok()) {
        if (tpl.error().empty()) __builtin_trap();  // every failure must say why
        return 0;
    }
    auto text = tpl->apply(context());
    if (!text.ok() && text.error().empty()) __builtin_trap();
    if (text.ok() && text->size() > options.limits.max_output_bytes) __builtin_trap();
    return 0;
}
