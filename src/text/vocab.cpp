#include "text/vocab.h"

namespace citadel {
namespace {

constexpr int32_t kTypeControl = 3;
constexpr int32_t kTypeByte = 6;

// Appends the UTF-8 bytes of code point cp.
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

// Decodes one code point at s[i], advancing i; invalid sequences give U+FFFD.
uint32_t next_code_point(const std::string& s, size_t& i) {
    const auto c = static_cast<unsigned char>(s[i]);
    int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + size_t(len) > s.size()) {
        ++i;
        return 0xfffd;
    }
    uint32_t cp = len == 1 ? c : c & (0x7f >> len);
    for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    i += size_t(len);
    return cp;
}

// GPT-2's byte-level alphabet: printable bytes map to themselves, the others to U+0100 up.
int byte_of_code_point(uint32_t cp) {
    auto printable = [](uint32_t b) {
        return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    };
    if (cp < 256 && printable(cp)) return int(cp);
    uint32_t n = 0;
    for (uint32_t b = 0; b < 256; ++b) {
        if (printable(b)) continue;
        if (cp == 256 + n) return int(b);
        ++n;
    }
    return -1;
}

std::string decode_byte_level(const std::string& piece) {
    std::string out;
    for (size_t i = 0; i < piece.size();) {
        const uint32_t cp = next_code_point(piece, i);
        const int b = byte_of_code_point(cp);
        if (b >= 0) {
            out += char(b);
        } else {
            append_utf8(cp, out);
        }
    }
    return out;
}

std::string decode_sentencepiece(const std::string& piece, int32_t type) {
    if (type == kTypeByte && piece.size() == 6 && piece.rfind("<0x", 0) == 0) {
        return std::string(1, char(std::stoi(piece.substr(3, 2), nullptr, 16)));
    }
    std::string out;
    for (size_t i = 0; i < piece.size(); ++i) {
        if (piece.compare(i, 3, "\xe2\x96\x81") == 0) {  // U+2581 LOWER ONE EIGHTH BLOCK
            out += ' ';
            i += 2;
        } else {
            out += piece[i];
        }
    }
    return out;
}

std::optional<int32_t> token_id(const gguf::File& f, const char* key, size_t n_vocab) {
    const std::optional<int64_t> v = f.get_int(key);
    if (!v || *v < 0 || size_t(*v) >= n_vocab) return std::nullopt;
    return int32_t(*v);
}

}  // namespace

std::string Vocab::token_bytes(int32_t token) const {
    if (token < 0 || size_t(token) >= pieces.size()) return {};
    const int32_t type = token_types.empty() ? 1 : token_types[size_t(token)];
    if (type == kTypeControl) return {};
    const std::string& piece = pieces[size_t(token)];
    return kind == VocabKind::kByteLevel ? decode_byte_level(piece)
                                         : decode_sentencepiece(piece, type);
}

std::string Vocab::detokenize(const std::vector<int32_t>& tokens) const {
    std::string out;
    for (int32_t t : tokens) out += token_bytes(t);
    return out;
}

Result<Vocab> read_vocab(const gguf::File& f) {
    const gguf::Value* tokens = f.find("tokenizer.ggml.tokens");
    const gguf::Array* arr = tokens ? tokens->as_array() : nullptr;
    if (arr == nullptr || arr->elem_type != gguf::ValueType::STRING) {
        return Status::error(f.path() + ": no tokenizer.ggml.tokens string array");
    }
    Vocab v;
    const std::string model = f.get_string("tokenizer.ggml.model").value_or("llama");
    v.kind = model == "gpt2" ? VocabKind::kByteLevel : VocabKind::kSentencePiece;
    v.pieces.reserve(arr->items.size());
    for (const gguf::Value& item : arr->items) v.pieces.push_back(*item.as_string());
    if (const gguf::Value* types = f.find("tokenizer.ggml.token_type")) {
        if (const gguf::Array* ta = types->as_array(); ta && ta->items.size() == v.pieces.size()) {
            for (const gguf::Value& item : ta->items) {
                v.token_types.push_back(int32_t(item.as_int().value_or(1)));
            }
        }
    }
    v.bos = token_id(f, "tokenizer.ggml.bos_token_id", v.pieces.size());
    v.eos = token_id(f, "tokenizer.ggml.eos_token_id", v.pieces.size());
    v.eot = token_id(f, "tokenizer.ggml.eot_token_id", v.pieces.size());
    return v;
}

}  // namespace citadel
