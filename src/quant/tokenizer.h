// The tokenizer metadata (tokenizer.ggml.*) of a synthesized model: a made-up vocabulary of
// the right size, or a real Hugging Face tokenizer.json converted to GGUF's form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"

namespace citadel::quant {

// GGUF token types (tokenizer.ggml.token_type).
enum TokenType : int32_t {
    kTokenNormal = 1,
    kTokenUnknown = 2,
    kTokenControl = 3,
    kTokenUserDefined = 4,
    kTokenUnused = 5,
    kTokenByte = 6,
};

struct TokenizerData {
    std::string model;  // tokenizer.ggml.model: "gpt2" (byte-level BPE) or "llama" (SentencePiece)
    std::string pre;    // tokenizer.ggml.pre (byte-level BPE only): "qwen2", "llama-bpe", ...
    std::vector<std::string> tokens;  // [n_tokens]
    std::vector<int32_t> types;       // [n_tokens] TokenType
    std::vector<float> scores;        // [n_tokens] or empty
    std::vector<std::string> merges;  // "left right", by rank
    std::optional<int64_t> bos, eos, pad, unk;
    std::optional<bool> add_bos;
    std::string chat_template;  // empty: none
};

// A byte-level BPE vocabulary of n_vocab tokens that llama.cpp loads: the 256 byte tokens,
// two-character tokens with their merges, filler tokens, and "<|endoftext|>" as BOS/EOS.
TokenizerData synthetic_tokenizer(int64_t n_vocab, const std::string& pre);

// Reads dir/tokenizer.json (+ tokenizer_config.json when present). `default_pre` names the
// pre-tokenizer when the vocabulary does not reveal it.
Result<TokenizerData> load_hf_tokenizer(const std::string& dir, const std::string& default_pre);

// Pads the vocabulary to n_vocab with unused "[PAD{i}]" tokens; more tokens than n_vocab is
// an error.
Status pad_vocab(TokenizerData& tok, int64_t n_vocab);

// Writes the tokenizer.ggml.* keys (and tokenizer.chat_template).
void add_tokenizer_metadata(gguf::Writer& writer, const TokenizerData& tok);

}  // namespace citadel::quant
