#include "engine/constraint/json_state.h"

#include <algorithm>

namespace citadel::constraint {

namespace {

constexpr const char* kLiterals[3] = {"true", "false", "null"};
constexpr uint8_t kLiteralLengths[3] = {4, 5, 4};

bool is_whitespace(uint8_t b) {
    return b == ' ' || b == '\n' || b == '\t' || b == '\r';
}
bool is_digit(uint8_t b) {
    return b >= '0' && b <= '9';
}
int hex_value(uint8_t b) {
    if (b >= '0' && b <= '9') return b - '0';
    if (b >= 'a' && b <= 'f') return b - 'a' + 10;
    if (b >= 'A' && b <= 'F') return b - 'A' + 10;
    return -1;
}

// The continuation bytes a UTF-8 lead byte needs and the range of the first of them
// (narrower than 80..BF where that excludes overlongs, surrogates and > U+10FFFF); -1 if
// `b` cannot start a multi-byte character.
int utf8_lead(uint8_t b, uint8_t& lo, uint8_t& hi) {
    lo = 0x80;
    hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) return 1;
    if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0) lo = 0xA0;
        if (b == 0xED) hi = 0x9F;
        return 2;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0) lo = 0x90;
        if (b == 0xF4) hi = 0x8F;
        return 3;
    }
    return -1;
}

int whitespace_limit(int depth) {
    return depth == 0 ? kLeadingWhitespace : 1 + 4 * std::min(depth, 4);
}

}  // namespace

bool string_safe(const uint8_t* bytes, int n) {
    int i = 0;
    while (i < n) {
        const uint8_t b = bytes[i++];
        if (b < 0x80) {
            if (b < 0x20 || b == '"' || b == '\\') return false;
            continue;
        }
        uint8_t lo, hi;
        const int more = utf8_lead(b, lo, hi);
        if (more < 0 || i + more > n) return false;
        for (int k = 0; k < more; ++k, lo = 0x80, hi = 0xBF) {
            if (bytes[i] < lo || bytes[i] > hi) return false;
            ++i;
        }
    }
    return true;
}

bool JsonState::step(uint8_t b) {
    switch (mode) {
        case JsonMode::kStart:
        case JsonMode::kObjectFirst:
        case JsonMode::kObjectKey:
        case JsonMode::kColon:
        case JsonMode::kValue:
        case JsonMode::kArrayFirst:
        case JsonMode::kAfterValue:
            return structural(b);
        case JsonMode::kString:
            return string_byte(b);
        case JsonMode::kEscape:
            return escape_byte(b);
        case JsonMode::kUnicode:
            return unicode_byte(b);
        case JsonMode::kLowBackslash:
            mode = JsonMode::kLowU;
            return b == '\\';
        case JsonMode::kLowU:
            mode = JsonMode::kUnicode;
            low = true;
            aux = 0;
            unit = 0;
            return b == 'u';
        case JsonMode::kUtf8:
            if (b < lo || b > hi) return false;
            lo = 0x80;
            hi = 0xBF;
            if (--aux == 0) mode = JsonMode::kString;
            return true;
        case JsonMode::kLiteral:
            if (uint8_t(kLiterals[literal][aux]) != b) return false;
            if (++aux == kLiteralLengths[literal]) mode = JsonMode::kAfterValue;
            return true;
        case JsonMode::kDone:
            return false;
        default:
            return number_byte(b);
    }
}

// Whitespace, then what the position between tokens of the grammar allows.
bool JsonState::structural(uint8_t b) {
    if (is_whitespace(b)) {
        const uint8_t line_break = b == '\n' ? 1 : b == '\r' ? 2 : 0;
        if (ws_run >= whitespace_limit(depth) || (ws_breaks & line_break) != 0) return false;
        ws_breaks |= line_break;
        ++ws_run;
        return true;
    }
    ws_run = 0;
    ws_breaks = 0;
    const bool in_array = depth > 0 && ((arrays >> (depth - 1)) & 1u) != 0;
    switch (mode) {
        case JsonMode::kStart:
            return b == '{' && open(false);
        case JsonMode::kObjectFirst:
            if (b == '}') return close(b);
            [[fallthrough]];
        case JsonMode::kObjectKey:
            if (b != '"') return false;
            mode = JsonMode::kString;
            key = true;
            return true;
        case JsonMode::kColon:
            mode = JsonMode::kValue;
            return b == ':';
        case JsonMode::kArrayFirst:
            if (b == ']') return close(b);
            return value_start(b);
        case JsonMode::kValue:
            return value_start(b);
        case JsonMode::kAfterValue:
            if (b == ',') {
                mode = in_array ? JsonMode::kValue : JsonMode::kObjectKey;
                return true;
            }
            return close(b);
        default:
            return false;
    }
}

bool JsonState::value_start(uint8_t b) {
    aux = 0;
    switch (b) {
        case '{':
            return open(false);
        case '[':
            return open(true);
        case '"':
            mode = JsonMode::kString;
            key = false;
            return true;
        case 't':
        case 'f':
        case 'n':
            mode = JsonMode::kLiteral;
            literal = b == 't' ? 0 : b == 'f' ? 1 : 2;
            aux = 1;
            return true;
        case '-':
            mode = JsonMode::kNumMinus;
            return true;
        case '0':
            mode = JsonMode::kNumZero;
            return true;
        default:
            if (b < '1' || b > '9') return false;
            mode = JsonMode::kNumInt;
            aux = 1;
            return true;
    }
}

