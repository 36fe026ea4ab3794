// Normalizers: Unicode normal forms, case folding, literal and regex replacement,
// prepending, stripping, and BERT's text cleaning.
#pragma once

#include <memory>

#include "text/regex.h"
#include "text/tokenizer/pipeline.h"
#include "text/unicode.h"

namespace citadel::text {

class UnicodeNormalizer final : public Normalizer {
  public:
    explicit UnicodeNormalizer(NormalForm form) : form_(form) {}
    std::string apply(std::string s) const override { return normalize(s, form_); }

  private:
    NormalForm form_;
};

class LowercaseNormalizer final : public Normalizer {
  public:
    std::string apply(std::string s) const override { return to_lower(s); }
};

class PrependNormalizer final : public Normalizer {
  public:
    explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
    std::string apply(std::string s) const override { return s.empty() ? s : prefix_ + s; }

  private:
    std::string prefix_;
};

// Replaces every occurrence of a literal string, or of a regex when one is given.
class ReplaceNormalizer final : public Normalizer {
  public:
    ReplaceNormalizer(std::string literal, std::string content)
        : literal_(std::move(literal)), content_(std::move(content)) {}
    ReplaceNormalizer(std::shared_ptr<const Regex> regex, std::string content)
        : regex_(std::move(regex)), content_(std::move(content)) {}
    std::string apply(std::string s) const override;

  private:
    std::string literal_;
    std::shared_ptr<const Regex> regex_;
    std::string content_;
};

class StripNormalizer final : public Normalizer {
  public:
    StripNormalizer(bool left, bool right) : left_(left), right_(right) {}
    std::string apply(std::string s) const override;

  private:
    bool left_, right_;
};

// Removes combining marks (after NFD they carry the accents).
class StripAccentsNormalizer final : public Normalizer {
  public:
    std::string apply(std::string s) const override;
};

// BERT: drop control characters, map whitespace to spaces, pad CJK ideographs with spaces,
// optionally strip accents and lower-case.
class BertNormalizer final : public Normalizer {
  public:
    BertNormalizer(bool clean_text, bool chinese_chars, bool strip_accents, bool lowercase)
        : clean_(clean_text),
          chinese_(chinese_chars),
          strip_accents_(strip_accents),
          lowercase_(lowercase) {}
    std::string apply(std::string s) const override;

  private:
    bool clean_, chinese_, strip_accents_, lowercase_;
};

}  // namespace citadel::text
