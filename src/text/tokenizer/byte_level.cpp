#include "text/tokenizer/byte_level.h"

#include <array>
#include <unordered_map>

#include "text/unicode.h"

namespace citadel::text {
namespace {

bool printable(uint32_t b) {
    return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

struct Tables {
    std::array<std::string, 256> encoded;  // byte -> UTF-8 of its code point
    std::array<int16_t, 512> decoded{};    // code point (< 512) -> byte, or -1
    Tables() {
        decoded.fill(-1);
        uint32_t next = 256;
        for (uint32_t b = 0; b < 256; ++b) {
            const uint32_t cp = printable(b) ? b : next++;
            encoded[b] = utf8_of(cp);
            decoded[cp] = int16_t(b);
        }
    }
};

const Tables& tables() {
    static const Tables t;
    return t;
}

}  // namespace

std::string bytes_to_byte_level(std::string_view bytes) {
    const Tables& t = tables();
    std::string out;
    out.reserve(bytes.size() * 2);
    for (char c : bytes) out += t.encoded[static_cast<unsigned char>(c)];
    return out;
}

std::string byte_level_to_bytes(std::string_view text) {
    const Tables& t = tables();
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        const size_t start = i;
        const uint32_t cp = next_code_point(text, i);
        if (cp < 512 && t.decoded[cp] >= 0) {
            out += char(t.decoded[cp]);
        } else {
            out.append(text.substr(start, i - start));
        }
    }
    return out;
}

}  // namespace citadel::text
