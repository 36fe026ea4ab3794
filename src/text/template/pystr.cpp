#include "text/template/pystr.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace citadel::jinja {

uint32_t decode_utf8(std::string_view s, size_t& i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + size_t(len) > s.size()) {
        ++i;
        return c;
    }
    uint32_t cp = len == 1 ? c : c & (0x7f >> len);
    for (int k = 1; k < len; ++k) {
        const auto b = static_cast<unsigned char>(s[i + size_t(k)]);
        if ((b & 0xc0) != 0x80) {
            ++i;
            return c;
        }
        cp = (cp << 6) | (b & 0x3f);
    }
    i += size_t(len);
    return cp;
}

std::vector<uint32_t> code_points(std::string_view s) {
    std::vector<uint32_t> out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) out.push_back(decode_utf8(s, i));
    return out;
}

std::string from_code_points(const std::vector<uint32_t>& cps, size_t begin, size_t end) {
    std::string out;
    for (size_t i = begin; i < end; ++i) append_utf8(cps[i], out);
    return out;
}

size_t count_code_points(std::string_view s) {
    size_t n = 0;
    for (size_t i = 0; i < s.size();) {
        decode_utf8(s, i);
        ++n;
    }
    return n;
}

bool valid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const size_t before = i;
        const uint32_t cp = decode_utf8(s, i);
        if (c >= 0x80 && i == before + 1) return false;
        if (cp >= 0xd800 && cp <= 0xdfff) return false;
    }
    return true;
}

bool py_isspace(uint32_t cp) {
    return (cp >= 0x09 && cp <= 0x0d) || (cp >= 0x1c && cp <= 0x20) || cp == 0x85 || cp == 0xa0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

bool py_islinebreak(uint32_t cp) {
    return cp == '\n' || cp == '\r' || cp == 0x0b || cp == 0x0c || (cp >= 0x1c && cp <= 0x1e) ||
           cp == 0x85 || cp == 0x2028 || cp == 0x2029;
}

namespace {

// Simple one-to-one case pairs for the scripts chat text meets most (Latin-1, Greek,
// Cyrillic); other scripts are caseless here.
bool upper_range(uint32_t cp) {
    return (cp >= 'A' && cp <= 'Z') || (cp >= 0xc0 && cp <= 0xde && cp != 0xd7) ||
           (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2) || (cp >= 0x400 && cp <= 0x42f);
}
bool lower_range(uint32_t cp) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 0xe0 && cp <= 0xfe && cp != 0xf7) ||
           (cp >= 0x3b1 && cp <= 0x3c9 && cp != 0x3c2) || (cp >= 0x430 && cp <= 0x45f) ||
           cp == 0xdf || cp == 0x3c2;
}

}  // namespace

uint32_t py_upper(uint32_t cp) {
    if (cp >= 'a' && cp <= 'z') return cp - 32;
    if (cp >= 0xe0 && cp <= 0xfe && cp != 0xf7) return cp - 32;
    if (cp >= 0x3b1 && cp <= 0x3c9 && cp != 0x3c2) return cp - 32;
    if (cp == 0x3c2) return 0x3a3;
    if (cp >= 0x430 && cp <= 0x44f) return cp - 32;
    if (cp >= 0x450 && cp <= 0x45f) return cp - 80;
    return cp;
}

uint32_t py_lower(uint32_t cp) {
    if (cp >= 'A' && cp <= 'Z') return cp + 32;
    if (cp >= 0xc0 && cp <= 0xde && cp != 0xd7) return cp + 32;
    if (cp >= 0x391 && cp <= 0x3a9 && cp != 0x3a2) return cp + 32;
    if (cp >= 0x410 && cp <= 0x42f) return cp + 32;
    if (cp >= 0x400 && cp <= 0x40f) return cp + 80;
    return cp;
}

bool py_iscased_lower(uint32_t cp) {
    return lower_range(cp);
}
bool py_iscased_upper(uint32_t cp) {
    return upper_range(cp);
}

bool py_isalpha(uint32_t cp) {
    if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    if (upper_range(cp) || lower_range(cp)) return true;
    if (cp < 0xc0 || py_isspace(cp)) return false;
    const bool punct = (cp >= 0x2000 && cp <= 0x2bff) || (cp >= 0x3000 && cp <= 0x303f) ||
                       (cp >= 0xff00 && cp <= 0xff20) || (cp >= 0xfe30 && cp <= 0xfe4f) ||
                       (cp >= 0x1f000 && cp <= 0x1faff) || cp == 0xd7 || cp == 0xf7;
    return !punct;
}

