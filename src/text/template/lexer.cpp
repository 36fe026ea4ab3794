#include "text/template/lexer.h"

#include <cmath>
#include <cstdlib>

#include "text/template/pystr.h"
#include "text/template/value.h"

namespace citadel::jinja {
namespace {

bool is_ident_start(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Jinja splits lines on \r\n, \r and \n, rejoins them with \n and drops one trailing
// newline (keep_trailing_newline=False).
std::string normalize_newlines(std::string_view source) {
    std::string out;
    out.reserve(source.size());
    for (size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
            out += '\n';
        } else {
            out += source[i];
        }
    }
    if (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
}

class Lexer {
  public:
    Lexer(std::string_view source, const LexOptions& options)
        : src_(normalize_newlines(source)), opt_(options) {}

    std::vector<Token> run() {
        while (pos_ < src_.size()) {
            if (!root_step()) break;
        }
        push(Tok::kEof, "");
        return std::move(out_);
    }

  private:
    [[noreturn]] void fail(const std::string& message) const {
        throw TemplateError{message, line_};
    }

    void push(Tok type, std::string text) {
        Token t;
        t.type = type;
        t.text = std::move(text);
        t.line = line_;
        out_.push_back(std::move(t));
    }

    void advance_to(size_t new_pos) {
        for (size_t i = pos_; i < new_pos; ++i) line_ += src_[i] == '\n';
        line_starting_ = new_pos > pos_ && src_[new_pos - 1] == '\n';
        pos_ = new_pos;
    }

    size_t skip_space(size_t i) const {
        while (i < src_.size()) {
            size_t j = i;
            if (!py_isspace(decode_utf8(src_, j))) break;
            i = j;
        }
        return i;
    }

    // Applies `{%-` / lstrip_blocks to the text before a tag and emits it.
    void emit_text(size_t begin, size_t end, char sign, bool is_block_like) {
        std::string_view text(src_.data() + begin, end - begin);
        std::string kept(text);
        if (sign == '-') {
            kept = py_strip(text, nullptr, false, true);
        } else if (sign != '+' && opt_.lstrip_blocks && is_block_like) {
            const size_t nl = text.rfind('\n');
            const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
            if ((l_pos > 0 || line_starting_) && l_pos < text.size() &&
                py_strip(text.substr(l_pos), nullptr, true, true).empty()) {
                kept = std::string(text.substr(0, l_pos));
            }
        }
        const int line_before = line_;
        for (size_t i = begin; i < end; ++i) line_ += src_[i] == '\n';
        if (!kept.empty()) {
            Token t;
            t.type = Tok::kText;
            t.text = std::move(kept);
            t.line = line_before;
            out_.push_back(std::move(t));
        }
    }

    // Matches `{%[-+]? raw [-]?%}` at `at`; returns the end of the match or npos.
    size_t match_raw_begin(size_t at) const {
        size_t i = at + 2;
        if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) ++i;
        i = skip_space(i);
        if (src_.compare(i, 3, "raw") != 0) return std::string::npos;
        i = skip_space(i + 3);
        if (src_.compare(i, 3, "-%}") == 0) return skip_space(i + 3);
        if (src_.compare(i, 2, "%}") == 0) return i + 2;
        return std::string::npos;
    }

    // Block or comment end at i (after an optional sign); returns the end of the match.
    size_t end_of_close(size_t i, char sign_char, size_t close_len) const {
        if (sign_char == '-') return skip_space(i + 1 + close_len);
        if (sign_char == '+') return i + 1 + close_len;
        size_t e = i + close_len;
        if (opt_.trim_blocks && e < src_.size() && src_[e] == '\n') ++e;
        return e;
    }

    bool root_step() {
        size_t at = pos_;
        while (true) {
            at = src_.find('{', at);
            if (at == std::string::npos || at + 1 >= src_.size()) {
                emit_text(pos_, src_.size(), 0, false);
                advance_to(src_.size());
                return false;
            }
            const char k = src_[at + 1];
            if (k == '{' || k == '%' || k == '#') break;
            ++at;
        }
        const char kind = src_[at + 1];
        const char sign =
            at + 2 < src_.size() && (src_[at + 2] == '-' || src_[at + 2] == '+') ? src_[at + 2] : 0;
        const size_t raw_end = kind == '%' ? match_raw_begin(at) : std::string::npos;
        emit_text(pos_, at, sign, kind != '{');
        pos_ = at;
        const size_t tag_body = at + 2 + (sign ? 1 : 0);
        if (raw_end != std::string::npos) {
            advance_to(raw_end);
            lex_raw();
        } else if (kind == '#') {
            lex_comment(tag_body);
        } else {
            push(kind == '{' ? Tok::kVarBegin : Tok::kBlockBegin, "");
            advance_to(tag_body);
            lex_tag(kind == '{');
        }
        return true;
    }

    void lex_comment(size_t body) {
        size_t i = src_.find("#}", body);
        if (i == std::string::npos) fail("Missing end of comment tag");
        char sign = 0;
        if (i > body && (src_[i - 1] == '-' || src_[i - 1] == '+')) {
            sign = src_[i - 1];
            --i;
        }
        advance_to(end_of_close(i, sign, 2));
    }

    void lex_raw() {
        size_t search = pos_;
        while (true) {
            const size_t at = src_.find("{%", search);
            if (at == std::string::npos) fail("Missing end of raw directive");
            size_t i = at + 2;
            const char sign = i < src_.size() && (src_[i] == '-' || src_[i] == '+') ? src_[i] : 0;
            if (sign) ++i;
            i = skip_space(i);
            if (src_.compare(i, 6, "endraw") != 0) {
                search = at + 2;
                continue;
            }
            i = skip_space(i + 6);
            char close_sign = 0;
            if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) close_sign = src_[i];
            const size_t close_at = close_sign ? i + 1 : i;
            if (src_.compare(close_at, 2, "%}") != 0) {
                search = at + 2;
                continue;
            }
            emit_text(pos_, at, sign, true);
            pos_ = at;
            advance_to(end_of_close(i, close_sign, 2));
            return;
        }
    }