bool JsonState::open(bool array) {
    if (depth >= kMaxJsonDepth) return false;
    if (array) {
        arrays |= 1u << depth;
    } else {
        arrays &= ~(1u << depth);
    }
    ++depth;
    mode = array ? JsonMode::kArrayFirst : JsonMode::kObjectFirst;
    return true;
}

// `b` must be the closer of the innermost container.
bool JsonState::close(uint8_t b) {
    if (depth == 0) return false;
    const bool array = ((arrays >> (depth - 1)) & 1u) != 0;
    if (b != (array ? ']' : '}')) return false;
    --depth;
    mode = depth == 0 ? JsonMode::kDone : JsonMode::kAfterValue;
    return true;
}

bool JsonState::string_byte(uint8_t b) {
    if (b == '"') {
        mode = key ? JsonMode::kColon : JsonMode::kAfterValue;
        return true;
    }
    if (b == '\\') {
        mode = JsonMode::kEscape;
        return true;
    }
    if (b < 0x80) return b >= 0x20;
    const int more = utf8_lead(b, lo, hi);
    if (more < 0) return false;
    mode = JsonMode::kUtf8;
    aux = uint8_t(more);
    return true;
}

bool JsonState::escape_byte(uint8_t b) {
    switch (b) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
            mode = JsonMode::kString;
            return true;
        case 'u':
            mode = JsonMode::kUnicode;
            low = false;
            aux = 0;
            unit = 0;
            return true;
        default:
            return false;
    }
}

// One hex digit of \uXXXX. The first two digits decide whether the unit is a surrogate:
// D8..DB starts a high one (a low one must follow), DC..DF is a low one (only after a high).
bool JsonState::unicode_byte(uint8_t b) {
    const int h = hex_value(b);
    if (h < 0) return false;
    if (low && ((aux == 0 && h != 0xD) || (aux == 1 && h < 0xC))) return false;
    if (!low && aux == 1 && unit == 0xD && h >= 0xC) return false;
    unit = uint16_t(unit * 16 + h);
    if (++aux < 4) return true;
    const bool high = !low && unit >= 0xD800 && unit <= 0xDBFF;
    mode = high ? JsonMode::kLowBackslash : JsonMode::kString;
    return true;
}

bool JsonState::number_byte(uint8_t b) {
    const bool digit = is_digit(b);
    switch (mode) {
        case JsonMode::kNumMinus:
            if (!digit) return false;
            mode = b == '0' ? JsonMode::kNumZero : JsonMode::kNumInt;
            aux = 1;
            return true;
        case JsonMode::kNumInt:
            if (digit) return ++aux <= kMaxIntegerDigits;
            [[fallthrough]];
        case JsonMode::kNumZero:
            if (b == '.') {
                mode = JsonMode::kNumDot;
                return true;
            }
            [[fallthrough]];
        case JsonMode::kNumFrac:
            if (digit && mode == JsonMode::kNumFrac) return true;
            if (b == 'e' || b == 'E') {
                mode = JsonMode::kNumExp;
                return true;
            }
            return end_number(b);
        case JsonMode::kNumDot:
            mode = JsonMode::kNumFrac;
            return digit;
        case JsonMode::kNumExp:
            if (b == '+' || b == '-') {
                mode = JsonMode::kNumExpSign;
                return true;
            }
            [[fallthrough]];
        case JsonMode::kNumExpSign:
            mode = JsonMode::kNumExpDigits;
            aux = 1;
            return digit;
        case JsonMode::kNumExpDigits:
            if (digit) return ++aux <= kMaxExponentDigits;
            return end_number(b);
        default:
            return false;
    }
}

// A byte that cannot continue a finished number is the next token of the container.
bool JsonState::end_number(uint8_t b) {
    mode = JsonMode::kAfterValue;
    ws_run = 0;
    ws_breaks = 0;
    return structural(b);
}

int JsonState::string_rest() const {
    return (key ? 3 : 1) + depth;  // '"', then for a key ":0", then one closer per container
}

int JsonState::needed() const {
    switch (mode) {
        case JsonMode::kStart:
            return 2;
        case JsonMode::kObjectKey:
            return 4 + depth;  // "":0
        case JsonMode::kColon:
            return 2 + depth;  // :0
        case JsonMode::kValue:
        case JsonMode::kNumMinus:
        case JsonMode::kNumDot:
        case JsonMode::kNumExp:
        case JsonMode::kNumExpSign:
            return 1 + depth;  // one digit (a value)
        case JsonMode::kString:
            return string_rest();
        case JsonMode::kEscape:
            return 1 + string_rest();
        case JsonMode::kUnicode: {
            // Once the first two digits make a high surrogate, a low one (\uDC00) must follow.
            const bool high = !low && aux >= 2 && (unit >> (4 * (aux - 2))) >= 0xD8 &&
                              (unit >> (4 * (aux - 2))) <= 0xDB;
            return (4 - aux) + (high ? 6 : 0) + string_rest();
        }
        case JsonMode::kLowBackslash:
            return 6 + string_rest();
        case JsonMode::kLowU:
            return 5 + string_rest();
        case JsonMode::kUtf8:
            return aux + string_rest();
        case JsonMode::kLiteral:
            return kLiteralLengths[literal] - aux + depth;
        case JsonMode::kDone:
            return 0;
        default:  // kObjectFirst, kArrayFirst, kAfterValue, numbers that may end here
            return depth;
    }
}

}  // namespace citadel::constraint
