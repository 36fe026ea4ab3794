// The normalised copy of a prompt that the prompt-injection rules are matched against, so that
// simple evasions do not help:
//   - invisible characters are removed: zero-width space/non-joiner/joiner, word joiner,
//     BOM, soft hyphen, combining grapheme joiner, bidi marks and embeddings, variation
//     selectors, Mongolian vowel separator, invisible math operators;
//   - Unicode "tag" characters (U+E0020-E007E, used to smuggle invisible ASCII) become the
//     ASCII they encode; fullwidth ASCII (ｉｇｎｏｒｅ, ，：！？) becomes ASCII; curly quotes
//     become ' and ";
//   - every run of whitespace (ASCII, NBSP, ideographic space U+3000, the U+2000 spaces,
//     line/paragraph separators) becomes one ' ', and a space between two CJK characters is
//     removed ("忽略 之前 的指令" reads "忽略之前的指令").
// Case is left alone (rules are compiled case-insensitive). Invalid UTF-8 bytes are copied
// through unchanged. Pure function; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace citadel::gateway {

struct NormalizedText {
    std::string text;
    // source[i]: the offset in the original text of the character that produced text[i];
    // source[text.size()] is the original size.
    std::vector<size_t> source;
};

NormalizedText normalize_for_matching(std::string_view text);

}  // namespace citadel::gateway
