#include "text/unicode.h"

#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

namespace citadel::text {

size_t utf8_sequence_length(unsigned char c) {
    if (c < 0x80) return 1;
    if ((c >> 5) == 6) return 2;
    if ((c >> 4) == 14) return 3;
    if ((c >> 3) == 30) return 4;
    return 1;
}

uint32_t next_code_point(std::string_view s, size_t& i) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = utf8_sequence_length(c);
    if (c >= 0x80 && len == 1) {
        ++i;
        return 0xfffd;
    }
    uint32_t cp = len == 1 ? c : c & (0x7fu >> len);
    for (size_t k = 1; k < len; ++k) {
        if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) {
            i += k;  // a truncated sequence is one replacement character (its maximal subpart)
            return 0xfffd;
        }
        cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    }
    static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        ++i;  // overlong form, surrogate or beyond Unicode: not a character
        return 0xfffd;
    }
    i += len;
    return cp;
}

void append_utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xc0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += char(0xe0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3f));
        out += char(0x80 | (cp & 0x3f));
    } else {
        out += char(0xf0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3f));
        out += char(0x80 | ((cp >> 6) & 0x3f));
        out += char(0x80 | (cp & 0x3f));
    }
}

std::string utf8_of(uint32_t cp) {
    std::string s;
    append_utf8(cp, s);
    return s;
}

std::vector<uint32_t> code_points(std::string_view s) {
    std::vector<uint32_t> cps;
    cps.reserve(s.size());
    for (size_t i = 0; i < s.size();) cps.push_back(next_code_point(s, i));
    return cps;
}

size_t incomplete_utf8_tail(std::string_view s) {
    // Look back at most 3 bytes for a lead byte whose sequence runs past the end.
    for (size_t back = 1; back <= 3 && back <= s.size(); ++back) {
        const auto c = static_cast<unsigned char>(s[s.size() - back]);
        if ((c & 0xc0) == 0x80) continue;  // continuation byte: keep looking for the lead
        const size_t len = utf8_sequence_length(c);
        return (c >= 0xc0 && len > back) ? back : 0;
    }
    return 0;
}

std::string sanitize_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const size_t start = i;
        const uint32_t cp = next_code_point(s, i);
        if (cp == 0xfffd && !(i - start == 3 && s.substr(start, 3) == "\xef\xbf\xbd")) {
            out += "\xef\xbf\xbd";
        } else {
            out.append(s.substr(start, i - start));
        }
    }
    return out;
}

namespace {

const icu::Normalizer2* normalizer_for(NormalForm form) {
    UErrorCode err = U_ZERO_ERROR;
    switch (form) {
        case NormalForm::kNFC:
            return icu::Normalizer2::getNFCInstance(err);
        case NormalForm::kNFD:
            return icu::Normalizer2::getNFDInstance(err);
        case NormalForm::kNFKC:
            return icu::Normalizer2::getNFKCInstance(err);
        case NormalForm::kNFKD:
            return icu::Normalizer2::getNFKDInstance(err);
    }
    return nullptr;
}

bool is_ascii(std::string_view s) {
    for (char c : s) {
        if (static_cast<unsigned char>(c) >= 0x80) return false;
    }
    return true;
}

}  // namespace

std::string normalize(std::string_view s, NormalForm form) {
    if (is_ascii(s)) return std::string(s);  // ASCII is invariant under every form
    const icu::Normalizer2* n = normalizer_for(form);
    UErrorCode err = U_ZERO_ERROR;
    const icu::UnicodeString in =
        icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), int32_t(s.size())));
    const icu::UnicodeString out = n ? n->normalize(in, err) : in;
    std::string result;
    (U_SUCCESS(err) ? out : in).toUTF8String(result);
    return result;
}

std::string to_lower(std::string_view s) {
    if (is_ascii(s)) {
        std::string out(s);
        for (char& c : out) {
            if (c >= 'A' && c <= 'Z') c = char(c + 32);
        }
        return out;
    }
    icu::UnicodeString u =
        icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), int32_t(s.size())));
    u.toLower(icu::Locale::getRoot());
    std::string result;
    u.toUTF8String(result);
    return result;
}

uint32_t simple_lower(uint32_t cp) {
    return uint32_t(u_tolower(UChar32(cp)));
}

bool is_whitespace(uint32_t cp) {
    return u_hasBinaryProperty(UChar32(cp), UCHAR_WHITE_SPACE);
}

bool is_control(uint32_t cp) {
    if (cp == '\t' || cp == '\n' || cp == '\r') return false;
    const int8_t t = u_charType(UChar32(cp));
    return t == U_CONTROL_CHAR || t == U_FORMAT_CHAR;
}

bool is_punctuation(uint32_t cp) {
    return (U_GET_GC_MASK(UChar32(cp)) & U_GC_P_MASK) != 0;
}

bool is_symbol(uint32_t cp) {
    return (U_GET_GC_MASK(UChar32(cp)) & U_GC_S_MASK) != 0;
}

bool is_mark(uint32_t cp) {
    return (U_GET_GC_MASK(UChar32(cp)) & U_GC_M_MASK) != 0;
}

bool is_cjk_ideograph(uint32_t cp) {
    return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
           (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
           (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
           (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace citadel::text