    // Expression tokens until the closing delimiter of a {{ }} or {% %} tag.
    void lex_tag(bool variable) {
        std::vector<char> brackets;
        while (true) {
            if (pos_ >= src_.size()) fail("unexpected end of template, expected end of tag");
            if (brackets.empty() && try_close(variable)) return;
            const char c = src_[pos_];
            size_t j = pos_;
            if (py_isspace(decode_utf8(src_, j))) {
                advance_to(skip_space(pos_));
            } else if (is_digit(c)) {
                lex_number();
            } else if (is_ident_start(c)) {
                size_t e = pos_;
                while (e < src_.size() && (is_ident_start(src_[e]) || is_digit(src_[e]))) ++e;
                push(Tok::kName, src_.substr(pos_, e - pos_));
                advance_to(e);
            } else if (c == '\'' || c == '"') {
                lex_string(c);
            } else {
                lex_operator(brackets);
            }
        }
    }

    bool try_close(bool variable) {
        const char* close = variable ? "}}" : "%}";
        if (src_.compare(pos_, 3, std::string("-") + close) == 0) {
            push(variable ? Tok::kVarEnd : Tok::kBlockEnd, "");
            advance_to(skip_space(pos_ + 3));
            return true;
        }
        if (!variable && src_.compare(pos_, 3, "+%}") == 0) {
            push(Tok::kBlockEnd, "");
            advance_to(pos_ + 3);
            return true;
        }
        if (src_.compare(pos_, 2, close) == 0) {
            push(variable ? Tok::kVarEnd : Tok::kBlockEnd, "");
            advance_to(variable ? pos_ + 2 : end_of_close(pos_, 0, 2));
            return true;
        }
        return false;
    }

    // Digits with single underscores between groups: (\d+_)*\d+
    size_t scan_digits(size_t i) const {
        if (i >= src_.size() || !is_digit(src_[i])) return std::string::npos;
        while (i < src_.size()) {
            while (i < src_.size() && is_digit(src_[i])) ++i;
            if (i + 1 < src_.size() && src_[i] == '_' && is_digit(src_[i + 1])) {
                ++i;
                continue;
            }
            break;
        }
        return i;
    }

