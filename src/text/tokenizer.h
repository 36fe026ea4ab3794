// A tokenizer: text -> token ids and back, byte-exact with the reference implementations.
// Built from GGUF metadata (tokenizer.ggml.*) or a Hugging Face tokenizer.json; the
// pipeline is normalizers -> pre-tokenizers -> model, after special tokens written in the
// text have been split out (control tokens only when asked: EncodeOptions::parse_special).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"
#include "text/regex.h"
#include "text/tokenizer/models.h"
#include "text/tokenizer/pipeline.h"

namespace citadel::text {

// As GGUF numbers them (tokenizer.ggml.token_type).
enum class TokenKind : uint8_t {
    kNormal = 1,
    kUnknown = 2,
    kControl = 3,
    kUserDefined = 4,
    kUnused = 5,
    kByte = 6
};

// How token pieces turn back into bytes.
enum class DecodeStyle {
    kByteLevel,      // GPT-2 alphabet -> bytes
    kSentencePiece,  // "▁" -> space, <0xNN> -> byte
    kWordPiece,      // "##" continues a word, other tokens start one (after a space)
};

struct EncodeOptions {
    bool add_special = false;    // BOS/EOS (or CLS/SEP) as the model's configuration says
    bool parse_special = false;  // control tokens written in the text become their ids
    // Byte ranges of the text (e.g. user content inside a rendered chat template) where
    // control tokens are never parsed, even with parse_special.
    std::span<const Span> literal = {};
};

struct DecodeOptions {
    bool skip_special = true;  // control tokens decode to nothing
};

struct SpecialIds {
    std::optional<int32_t> bos, eos, eot, eom, unk, pad, sep, cls, mask;
};

// A token matched literally in the text before normalization.
struct AddedToken {
    std::string text;
    int32_t id = 0;
    bool special = false;  // true: only with parse_special
    bool lstrip = false, rstrip = false;
};

// Everything a loader assembles.
struct TokenizerParts {
    std::string source;  // file or directory, for messages
    std::vector<std::string> pieces;
    std::vector<TokenKind> kinds;
    std::shared_ptr<PieceIndex> index;
    std::vector<std::unique_ptr<Normalizer>> normalizers;
    std::vector<std::unique_ptr<PreTokenizer>> pre_tokenizers;
    std::unique_ptr<TokenModel> model;
    std::vector<AddedToken> added;
    DecodeStyle decode_style = DecodeStyle::kByteLevel;
    bool strip_leading_space = false;  // decoding drops one space at the very start
    SpecialIds ids;
    std::vector<int32_t> prefix, suffix;  // added around the text with add_special
    std::vector<int32_t> end_of_generation;
    // Hugging Face's non-legacy Llama rule: "▁" goes before the whole text (not before every
    // section), and is dropped again when a special token follows it directly.
    bool llama_prefix_once = false;
};

class Tokenizer {
  public:
    explicit Tokenizer(TokenizerParts parts);

    std::vector<int32_t> encode(std::string_view text, const EncodeOptions& opt = {}) const;
    std::string decode(std::span<const int32_t> ids, const DecodeOptions& opt = {}) const;
    // The bytes one token stands for (without the leading-space rule of decode()).
    std::string token_bytes(int32_t id, bool render_special = false) const;

    size_t size() const { return p_.pieces.size(); }
    const std::string& piece(int32_t id) const { return p_.pieces[size_t(id)]; }
    TokenKind kind(int32_t id) const { return p_.kinds[size_t(id)]; }
    std::optional<int32_t> find(std::string_view piece) const;
    const SpecialIds& ids() const { return p_.ids; }
    bool strips_leading_space() const { return p_.strip_leading_space; }
    bool is_end_of_generation(int32_t id) const;
    const std::vector<int32_t>& end_of_generation() const { return p_.end_of_generation; }
    const std::string& source() const { return p_.source; }

  private:
    struct Section {
        std::string_view text;
        int32_t token = -1;  // >= 0: an added token
    };
    std::vector<Section> split_added(std::string_view text, const EncodeOptions& opt) const;
    void encode_text(std::string_view text, bool first, std::vector<int32_t>& out) const;

    TokenizerParts p_;
    std::vector<std::vector<size_t>> added_by_first_byte_;  // indices into p_.added, longest first
};

// From the tokenizer.ggml.* keys of a GGUF file (a model or a vocab-only file).
Result<std::shared_ptr<const Tokenizer>> load_tokenizer(const gguf::File& file);
// From a Hugging Face directory: tokenizer.json (+ tokenizer_config.json).
Result<std::shared_ptr<const Tokenizer>> load_hf_tokenizer(const std::string& dir);
// The same from the files' contents (config_json may be empty).
Result<std::shared_ptr<const Tokenizer>> load_hf_tokenizer_json(const std::string& tokenizer_json,
                                                                const std::string& config_json,
                                                                const std::string& name);

}  // namespace citadel::text
