// Tool-call parsing. One scanner serves the marker formats (Hermes, Mistral): outside a call
// it hands text out as content, holding back a tail that may start the marker; at a marker it
// asks the format's parser whether a complete call follows (done), more text is needed, or the
// text is no call (then the marker is content, and scanning goes on after it). Llama 3's calls
// are the whole reply, so it decides once at the start and holds a call-like reply to the end.
#include "api/tool_calls.h"

#include <random>

namespace citadel::api {

namespace {

constexpr std::string_view kHermesOpen = "<tool_call>";
constexpr std::string_view kHermesClose = "</tool_call>";
constexpr std::string_view kMistralMarker = "[TOOL_CALLS]";
constexpr std::string_view kPythonTag = "<|python_tag|>";

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

size_t skip_space(std::string_view s, size_t i) {
    while (i < s.size() && is_space(s[i])) ++i;
    return i;
}

std::string_view trim(std::string_view s) {
    const size_t begin = skip_space(s, 0);
    size_t end = s.size();
    while (end > begin && is_space(s[end - 1])) --end;
    return s.substr(begin, end - begin);
}

// The length of the longest proper prefix of `marker` that `text` ends with.
size_t partial_marker(std::string_view text, std::string_view marker) {
    for (size_t k = std::min(text.size(), marker.size() - 1); k > 0; --k) {
        if (text.substr(text.size() - k) == marker.substr(0, k)) return k;
    }
    return 0;
}

// A call's name and arguments from {"name": …, "arguments" | "parameters": {…}}.
bool call_from_json(const Json& j, ToolCall& call) {
    if (!j.is_object()) return false;
    const auto name = j.find("name");
    if (name == j.end() || !name->is_string() || name->get_ref<const std::string&>().empty()) {
        return false;
    }
    auto args = j.find("arguments");
    if (args == j.end()) args = j.find("parameters");
    if (args == j.end() || args->is_null()) {
        call.arguments = "{}";
    } else if (args->is_object()) {
        call.arguments = dump_json(*args);
    } else if (args->is_string()) {  // arguments given as JSON text
        std::string error;
        const auto parsed = parse_json(args->get_ref<const std::string&>(), error);
        if (!parsed || !parsed->is_object()) return false;
        call.arguments = dump_json(*parsed);
    } else {
        return false;
    }
    call.name = name->get<std::string>();
    return true;
}

bool call_from_text(std::string_view text, ToolCall& call) {
    std::string error;
    const auto j = parse_json(trim(text), error);
    return j && call_from_json(*j, call);
}

// What a format's parser found at a marker.
struct Attempt {
    enum Status { kNeedMore, kNoCall, kDone } status = kNoCall;
    size_t consumed = 0;  // kDone: the bytes of the call(s), marker included
    std::vector<ToolCall> calls;
};

Attempt need_more_or_no_call(bool final) {
    return {final ? Attempt::kNoCall : Attempt::kNeedMore};
}

// text starts with <tool_call>.
Attempt try_hermes(std::string_view text, bool final) {
    const std::string_view body = text.substr(kHermesOpen.size());
    const size_t close = body.find(kHermesClose);
    if (close == std::string_view::npos && !final) return {Attempt::kNeedMore};
    Attempt a;
    a.consumed = close == std::string_view::npos ? text.size()
                                                 : kHermesOpen.size() + close + kHermesClose.size();
    ToolCall call;
    if (!call_from_text(body.substr(0, close), call)) return {Attempt::kNoCall};
    a.status = Attempt::kDone;
    a.calls.push_back(std::move(call));
    return a;
}

enum class Literal { kYes, kPartial, kNo };
Literal match_literal(std::string_view text, size_t at, std::string_view lit) {
    const std::string_view rest = text.substr(at);
    if (rest.starts_with(lit)) return Literal::kYes;
    return lit.starts_with(rest) ? Literal::kPartial : Literal::kNo;
}

bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.';
}

// [TOOL_CALLS][{"name", "arguments"}, …] from the '[' at `at`.
Attempt try_mistral_array(std::string_view text, size_t at, bool final) {
    size_t end = 0;
    const JsonExtent extent = json_extent(text, at, end);
    if (extent == JsonExtent::kIncomplete) return need_more_or_no_call(final);
    if (extent == JsonExtent::kInvalid) return {Attempt::kNoCall};
    std::string error;
    const auto j = parse_json(text.substr(at, end - at), error);
    if (!j || !j->is_array() || j->empty()) return {Attempt::kNoCall};
    Attempt a{Attempt::kDone, end, {}};
    for (const auto& item : *j) {
        ToolCall call;
        if (!call_from_json(item, call)) return {Attempt::kNoCall};
        a.calls.push_back(std::move(call));
    }
    return a;
}

// [TOOL_CALLS]name[ARGS]{…} or [TOOL_CALLS]name[CALL_ID]id[ARGS]{…} from the name at `at`.
Attempt try_mistral_named(std::string_view text, size_t at, bool final) {
    size_t i = at;
    while (i < text.size() && is_name_char(text[i])) ++i;
    if (i == at || i - at > 64) return {Attempt::kNoCall};
    const std::string name(text.substr(at, i - at));
    if (i == text.size()) return need_more_or_no_call(final);
    Literal m = match_literal(text, i, "[CALL_ID]");
    if (m == Literal::kPartial) return need_more_or_no_call(final);
    if (m == Literal::kYes) {
        i += 9;
        while (i < text.size() && is_name_char(text[i])) ++i;
        if (i == text.size()) return need_more_or_no_call(final);
    }
    m = match_literal(text, i, "[ARGS]");
    if (m == Literal::kNo) return {Attempt::kNoCall};
    if (m == Literal::kPartial) return need_more_or_no_call(final);
    i = skip_space(text, i + 6);
    if (i == text.size()) return need_more_or_no_call(final);
    size_t end = 0;
    const JsonExtent extent = json_extent(text, i, end);
    if (extent == JsonExtent::kIncomplete) return need_more_or_no_call(final);
    if (extent == JsonExtent::kInvalid || text[i] != '{') return {Attempt::kNoCall};
    std::string error;
    const auto args = parse_json(text.substr(i, end - i), error);
    if (!args || !args->is_object()) return {Attempt::kNoCall};
    Attempt a{Attempt::kDone, end, {}};
    a.calls.push_back({.name = name, .arguments = dump_json(*args)});
    return a;
}

// text starts with [TOOL_CALLS].
Attempt try_mistral(std::string_view text, bool final) {
    const size_t at = skip_space(text, kMistralMarker.size());
    if (at == text.size()) return need_more_or_no_call(final);
    if (text[at] == '[') return try_mistral_array(text, at, final);
    return try_mistral_named(text, at, final);
}

// The whole reply as Llama 3 calls: [<|python_tag|>]{…} [; [<|python_tag|>]{…}]…
bool parse_llama3_calls(std::string_view text, std::vector<ToolCall>& calls) {
    size_t i = 0;
    while (true) {
        i = skip_space(text, i);
        if (text.substr(i).starts_with(kPythonTag)) i = skip_space(text, i + kPythonTag.size());
        size_t end = 0;
        if (json_extent(text, i, end) != JsonExtent::kComplete) return false;
        ToolCall call;
        if (!call_from_text(text.substr(i, end - i), call)) return false;
        calls.push_back(std::move(call));
        i = skip_space(text, end);
        if (i == text.size()) return true;
        if (text[i] != ';') return false;
        ++i;
        if (skip_space(text, i) == text.size()) return true;  // a trailing ';'
    }
}

bool contains(std::string_view s, std::string_view what) {
    return s.find(what) != std::string_view::npos;
}

}  // namespace

