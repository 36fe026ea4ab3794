// The stages a tokenizer runs text through, as Hugging Face's tokenizers library names
// them: normalizers rewrite the text, pre-tokenizers cut it into pieces (and may re-encode
// them, as GPT-2's byte-level alphabet does), a model turns each piece into token ids.
// Loaders (GGUF metadata, tokenizer.json) assemble a pipeline from these parts.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace citadel::text {

class Normalizer {
  public:
    virtual ~Normalizer() = default;
    virtual std::string apply(std::string s) const = 0;
};

// Where a piece sits in the input: Metaspace's prepend scheme "first" needs it.
struct PieceContext {
    bool first_section = true;  // the first text section (before any special token)
};

class PreTokenizer {
  public:
    virtual ~PreTokenizer() = default;
    virtual void apply(std::vector<std::string>& pieces, const PieceContext& ctx) const = 0;
};

class TokenModel {
  public:
    virtual ~TokenModel() = default;
    // Appends the ids for one pre-tokenized piece.
    virtual void encode(std::string_view piece, std::vector<int32_t>& out) const = 0;
};

}  // namespace citadel::text
