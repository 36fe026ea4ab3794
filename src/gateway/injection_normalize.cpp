#include "gateway/injection_normalize.h"

namespace citadel::gateway {
namespace {

struct Decoded {
    char32_t code_point = 0;
    size_t length = 1;
    bool valid = false;
};

// One UTF-8 character at text[at]; an invalid sequence decodes as one invalid byte.
Decoded decode_utf8(std::string_view text, size_t at) {
    const uint8_t lead = uint8_t(text[at]);
    if (lead < 0x80) return Decoded{lead, 1, true};
    size_t length = 0;
    char32_t cp = 0;
    if ((lead >> 5) == 0x6) {
        length = 2;
        cp = lead & 0x1F;
    } else if ((lead >> 4) == 0xE) {
        length = 3;
        cp = lead & 0x0F;
    } else if ((lead >> 3) == 0x1E) {
        length = 4;
        cp = lead & 0x07;
    } else {
        return Decoded{lead, 1, false};
    }
    if (at + length > text.size()) return Decoded{lead, 1, false};
    for (size_t k = 1; k < length; ++k) {
        const uint8_t c = uint8_t(text[at + k]);
        if ((c & 0xC0) != 0x80) return Decoded{lead, 1, false};
        cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr char32_t kMinimum[5] = {0, 0, 0x80, 0x800, 0x10000};
    const bool in_range = cp >= kMinimum[length] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    if (!in_range) return Decoded{lead, 1, false};
    return Decoded{cp, length, true};
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

bool is_invisible(char32_t cp) {
    return cp == 0x00AD || cp == 0x034F || cp == 0x061C || cp == 0x180E ||
           (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) ||
           (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF || cp == 0xE0001 || cp == 0xE007F;
}

bool is_space(char32_t cp) {
    return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
           cp == 0x205F || cp == 0x3000;
}

// Han ideographs and CJK punctuation: text where words are not separated by spaces.
bool is_cjk(char32_t cp) {
    return (cp >= 0x3001 && cp <= 0x303F) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0xF900 && cp <= 0xFAFF) ||
           (cp >= 0x20000 && cp <= 0x2FA1F);
}

// Look-alikes folded to the ASCII they stand for; other characters unchanged.
char32_t fold(char32_t cp) {
    if (cp >= 0xFF01 && cp <= 0xFF5E) return cp - 0xFEE0;     // fullwidth ASCII
    if (cp >= 0xE0020 && cp <= 0xE007E) return cp - 0xE0000;  // tag characters
    if (cp == 0x2018 || cp == 0x2019) return '\'';
    if (cp == 0x201C || cp == 0x201D) return '"';
    return cp;
}

}  // namespace

NormalizedText normalize_for_matching(std::string_view text) {
    NormalizedText out;
    out.text.reserve(text.size());
    out.source.reserve(text.size() + 1);
    bool pending_space = false;
    size_t space_at = 0;
    char32_t previous = 0;  // the last character written
    for (size_t at = 0; at < text.size();) {
        const Decoded d = decode_utf8(text, at);
        const size_t from = at;
        at += d.length;
        if (!d.valid) {
            out.text += text[from];
            out.source.push_back(from);
            previous = 0;
            continue;
        }
        const char32_t cp = fold(d.code_point);
        if (is_invisible(cp)) continue;
        if (is_space(cp)) {
            if (!pending_space) space_at = from;
            pending_space = true;
            continue;
        }
        if (pending_space && !(is_cjk(previous) && is_cjk(cp))) {
            out.text += ' ';
            out.source.push_back(space_at);
        }
        pending_space = false;
        append_utf8(out.text, cp);
        out.source.resize(out.text.size(), from);
        previous = cp;
    }
    if (pending_space) {
        out.text += ' ';
        out.source.push_back(space_at);
    }
    out.source.push_back(text.size());
    return out;
}

}  // namespace citadel::gateway