ToolFormat detect_tool_format(std::string_view src) {
    if (contains(src, "<function=")) return ToolFormat::kNone;  // XML calls (Qwen3-Coder)
    if (contains(src, kHermesOpen)) return ToolFormat::kHermes;
    if (contains(src, kMistralMarker)) return ToolFormat::kMistral;
    if (contains(src, "<|start_header_id|>") &&
        (contains(src, kPythonTag) || contains(src, "\"parameters\""))) {
        return ToolFormat::kLlama3;
    }
    return ToolFormat::kNone;
}

std::string random_tool_call_id(ToolFormat format) {
    static constexpr char kAlnum[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::uniform_int_distribution<size_t> pick(0, sizeof kAlnum - 2);
    const bool mistral = format == ToolFormat::kMistral;
    std::string id = mistral ? "" : "call_";
    for (int i = 0; i < (mistral ? 9 : 24); ++i) id += kAlnum[pick(rng)];
    return id;
}

ToolCallStream::ToolCallStream(ToolFormat format, ToolCallIdGenerator make_id)
    : format_(format), make_id_(std::move(make_id)) {}

ToolCallStream::Out ToolCallStream::push(std::string_view delta) {
    Out out;
    if (finished_) return out;
    buf_.append(delta);
    scan(out, false);
    return out;
}

ToolCallStream::Out ToolCallStream::finish() {
    Out out;
    if (finished_) return out;
    finished_ = true;
    scan(out, true);
    out.content += buf_;  // nothing is left unless the format is kNone
    buf_.clear();
    return out;
}

void ToolCallStream::add_calls(Out& out, std::vector<ToolCall> calls) {
    for (auto& call : calls) {
        call.id = make_id_ ? make_id_() : random_tool_call_id(format_);
        out.calls.push_back(std::move(call));
    }
}

void ToolCallStream::scan(Out& out, bool final) {
    if (format_ == ToolFormat::kLlama3) return scan_llama3(out, final);
    if (format_ == ToolFormat::kNone) {
        out.content += buf_;
        buf_.clear();
        return;
    }
    const bool hermes = format_ == ToolFormat::kHermes;
    const std::string_view marker = hermes ? kHermesOpen : kMistralMarker;
    while (true) {
        if (!in_call_) {
            if (skip_space_) {
                buf_.erase(0, skip_space(buf_, 0));
                if (buf_.empty()) return;
                skip_space_ = false;
            }
            const size_t pos = buf_.find(marker);
            if (pos == std::string::npos) {
                const size_t keep = final ? 0 : partial_marker(buf_, marker);
                out.content.append(buf_, 0, buf_.size() - keep);
                buf_.erase(0, buf_.size() - keep);
                return;
            }
            out.content.append(buf_, 0, pos);
            buf_.erase(0, pos);
            in_call_ = true;
        }
        Attempt a = hermes ? try_hermes(buf_, final) : try_mistral(buf_, final);
        if (a.status == Attempt::kNeedMore) return;
        in_call_ = false;
        if (a.status == Attempt::kNoCall) {  // the marker is content; go on after it
            out.content.append(marker);
            buf_.erase(0, marker.size());
            continue;
        }
        add_calls(out, std::move(a.calls));
        buf_.erase(0, a.consumed);
        skip_space_ = true;
    }
}

void ToolCallStream::scan_llama3(Out& out, bool final) {
    if (llama3_ == Llama3::kUndecided) {
        const std::string_view rest = std::string_view(buf_).substr(skip_space(buf_, 0));
        if (rest.starts_with("{") || rest.starts_with(kPythonTag)) {
            llama3_ = Llama3::kCalls;
        } else if ((rest.empty() || kPythonTag.starts_with(rest)) && !final) {
            return;  // still undecided: hold the (short) start
        } else {
            llama3_ = Llama3::kContent;
        }
    }
    if (llama3_ == Llama3::kCalls) {
        if (!final) return;
        std::vector<ToolCall> calls;
        if (parse_llama3_calls(buf_, calls)) {
            add_calls(out, std::move(calls));
            buf_.clear();
            return;
        }
    }
    out.content += buf_;
    buf_.clear();
}

ParsedReply parse_tool_calls(ToolFormat format, std::string_view text,
                             const ToolCallIdGenerator& make_id) {
    ToolCallStream stream(format, make_id);
    ToolCallStream::Out a = stream.push(text);
    ToolCallStream::Out b = stream.finish();
    ParsedReply reply;
    reply.content = std::move(a.content) + b.content;
    reply.calls = std::move(a.calls);
    for (auto& call : b.calls) reply.calls.push_back(std::move(call));
    if (!reply.calls.empty()) reply.content = std::string(trim(reply.content));
    return reply;
}

ToolCallSyntax tool_call_syntax(ToolFormat format) {
    switch (format) {
        case ToolFormat::kHermes:
            return {"<tool_call>\n{\"name\": \"", "\", \"arguments\": ", "}\n</tool_call>"};
        case ToolFormat::kLlama3:
            return {"{\"name\": \"", "\", \"parameters\": ", "}"};
        case ToolFormat::kMistral:
            return {"[TOOL_CALLS][{\"name\": \"", "\", \"arguments\": ", "}]"};
        case ToolFormat::kNone:
            break;
    }
    return {};
}

ToolCallSyntax tool_call_syntax(ToolFormat format, std::string_view chat_template_source) {
    if (format == ToolFormat::kMistral && contains(chat_template_source, "[ARGS]")) {
        return {"[TOOL_CALLS]", "[ARGS]", ""};
    }
    return tool_call_syntax(format);
}

}  // namespace citadel::api
