// Reading the prompt-injection rules file (format in injection.h) into plain structs, with
// every structural check and an error that names the origin, the line and the rule. Regexes
// are compiled (and checked) by the guard. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "gateway/injection.h"

namespace citadel::gateway {

struct InjectionRule {
    std::string id, category, language, description;
    GuardAction action = GuardAction::kFlag;
    std::vector<std::string> patterns;
    int line = 0;                    // 1-based line of the rule in its file; 0 unknown
    std::vector<int> pattern_lines;  // the same for each pattern
};

// The accepted categories and languages.
const std::vector<std::string>& injection_categories();
const std::vector<std::string>& injection_languages();

Result<std::vector<InjectionRule>> parse_injection_rules(std::string_view yaml,
                                                         std::string_view origin);

}  // namespace citadel::gateway
