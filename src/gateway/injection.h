// The prompt-injection guard: rules kept as data (a YAML file, see
// data/guards/injection_rules.yaml; the default file is embedded in the binary) matched with
// RE2 against a normalised copy of the prompt (injection_normalize.h), case-insensitively.
// A rule belongs to one category (ignore-previous-instructions, system-prompt-extraction,
// role-play-jailbreak) and one language (en, zh), and says what to do when one of its
// patterns matches: block the request or flag it.
//
// Rules file format:
//   version: 1
//   rules:
//     - id: ignore-previous-en            # unique; letters, digits, '.', '_', '-'
//       category: ignore-previous-instructions
//       language: en                      # en | zh
//       action: block                     # block | flag
//       description: "..."                # optional
//       patterns: ['regex', ...]          # RE2 syntax, at least one
// Errors name the origin (file), the line and the rule: bad YAML, wrong version, missing or
// unknown fields, unknown category/language/action, duplicate id, invalid regex.
//
// An InjectionGuard is immutable after loading and thread-safe; share it.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace citadel::gateway {

enum class GuardAction { kBlock, kFlag };
const char* guard_action_name(GuardAction action);  // "block" | "flag"

struct InjectionHit {
    std::string rule_id, category;
    GuardAction action = GuardAction::kFlag;
    // Byte offset in the original text where the rule's earliest match begins (mapped back
    // from the normalised copy).
    size_t offset = 0;
};

class InjectionGuard {
  public:
    static Result<std::shared_ptr<const InjectionGuard>> load_file(const std::string& path);
    static Result<std::shared_ptr<const InjectionGuard>> from_yaml(std::string_view text,
                                                                   std::string_view origin);
    static std::shared_ptr<const InjectionGuard> builtin();  // the embedded default rules
    ~InjectionGuard();

    // Every rule that matched, once each, in the rules file's order.
    std::vector<InjectionHit> check(std::string_view text) const;
    size_t rule_count() const;

  private:
    struct Compiled;
    explicit InjectionGuard(std::unique_ptr<Compiled> compiled);
    std::unique_ptr<Compiled> compiled_;
};

}  // namespace citadel::gateway
