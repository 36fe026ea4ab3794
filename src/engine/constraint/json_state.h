// A byte-at-a-time recognizer for one JSON object (RFC 8259), small enough to copy per byte.
//
// The constraint walks the vocabulary's byte trie with copies of this state, so it is a plain
// 16-byte struct: the stack of open containers is a bitmask (bit d: the container at depth d
// is an array), never a heap structure.
//
// Beyond the grammar, it bounds what a random model could otherwise stretch without end:
//   - depth: at most kMaxJsonDepth open containers;
//   - whitespace outside strings: before the object at most kLeadingWhitespace bytes; inside
//     it a run of at most 1 + 4 * min(depth, 4) bytes (depth: open containers) with at most
//     one '\n' and one '\r', which admits pretty-printing ("\n" or "\r\n", then the indent)
//     at indent 4 to depth 4 and at indent 2 to depth 8, but no blank lines;
//   - numbers stay finite as doubles (strict parsers reject overflow): at most
//     kMaxIntegerDigits digits before the point and kMaxExponentDigits in the exponent.
// Strings accept any valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF) except raw
// control characters; escapes are \" \\ \/ \b \f \n \r \t and \uXXXX, where a high surrogate
// must be followed by an escaped low surrogate and a lone low surrogate is refused.
//
// needed() is the length of the shortest byte string that completes the object from here;
// from every unfinished state one byte lowers it by exactly one (the constraint's closing
// guarantee rests on that).
#pragma once

#include <cstdint>

namespace citadel::constraint {

inline constexpr int kMaxJsonDepth = 32;
inline constexpr int kLeadingWhitespace = 2;
inline constexpr int kMaxIntegerDigits = 200;
inline constexpr int kMaxExponentDigits = 2;

enum class JsonMode : uint8_t {
    kStart,         // before the object's '{'
    kObjectFirst,   // after '{': a key or '}'
    kObjectKey,     // after ',' in an object: a key
    kColon,         // after a key
    kValue,         // after ':' or after ',' in an array
    kArrayFirst,    // after '[': a value or ']'
    kAfterValue,    // ',' or the container's closer
    kString,        // inside a string, between characters
    kEscape,        // after '\'
    kUnicode,       // inside \uXXXX: aux digits read, their value in unit
    kLowBackslash,  // after a high surrogate escape: '\' of the low one
    kLowU,          // ... its 'u'
    kUtf8,          // inside a multi-byte character: aux bytes left, next in [lo, hi]
    kLiteral,       // true / false / null: which in literal, aux bytes matched
    kNumMinus,      // '-'
    kNumZero,       // a leading 0
    kNumInt,        // integer digits (aux counts them)
    kNumDot,        // '.'
    kNumFrac,       // fraction digits
    kNumExp,        // 'e' or 'E'
    kNumExpSign,    // exponent sign
    kNumExpDigits,  // exponent digits (aux counts them)
    kDone,          // the object is closed
};

struct JsonState {
    uint32_t arrays = 0;  // bit d: the container at depth d is an array (else an object)
    uint16_t unit = 0;    // kUnicode: the hex digits read so far
    uint8_t depth = 0;    // open containers
    JsonMode mode = JsonMode::kStart;
    uint8_t ws_run = 0;     // whitespace bytes in a row (outside strings)
    uint8_t ws_breaks = 0;  // ... among them: bit 0 a '\n', bit 1 a '\r'
    uint8_t aux = 0;        // per mode, see JsonMode
    uint8_t lo = 0, hi = 0;
    uint8_t literal = 0;  // kLiteral: 0 true, 1 false, 2 null
    bool key = false;     // the string being read is an object key
    bool low = false;     // kUnicode: reading the low half of a surrogate pair

    // Consumes one byte; false (state unspecified) if the grammar or a bound forbids it.
    bool step(uint8_t b);
    // Bytes still needed at the least to close the object; 0 once done.
    int needed() const;
    bool done() const { return mode == JsonMode::kDone; }
    // Inside a string between characters: any run of string-safe bytes keeps it here with
    // needed() unchanged (the constraint takes whole vocabulary subtrees at once then).
    bool in_string_body() const { return mode == JsonMode::kString; }

  private:
    bool structural(uint8_t b);
    bool value_start(uint8_t b);
    bool open(bool array);
    bool close(uint8_t b);
    bool string_byte(uint8_t b);
    bool escape_byte(uint8_t b);
    bool unicode_byte(uint8_t b);
    bool number_byte(uint8_t b);
    bool end_number(uint8_t b);
    int string_rest() const;  // needed() from between two characters of this string
};

// Whether bytes[0, n) are whole valid UTF-8 characters allowed raw inside a JSON string
// (no control characters, '"' or '\').
bool string_safe(const uint8_t* bytes, int n);

}  // namespace citadel::constraint
