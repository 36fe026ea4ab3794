#include "text/chat_prompt.h"

namespace citadel::text {
namespace {

using nlohmann::ordered_json;

// Every string a message carries: its content (a string or text parts) and tool-call
// arguments given as strings.
void message_strings(const ordered_json& m, std::vector<std::string>& out) {
    if (!m.is_object()) return;
    if (auto c = m.find("content"); c != m.end()) {
        if (c->is_string()) out.push_back(c->get<std::string>());
        if (c->is_array()) {
            for (const auto& part : *c) {
                if (part.is_object() && part.contains("text") && part["text"].is_string()) {
                    out.push_back(part["text"].get<std::string>());
                }
            }
        }
    }
}

// Finds s in text at or after from (else anywhere); also tries s with whitespace trimmed,
// as templates often trim content.
std::optional<Span> locate(const std::string& text, const std::string& s, size_t from) {
    auto find = [&](const std::string& needle) -> std::optional<Span> {
        if (needle.empty()) return std::nullopt;
        size_t at = text.find(needle, from);
        if (at == std::string::npos) at = text.find(needle);
        if (at == std::string::npos) return std::nullopt;
        return Span{at, at + needle.size()};
    };
    if (auto sp = find(s)) return sp;
    const size_t b = s.find_first_not_of(" \t\r\n");
    if (b == std::string::npos) return std::nullopt;
    const size_t e = s.find_last_not_of(" \t\r\n");
    return find(s.substr(b, e - b + 1));
}

}  // namespace

Result<ChatPrompt> render_chat(const jinja::ChatTemplate& tpl, const ordered_json& context) {
    Result<std::string> text = tpl.apply(context);
    if (!text) return text.status();
    ChatPrompt p{std::move(*text), {}};
    std::vector<std::string> strings;
    if (auto m = context.find("messages"); m != context.end() && m->is_array()) {
        for (const auto& msg : *m) message_strings(msg, strings);
    }
    size_t cursor = 0;
    for (const std::string& s : strings) {
        if (const std::optional<Span> sp = locate(p.text, s, cursor)) {
            p.content.push_back(*sp);
            cursor = sp->end;
        }
    }
    return p;
}

std::vector<int32_t> encode_chat(const Tokenizer& tok, const ChatPrompt& prompt) {
    std::vector<int32_t> ids =
        tok.encode(prompt.text, {.parse_special = true, .literal = prompt.content});
    const std::vector<int32_t> bos = tok.encode("", {.add_special = true});
    if (!bos.empty() && (ids.empty() || ids.front() != bos.front()))
        ids.insert(ids.begin(), bos.front());
    return ids;
}

}  // namespace citadel::text
