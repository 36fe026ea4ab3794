// Pre-tokenizers: cut text into the pieces a token model sees.
#pragma once

#include <memory>

#include "text/regex.h"
#include "text/tokenizer/pipeline.h"

namespace citadel::text {

// What happens to the matches of a split pattern (Hugging Face's SplitDelimiterBehavior).
enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Splits each piece around the matches of a regex (or, inverted, keeps only the matches'
// complement as delimiters).
class RegexSplit final : public PreTokenizer {
  public:
    RegexSplit(std::shared_ptr<const Regex> regex, SplitBehavior behavior, bool invert)
        : regex_(std::move(regex)), behavior_(behavior), invert_(invert) {}
    void apply(std::vector<std::string>& pieces, const PieceContext& ctx) const override;

  private:
    std::shared_ptr<const Regex> regex_;
    SplitBehavior behavior_;
    bool invert_;
};

// GPT-2 byte-level: optionally split with GPT-2's pattern, then map bytes to the alphabet.
class ByteLevelPreTokenizer final : public PreTokenizer {
  public:
    ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex);
    void apply(std::vector<std::string>& pieces, const PieceContext& ctx) const override;

  private:
    bool add_prefix_space_;
    std::unique_ptr<RegexSplit> split_;
};

// SentencePiece's metaspace: spaces become "▁", a "▁" may be prepended, and pieces may be
// split before each "▁".
enum class PrependScheme { kAlways, kFirst, kNever };
class MetaspacePreTokenizer final : public PreTokenizer {
  public:
    MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
        : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}
    void apply(std::vector<std::string>& pieces, const PieceContext& ctx) const override;

  private:
    std::string replacement_;
    PrependScheme scheme_;
    bool split_;
};

// The WordPiece pre-processing of BERT models converted to GGUF (llama.cpp's rules): each
// character replaced by the base of its canonical decomposition, lower-cased, whitespace separates
// words, control characters vanish, punctuation, ASCII symbols and CJK ideographs stand alone.
class BertWordSplit final : public PreTokenizer {
  public:
    void apply(std::vector<std::string>& pieces, const PieceContext& ctx) const override;
};

// Builds a split from a pattern; the named classes of Hugging Face's library are patterns too.
Result<std::unique_ptr<RegexSplit>> make_regex_split(std::string_view pattern,
                                                     SplitBehavior behavior, bool invert);

extern const char* const kGpt2SplitPattern;

}  // namespace citadel::text
