// Tool calls in a model's reply: which syntax a chat template teaches its model, parsing a
// finished reply into content and calls, doing the same incrementally while streaming, and
// the fixed pieces of a call's text for constrained decoding.
//
// The markers some formats use ([TOOL_CALLS], <|python_tag|>) are special tokens: the reply
// must be detokenized with special tokens rendered for them to be seen.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/openai_response.h"

namespace citadel::api {

enum class ToolFormat {
    kNone,
    kHermes,  // Qwen 2.5/3, Hermes: <tool_call>\n{"name": …, "arguments": {…}}\n</tool_call>
    kLlama3,  // the whole reply is {"name": …, "parameters": {…}} (or <|python_tag|>{…});
              // several separated by ';'
    kMistral  // [TOOL_CALLS][{"name", "arguments"}, …] or [TOOL_CALLS]name[ARGS]{…}
              // (optionally name[CALL_ID]id[ARGS]{…}), repeated
};

// By the markers the template writes. Templates whose calls are XML (<function=…>, as in
// Qwen3-Coder) and those of other families give kNone.
ToolFormat detect_tool_format(std::string_view chat_template_source);

// Makes the id of each parsed call. The default: "call_" + 24 random alphanumerics, or 9
// random alphanumerics for kMistral (Mistral's templates refuse other ids).
using ToolCallIdGenerator = std::function<std::string()>;
std::string random_tool_call_id(ToolFormat format);

struct ParsedReply {
    std::string content;  // the reply without its calls; trimmed of whitespace when calls exist
    std::vector<ToolCall> calls;  // arguments: compact JSON object text
};

// Malformed calls (bad JSON, no name, unterminated array…) stay in the content as they came.
ParsedReply parse_tool_calls(ToolFormat format, std::string_view text,
                             const ToolCallIdGenerator& make_id = {});

// Streaming: push text deltas, get content deltas and complete calls. Holds back text that
// may be the beginning of a tool-call marker (never more than the marker's length), and
// everything from a marker until its call is complete. Whitespace right after a call is
// dropped. For kLlama3, whose calls are the whole reply, a reply that starts with '{' or
// <|python_tag|> is held to the end. Pushing after finish() is an error (returns nothing).
class ToolCallStream {
  public:
    explicit ToolCallStream(ToolFormat format, ToolCallIdGenerator make_id = {});

    struct Out {
        std::string content;
        std::vector<ToolCall> calls;
    };
    Out push(std::string_view delta);
    Out finish();  // the end of the reply: a call still open is parsed, or becomes content

  private:
    void scan(Out& out, bool final);
    void scan_llama3(Out& out, bool final);
    void add_calls(Out& out, std::vector<ToolCall> calls);

    ToolFormat format_;
    ToolCallIdGenerator make_id_;
    std::string buf_;          // text not handed out yet
    bool in_call_ = false;     // buf_ starts with a marker whose call is not complete
    bool skip_space_ = false;  // a call just ended: drop the whitespace that follows
    enum class Llama3 { kUndecided, kCalls, kContent } llama3_ = Llama3::kUndecided;
    bool finished_ = false;
};

// The text that makes a call in this format, as pieces for constrained decoding:
// before_name + name + after_name + <arguments object> + after_arguments.
struct ToolCallSyntax {
    std::string before_name, after_name, after_arguments;
};
// Hermes: "<tool_call>\n{\"name\": \"", "\", \"arguments\": ", "}\n</tool_call>";
// Llama 3: "{\"name\": \"", "\", \"parameters\": ", "}"; Mistral: "[TOOL_CALLS][{\"name\":
// \"", "\", \"arguments\": ", "}]". kNone: all empty.
ToolCallSyntax tool_call_syntax(ToolFormat format);
// The same, but Mistral templates that write [ARGS] get "[TOOL_CALLS]", "[ARGS]", "".
ToolCallSyntax tool_call_syntax(ToolFormat format, std::string_view chat_template_source);

}  // namespace citadel::api