bool py_isdigit(uint32_t cp) {
    return cp >= '0' && cp <= '9';
}

std::string py_upper(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = decode_utf8(s, i);
        if (cp == 0xdf) {
            out += "SS";
            continue;
        }
        append_utf8(py_upper(cp), out);
    }
    return out;
}

std::string py_lower(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size();) append_utf8(py_lower(decode_utf8(s, i)), out);
    return out;
}

std::string py_capitalize(std::string_view s) {
    std::string out;
    bool first = true;
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = decode_utf8(s, i);
        append_utf8(first ? py_upper(cp) : py_lower(cp), out);
        first = false;
    }
    return out;
}

std::string py_title(std::string_view s) {
    std::string out;
    bool prev_cased = false;
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = decode_utf8(s, i);
        const bool cased = upper_range(cp) || lower_range(cp);
        append_utf8(!cased ? cp : prev_cased ? py_lower(cp) : py_upper(cp), out);
        prev_cased = cased;
    }
    return out;
}

std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right) {
    const std::vector<uint32_t> cps = code_points(s);
    std::vector<uint32_t> set;
    if (chars) set = code_points(*chars);
    auto strippable = [&](uint32_t cp) {
        if (!chars) return py_isspace(cp);
        for (uint32_t c : set) {
            if (c == cp) return true;
        }
        return false;
    };
    size_t b = 0, e = cps.size();
    if (left) {
        while (b < e && strippable(cps[b])) ++b;
    }
    if (right) {
        while (e > b && strippable(cps[e - 1])) --e;
    }
    return from_code_points(cps, b, e);
}

namespace {

std::vector<std::string> split_whitespace(std::string_view s, int64_t maxsplit, bool reverse) {
    const std::vector<uint32_t> cps = code_points(s);
    std::vector<std::string> out;
    const size_t n = cps.size();
    if (!reverse) {
        size_t i = 0;
        while (i < n) {
            while (i < n && py_isspace(cps[i])) ++i;
            if (i == n) break;
            if (maxsplit >= 0 && int64_t(out.size()) == maxsplit) {
                size_t e = n;
                while (e > i && py_isspace(cps[e - 1])) --e;
                out.push_back(from_code_points(cps, i, e));
                break;
            }
            size_t j = i;
            while (j < n && !py_isspace(cps[j])) ++j;
            out.push_back(from_code_points(cps, i, j));
            i = j;
        }
        return out;
    }
    size_t i = n;
    while (i > 0) {
        while (i > 0 && py_isspace(cps[i - 1])) --i;
        if (i == 0) break;
        if (maxsplit >= 0 && int64_t(out.size()) == maxsplit) {
            size_t b = 0;
            while (b < i && py_isspace(cps[b])) ++b;
            out.push_back(from_code_points(cps, b, i));
            break;
        }
        size_t j = i;
        while (j > 0 && !py_isspace(cps[j - 1])) --j;
        out.push_back(from_code_points(cps, j, i));
        i = j;
    }
    return {out.rbegin(), out.rend()};
}

}  // namespace

std::vector<std::string> py_split(std::string_view s, const std::string* sep, int64_t maxsplit) {
    if (!sep) return split_whitespace(s, maxsplit, false);
    std::vector<std::string> out;
    size_t start = 0;
    while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
        const size_t at = s.find(*sep, start);
        if (at == std::string_view::npos) break;
        out.emplace_back(s.substr(start, at - start));
        start = at + sep->size();
    }
    out.emplace_back(s.substr(start));
    return out;
}

std::vector<std::string> py_rsplit(std::string_view s, const std::string* sep, int64_t maxsplit) {
    if (!sep) return split_whitespace(s, maxsplit, true);
    std::vector<std::string> out;
    size_t end = s.size();
    while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
        if (end < sep->size()) break;
        const size_t at = s.rfind(*sep, end - sep->size());
        if (at == std::string_view::npos) break;
        out.emplace_back(s.substr(at + sep->size(), end - at - sep->size()));
        end = at;
    }
    out.emplace_back(s.substr(0, end));
    return {out.rbegin(), out.rend()};
}

