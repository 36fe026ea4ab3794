// Block-style YAML from JSON values (see yaml_writer.h).
#include "deploy/yaml_writer.h"

#include <cctype>

namespace citadel::deploy {
namespace {

bool is_reserved_word(const std::string& s) {
    std::string lower;
    for (char c : s) lower += char(std::tolower((unsigned char)c));
    for (const char* w : {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"}) {
        if (lower == w) return true;
    }
    return false;
}

// Digits, signs, dots and the letters of hex, octal and exponents: YAML may read a number.
bool looks_numeric(const std::string& s) {
    const char c0 = s[0];
    if (!(std::isdigit((unsigned char)c0) || c0 == '+' || c0 == '-' || c0 == '.')) return false;
    for (char c : s) {
        if (!(std::isxdigit((unsigned char)c) || c == '.' || c == '+' || c == '-' || c == '_' ||
              c == ':' || c == 'x' || c == 'X' || c == 'o' || c == 'O'))
            return false;
    }
    return true;
}

// A plain (unquoted) scalar that reads back as this exact string in block context.
bool can_be_plain(const std::string& s) {
    if (s.empty() || is_reserved_word(s) || looks_numeric(s)) return false;
    if (s.front() == ' ' || s.back() == ' ' || s.back() == ':') return false;
    const char c0 = s[0];
    if (c0 == '-' && (s.size() == 1 || s[1] == ' ')) return false;
    if (c0 == '?' || c0 == ':' || c0 == '.') return false;
    for (size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f || c >= 0x80) return false;
        if (std::string_view("{}[],#&*!|>'\"%@`").find(char(c)) != std::string_view::npos)
            return false;
        if (c == ':' && i + 1 < s.size() && s[i + 1] == ' ') return false;
    }
    return true;
}

// A literal block keeps multi-line text readable; it cannot hold trailing spaces on a line,
// a leading space on the first line, carriage returns, tabs or more than one final newline.
bool can_be_literal_block(const std::string& s) {
    if (s.find('\n') == std::string::npos || s.front() == ' ' || s.front() == '\n') return false;
    if (s.size() >= 2 && s.ends_with("\n\n")) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\t' || (c < 0x20 && c != '\n') || c == 0x7f) return false;
        if (c == '\n' && i > 0 && s[i - 1] == ' ') return false;
    }
    return s.back() != ' ';
}

std::string literal_block(const std::string& s, int indent) {
    std::string out = s.back() == '\n' ? "|" : "|-";
    const std::string pad(size_t(indent), ' ');
    size_t start = 0;
    const std::string body = s.back() == '\n' ? s.substr(0, s.size() - 1) : s;
    while (start <= body.size()) {
        size_t end = body.find('\n', start);
        if (end == std::string::npos) end = body.size();
        const std::string line = body.substr(start, end - start);
        out += '\n';
        if (!line.empty()) out.append(pad).append(line);
        start = end + 1;
    }
    return out;
}

std::string scalar_at(const Json& v, int indent) {
    if (v.is_string()) {
        const std::string& s = v.get_ref<const std::string&>();
        if (can_be_plain(s)) return s;
        if (can_be_literal_block(s)) return literal_block(s, indent);
        return v.dump(-1, ' ', false, Json::error_handler_t::replace);
    }
    if (v.is_object()) return "{}";
    if (v.is_array()) return "[]";
    return v.dump();
}

bool is_inline(const Json& v) {
    return !v.is_structured() || v.empty();
}

std::string key_text(const std::string& k) {
    return can_be_plain(k) ? k : Json(k).dump(-1, ' ', false, Json::error_handler_t::replace);
}

void emit_sequence(const Json& seq, int indent, std::string& out);

// `first_on_line`: the first key continues a line that already holds "- ".
void emit_mapping(const Json& map, int indent, bool first_on_line, std::string& out) {
    bool first = true;
    for (const auto& [k, v] : map.items()) {
        if (!(first && first_on_line)) out += std::string(size_t(indent), ' ');
        first = false;
        out += key_text(k) + ":";
        if (is_inline(v)) {
            out.append(" ").append(scalar_at(v, indent + 2)).append("\n");
        } else if (v.is_object()) {
            out += "\n";
            emit_mapping(v, indent + 2, false, out);
        } else {
            out += "\n";
            emit_sequence(v, indent + 2, out);
        }
    }
}

void emit_sequence(const Json& seq, int indent, std::string& out) {
    for (const Json& item : seq) {
        out += std::string(size_t(indent), ' ') + "-";
        if (is_inline(item)) {
            out.append(" ").append(scalar_at(item, indent + 2)).append("\n");
        } else if (item.is_object()) {
            out += " ";
            emit_mapping(item, indent + 2, true, out);
        } else {
            out += "\n";
            emit_sequence(item, indent + 2, out);
        }
    }
}

}  // namespace

std::string yaml_scalar(const Json& value) {
    return scalar_at(value, 2);
}

std::string to_yaml(const Json& doc) {
    std::string out;
    if (is_inline(doc)) return scalar_at(doc, 2) + "\n";
    if (doc.is_object()) {
        emit_mapping(doc, 0, false, out);
    } else {
        emit_sequence(doc, 0, out);
    }
    return out;
}

}  // namespace citadel::deploy