    void lex_number() {
        const size_t int_end = scan_digits(pos_);
        size_t end = int_end;
        bool is_float = false;
        const bool after_dot = pos_ > 0 && src_[pos_ - 1] == '.';
        if (!after_dot) {
            size_t e = int_end;
            if (e < src_.size() && src_[e] == '.') {
                const size_t frac = scan_digits(e + 1);
                if (frac != std::string::npos) {
                    e = frac;
                    is_float = true;
                }
            }
            if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
                size_t x = e + 1;
                if (x < src_.size() && (src_[x] == '+' || src_[x] == '-')) ++x;
                const size_t exp_end = scan_digits(x);
                if (exp_end != std::string::npos) {
                    e = exp_end;
                    is_float = true;
                }
            }
            if (is_float) end = e;
        }
        std::string digits;
        for (size_t i = pos_; i < end; ++i) {
            if (src_[i] != '_') digits += src_[i];
        }
        Token t;
        t.line = line_;
        t.text = digits;
        if (is_float) {
            t.type = Tok::kFloat;
            t.float_value = std::strtod(digits.c_str(), nullptr);
        } else {
            t.type = Tok::kInt;
            errno = 0;
            const long long v = std::strtoll(digits.c_str(), nullptr, 10);
            if (errno == ERANGE) fail("integer literal too large: " + digits);
            t.int_value = v;
        }
        out_.push_back(std::move(t));
        advance_to(end);
    }

    static int hex_value(char c) {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    }

    // Python's unicode-escape decoding of the literal's body.
    std::string unescape(std::string_view body) const {
        std::string out;
        for (size_t i = 0; i < body.size(); ++i) {
            const char c = body[i];
            if (c != '\\' || i + 1 >= body.size()) {
                out += c;
                continue;
            }
            const char e = body[++i];
            switch (e) {
                case '\n':
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '\'':
                    out += '\'';
                    break;
                case '"':
                    out += '"';
                    break;
                case 'a':
                    out += '\a';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'v':
                    out += '\v';
                    break;
                case 'x':
                case 'u':
                case 'U': {
                    const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    uint32_t cp = 0;
                    for (size_t k = 0; k < n; ++k) {
                        const int h = i + 1 + k < body.size() ? hex_value(body[i + 1 + k]) : -1;
                        if (h < 0) fail("invalid \\" + std::string(1, e) + " escape in string");
                        cp = cp * 16 + uint32_t(h);
                    }
                    if (cp > 0x10ffff) fail("invalid code point escape in string");
                    i += n;
                    append_utf8(cp, out);
                    break;
                }
                default:
                    if (e >= '0' && e <= '7') {
                        uint32_t cp = uint32_t(e - '0');
                        for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' &&
                                        body[i + 1] <= '7';
                             ++k) {
                            cp = cp * 8 + uint32_t(body[++i] - '0');
                        }
                        append_utf8(cp, out);
                    } else {
                        out += '\\';
                        out += e;
                    }
            }
        }
        return out;
    }

    void lex_string(char quote) {
        size_t i = pos_ + 1;
        while (i < src_.size() && src_[i] != quote) i += src_[i] == '\\' ? 2 : 1;
        if (i >= src_.size()) fail("unexpected end of string literal");
        Token t;
        t.type = Tok::kString;
        t.line = line_;
        t.text = unescape(std::string_view(src_).substr(pos_ + 1, i - pos_ - 1));
        out_.push_back(std::move(t));
        advance_to(i + 1);
    }

    void lex_operator(std::vector<char>& brackets) {
        static const char* kTwo[] = {"//", "**", "==", "!=", ">=", "<="};
        for (const char* op : kTwo) {
            if (src_.compare(pos_, 2, op) == 0) {
                push(Tok::kOp, op);
                advance_to(pos_ + 2);
                return;
            }
        }
        const char c = src_[pos_];
        static const std::string kOne = "+-/*%~[](){}><=.:|,;";
        if (kOne.find(c) == std::string::npos) {
            fail(std::string("unexpected char '") + c + "'");
        }
        if (c == '(' || c == '[' || c == '{')
            brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
        if (c == ')' || c == ']' || c == '}') {
            if (brackets.empty()) fail(std::string("unexpected '") + c + "'");
            if (brackets.back() != c) {
                fail(std::string("unexpected '") + c + "', expected '" + brackets.back() + "'");
            }
            brackets.pop_back();
        }
        push(Tok::kOp, std::string(1, c));
        advance_to(pos_ + 1);
    }

    std::string src_;
    LexOptions opt_;
    size_t pos_ = 0;
    int line_ = 1;
    bool line_starting_ = true;
    std::vector<Token> out_;
};

}  // namespace

std::vector<Token> tokenize(std::string_view source, const LexOptions& options) {
    return Lexer(source, options).run();
}

}  // namespace citadel::jinja
