// GPT-2's byte-level alphabet: each of the 256 byte values is written as one printable code
// point (printable Latin-1 bytes as themselves, the rest from U+0100 on), so that any byte
// string becomes text that a BPE vocabulary can hold.
#pragma once

#include <string>
#include <string_view>

namespace citadel::text {

std::string bytes_to_byte_level(std::string_view bytes);
// The inverse; code points outside the alphabet are kept as their UTF-8.
std::string byte_level_to_bytes(std::string_view text);

}  // namespace citadel::text
