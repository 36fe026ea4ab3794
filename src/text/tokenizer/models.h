// Token models: turn one pre-tokenized piece into ids.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/tokenizer/pipeline.h"

namespace citadel::text {

// Token text -> id, shared by the model and the tokenizer; looked up by string_view.
struct PieceHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using PieceIndex = std::unordered_map<std::string, int32_t, PieceHash, std::equal_to<>>;

// Byte-pair encoding by merge rank (GPT-2 style and Hugging Face "BPE"): the pair with the
// lowest rank merges first, the leftmost among equals.
struct BpeOptions {
    bool ignore_merges = false;  // a piece that is itself a token is taken whole
    bool byte_fallback = false;  // unknown symbols become <0xNN> byte tokens
    bool fuse_unk = false;       // consecutive unknowns collapse into one unk id
    int32_t unk_id = -1;         // -1: unknown symbols are dropped
    std::string continuing_subword_prefix, end_of_word_suffix;
};

class BpeModel final : public TokenModel {
  public:
    // merges: pairs of token texts in rank order.
    BpeModel(std::shared_ptr<const PieceIndex> index,
             const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions opt);
    void encode(std::string_view piece, std::vector<int32_t>& out) const override;

  private:
    void merge(std::string_view piece, std::vector<int32_t>& out) const;
    void emit_symbol(std::string_view sym, std::vector<int32_t>& out) const;
    int32_t find(std::string_view text) const;

    std::shared_ptr<const PieceIndex> index_;
    // (left id, right id) -> (rank, merged id)
    std::unordered_map<uint64_t, std::pair<int32_t, int32_t>> merges_;
    BpeOptions opt_;
    mutable std::mutex cache_mu_;
    mutable std::unordered_map<std::string, std::vector<int32_t>> cache_;
};

// SentencePiece-style merges by token score, as llama.cpp runs "llama" vocabularies: the
// adjacent pair whose concatenation is the highest-scoring token merges first; leftovers
// that are not tokens become byte tokens.
class ScoreBpeModel final : public TokenModel {
  public:
    ScoreBpeModel(std::shared_ptr<const PieceIndex> index, std::vector<float> scores,
                  std::vector<int32_t> byte_ids);
    void encode(std::string_view piece, std::vector<int32_t>& out) const override;

  private:
    std::shared_ptr<const PieceIndex> index_;
    std::vector<float> scores_;
    std::vector<int32_t> byte_ids_;  // [256], -1 when the byte has no token
};

// WordPiece as llama.cpp runs BERT vocabularies: word-initial tokens carry a leading "▁";
// the longest matching token is taken greedily; a word that cannot be covered is unk.
class WordPieceModel final : public TokenModel {
  public:
    WordPieceModel(std::shared_ptr<const PieceIndex> index, int32_t unk_id, size_t max_len)
        : index_(std::move(index)), unk_id_(unk_id), max_len_(max_len) {}
    void encode(std::string_view piece, std::vector<int32_t>& out) const override;

  private:
    std::shared_ptr<const PieceIndex> index_;
    int32_t unk_id_;
    size_t max_len_;
};

// WordPiece as Hugging Face runs it: greedy longest-prefix match per word, continuation
// pieces spelt with a prefix ("##"); a word that cannot be covered becomes one unk.
class HfWordPieceModel final : public TokenModel {
  public:
    HfWordPieceModel(std::shared_ptr<const PieceIndex> index, int32_t unk_id, std::string prefix,
                     size_t max_chars)
        : index_(std::move(index)),
          unk_id_(unk_id),
          prefix_(std::move(prefix)),
          max_chars_(max_chars) {}
    void encode(std::string_view piece, std::vector<int32_t>& out) const override;

  private:
    std::shared_ptr<const PieceIndex> index_;
    int32_t unk_id_;
    std::string prefix_;
    size_t max_chars_;
};

}  // namespace citadel::text
