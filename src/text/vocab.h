// The token vocabulary stored in a GGUF file (tokenizer.ggml.*) and detokenization.
// Tokenization (BPE, SentencePiece) builds on this in the text layer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"

namespace citadel {

enum class VocabKind {
    kSentencePiece,  // tokenizer.ggml.model = "llama": "▁" marks spaces, <0xNN> byte tokens
    kByteLevel,      // "gpt2": every byte mapped to a printable code point
};

struct Vocab {
    VocabKind kind = VocabKind::kSentencePiece;
    std::vector<std::string> pieces;   // [n_vocab]
    std::vector<int32_t> token_types;  // [n_vocab] 1 normal, 2 unknown, 3 control, 4 user, 6 byte
    std::optional<int32_t> bos, eos, eot;

    bool is_end_of_generation(int32_t token) const {
        return (eos && token == *eos) || (eot && token == *eot);
    }
    // Bytes of one token as text (control tokens give nothing).
    std::string token_bytes(int32_t token) const;
    std::string detokenize(const std::vector<int32_t>& tokens) const;
};

// Reads the vocabulary; a file without one is an error naming the file.
Result<Vocab> read_vocab(const gguf::File& file);

}  // namespace citadel
