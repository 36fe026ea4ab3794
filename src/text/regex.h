// A compiled Unicode regular expression (PCRE2, UTF + UCP, JIT-compiled when available)
// used by the tokenizers' pre-split patterns. Matching is linear in practice for those
// patterns; a match limit turns a pathological pattern into an error instead of a hang.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace citadel::text {

struct Span {
    size_t begin = 0, end = 0;
};

class Regex {
  public:
    // Compiles pattern; the error names the pattern and the position PCRE2 complained about.
    static Result<std::shared_ptr<const Regex>> compile(std::string_view pattern);
    ~Regex();
    Regex(const Regex&) = delete;
    Regex& operator=(const Regex&) = delete;

    // Every non-overlapping non-empty match in subject (valid UTF-8), left to right.
    std::vector<Span> find_all(std::string_view subject) const;
    const std::string& pattern() const { return pattern_; }

  private:
    Regex() = default;
    std::string pattern_;
    void* code_ = nullptr;  // pcre2_code*
};

}  // namespace citadel::text