std::vector<std::string> py_splitlines(std::string_view s, bool keepends) {
    std::vector<std::string> out;
    size_t line_start = 0;
    for (size_t i = 0; i < s.size();) {
        const size_t at = i;
        const uint32_t cp = decode_utf8(s, i);
        if (!py_islinebreak(cp)) continue;
        if (cp == '\r' && i < s.size() && s[i] == '\n') ++i;
        out.emplace_back(s.substr(line_start, (keepends ? i : at) - line_start));
        line_start = i;
    }
    if (line_start < s.size()) out.emplace_back(s.substr(line_start));
    return out;
}

std::string py_replace(std::string_view s, std::string_view old, std::string_view repl,
                       int64_t count) {
    std::string out;
    if (old.empty()) {
        // Python inserts repl before every character and at the end.
        int64_t done = 0;
        for (size_t i = 0; i < s.size();) {
            if (count < 0 || done < count) {
                out += repl;
                ++done;
            }
            const size_t b = i;
            decode_utf8(s, i);
            out += s.substr(b, i - b);
        }
        if (count < 0 || done < count) out += repl;
        return out;
    }
    size_t start = 0;
    int64_t done = 0;
    while (count < 0 || done < count) {
        const size_t at = s.find(old, start);
        if (at == std::string_view::npos) break;
        out += s.substr(start, at - start);
        out += repl;
        start = at + old.size();
        ++done;
    }
    out += s.substr(start);
    return out;
}

namespace {

bool py_isprintable(uint32_t cp) {
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0xa0)) return false;
    if (cp == 0xad || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200f)) return false;
    if ((cp >= 0x2028 && cp <= 0x202f) || (cp >= 0x205f && cp <= 0x206f)) return false;
    if (cp == 0x3000 || cp == 0xfeff || (cp >= 0xd800 && cp <= 0xf8ff)) return false;
    if (cp >= 0xfff9 && cp <= 0xfffb) return false;
    return cp < 0xf0000;
}

}  // namespace

std::string py_repr_string(std::string_view s) {
    const bool has_single = s.find('\'') != std::string_view::npos;
    const bool has_double = s.find('"') != std::string_view::npos;
    const char quote = has_single && !has_double ? '"' : '\'';
    std::string out(1, quote);
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = decode_utf8(s, i);
        char buf[16];
        if (cp == uint32_t(quote) || cp == '\\') {
            out += '\\';
            out += char(cp);
        } else if (cp == '\n') {
            out += "\\n";
        } else if (cp == '\r') {
            out += "\\r";
        } else if (cp == '\t') {
            out += "\\t";
        } else if (!py_isprintable(cp)) {
            const char* fmt = cp < 0x100 ? "\\x%02x" : cp < 0x10000 ? "\\u%04x" : "\\U%08x";
            std::snprintf(buf, sizeof buf, fmt, unsigned(cp));
            out += buf;
        } else {
            append_utf8(cp, out);
        }
    }
    out += quote;
    return out;
}

std::string py_repr_float(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    // sci is "[-]d[.ddd]e[+-]XX": split into sign, digits and the decimal exponent.
    std::string sign;
    if (sci[0] == '-') {
        sign = "-";
        sci.erase(0, 1);
    }
    const size_t e_at = sci.find('e');
    std::string digits = sci.substr(0, e_at);
    if (digits.size() > 1) digits.erase(1, 1);  // drop the '.'
    const int exp10 = std::stoi(sci.substr(e_at + 1));
    const int n = int(digits.size());
    std::string out;
    if (exp10 < -4 || exp10 >= 16) {
        out = digits.substr(0, 1);
        if (n > 1) out += "." + digits.substr(1);
        char eb[16];
        std::snprintf(eb, sizeof eb, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
        out += eb;
    } else if (exp10 < 0) {
        out = "0." + std::string(size_t(-exp10 - 1), '0') + digits;
    } else if (exp10 + 1 >= n) {
        out = digits + std::string(size_t(exp10 + 1 - n), '0') + ".0";
    } else {
        out = digits.substr(0, size_t(exp10 + 1)) + "." + digits.substr(size_t(exp10 + 1));
    }
    return sign + out;
}

}  // namespace citadel::jinja
