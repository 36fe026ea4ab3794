// UTF-8 and Unicode helpers for the text layer: code point iteration, normalization forms
// and character classes (ICU underneath), and the incomplete-tail test that streaming
// detokenization needs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace citadel::text {

// Decodes the code point at s[i] and advances i; an invalid sequence yields U+FFFD and
// advances one byte.
uint32_t next_code_point(std::string_view s, size_t& i);
void append_utf8(uint32_t cp, std::string& out);
std::string utf8_of(uint32_t cp);
std::vector<uint32_t> code_points(std::string_view s);
// Byte length of the UTF-8 sequence that starts with this byte (1 for invalid bytes).
size_t utf8_sequence_length(unsigned char lead);
// How many bytes at the end of s form an incomplete (but so far valid) UTF-8 sequence.
size_t incomplete_utf8_tail(std::string_view s);
// s with every invalid sequence replaced by U+FFFD.
std::string sanitize_utf8(std::string_view s);

enum class NormalForm { kNFC, kNFD, kNFKC, kNFKD };
std::string normalize(std::string_view s, NormalForm form);
std::string to_lower(std::string_view s);  // full Unicode lower-casing
uint32_t simple_lower(uint32_t cp);        // one-to-one mapping

bool is_whitespace(uint32_t cp);   // White_Space property
bool is_control(uint32_t cp);      // general category Cc (not tab/newline/cr), Cf
bool is_punctuation(uint32_t cp);  // general category P*
bool is_symbol(uint32_t cp);       // general category S*
bool is_mark(uint32_t cp);         // general category M*
bool is_cjk_ideograph(uint32_t cp);

}  // namespace citadel::text
