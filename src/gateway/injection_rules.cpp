#include "gateway/injection_rules.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>

namespace citadel::gateway {
namespace {

const std::vector<std::string> kRuleFields = {"id",     "category",    "language",
                                              "action", "description", "patterns"};

int line_of(const YAML::Node& node) {
    const YAML::Mark mark = node.Mark();
    return mark.is_null() ? 0 : mark.line + 1;
}

std::string join_or(const std::vector<std::string>& items) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i > 0) out += i + 1 == items.size() ? " or " : ", ";
        out += items[i];
    }
    return out;
}

bool valid_id(std::string_view id) {
    if (id.empty() || id.size() > 128) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               c == '.' || c == '_' || c == '-';
    });
}

// Reads one rules file; every error is "<origin>:<line>: <what>" (the line when known).
class RulesReader {
  public:
    explicit RulesReader(std::string_view origin) : origin_(origin) {}

    Result<std::vector<InjectionRule>> read(const YAML::Node& root) const {
        if (!root.IsMap()) return error(root, "expected a map with 'version' and 'rules'");
        for (const auto& entry : root) {
            const std::string key = entry.first.Scalar();
            if (key != "version" && key != "rules") {
                return error(entry.first, "unknown field '" + key + "' (expected version, rules)");
            }
        }
        CITADEL_TRY(check_version(root));
        const YAML::Node rules = root["rules"];
        if (!rules.IsDefined()) return error(root, "missing 'rules'");
        if (!rules.IsSequence()) return error(rules, "'rules' must be a list");
        std::vector<InjectionRule> out;
        std::map<std::string, int> first_line;
        for (size_t i = 0; i < rules.size(); ++i) {
            auto rule = read_rule(rules[i], i + 1);
            if (!rule.ok()) return rule.status();
            auto [it, fresh] = first_line.emplace(rule->id, rule->line);
            if (!fresh) {
                return error(rules[i], "duplicate rule id '" + rule->id +
                                           "' (first defined at line " +
                                           std::to_string(it->second) + ")");
            }
            out.push_back(std::move(rule).value());
        }
        return out;
    }

    Status error(const YAML::Node& at, const std::string& message) const {
        std::string text = origin_;
        const int line = line_of(at);
        if (line > 0) text.append(":").append(std::to_string(line));
        return Status::error(text.append(": ").append(message));
    }

  private:
    Status check_version(const YAML::Node& root) const {
        const YAML::Node version = root["version"];
        if (!version.IsDefined()) return error(root, "missing 'version' (expected version: 1)");
        if (!version.IsScalar() || version.Scalar() != "1") {
            const std::string got = version.IsScalar() ? version.Scalar() : "a non-scalar";
            return error(version, "unsupported version " + got + " (expected 1)");
        }
        return ok_status();
    }

    // A required (or, with `required` false, optional) string field of a rule.
    Result<std::string> field(const YAML::Node& rule, const std::string& name,
                              const std::string& who, bool required = true) const {
        const YAML::Node value = rule[name];
        if (!value.IsDefined() || value.IsNull()) {
            if (!required) return std::string();
            return error(rule, who + ": missing '" + name + "'");
        }
        if (!value.IsScalar()) return error(value, who + ": '" + name + "' must be a string");
        return value.Scalar();
    }

    Result<InjectionRule> read_rule(const YAML::Node& node, size_t index) const {
        const std::string nth = "rule #" + std::to_string(index);
        if (!node.IsMap()) return error(node, nth + " must be a map");
        for (const auto& entry : node) {
            const std::string key = entry.first.Scalar();
            if (std::find(kRuleFields.begin(), kRuleFields.end(), key) == kRuleFields.end()) {
                return error(entry.first, nth + ": unknown field '" + key + "' (expected " +
                                              join_or(kRuleFields) + ")");
            }
        }
        InjectionRule rule;
        rule.line = line_of(node);
        auto id = field(node, "id", nth);
        if (!id.ok()) return id.status();
        if (!valid_id(*id)) {
            return error(node["id"],
                         nth + ": id '" + *id + "' must be 1-128 letters, digits, '.', '_' or '-'");
        }
        rule.id = *id;
        const std::string who = "rule '" + rule.id + "'";
        CITADEL_TRY(read_choice(node, "category", who, injection_categories(), &rule.category));
        CITADEL_TRY(read_choice(node, "language", who, injection_languages(), &rule.language));
        std::string action;
        CITADEL_TRY(read_choice(node, "action", who, {"block", "flag"}, &action));
        rule.action = action == "block" ? GuardAction::kBlock : GuardAction::kFlag;
        auto description = field(node, "description", who, false);
        if (!description.ok()) return description.status();
        rule.description = *description;
        CITADEL_TRY(read_patterns(node, who, &rule));
        return rule;
    }

    Status read_choice(const YAML::Node& rule, const std::string& name, const std::string& who,
                       const std::vector<std::string>& allowed, std::string* out) const {
        auto value = field(rule, name, who);
        if (!value.ok()) return value.status();
        if (std::find(allowed.begin(), allowed.end(), *value) == allowed.end()) {
            return error(rule[name], who + ": unknown " + name + " '" + *value + "' (expected " +
                                         join_or(allowed) + ")");
        }
        *out = *value;
        return ok_status();
    }

    Status read_patterns(const YAML::Node& rule, const std::string& who, InjectionRule* out) const {
        const YAML::Node patterns = rule["patterns"];
        if (!patterns.IsDefined()) return error(rule, who + ": missing 'patterns'");
        if (!patterns.IsSequence() || patterns.size() == 0) {
            return error(patterns, who + ": 'patterns' must be a non-empty list of regexes");
        }
        for (size_t i = 0; i < patterns.size(); ++i) {
            const YAML::Node pattern = patterns[i];
            if (!pattern.IsScalar() || pattern.Scalar().empty()) {
                return error(pattern, who + ": pattern " + std::to_string(i + 1) +
                                          " must be a non-empty string");
            }
            out->patterns.push_back(pattern.Scalar());
            out->pattern_lines.push_back(line_of(pattern));
        }
        return ok_status();
    }

    std::string origin_;
};

}  // namespace

const std::vector<std::string>& injection_categories() {
    static const std::vector<std::string> categories = {
        "ignore-previous-instructions", "system-prompt-extraction", "role-play-jailbreak"};
    return categories;
}

const std::vector<std::string>& injection_languages() {
    static const std::vector<std::string> languages = {"en", "zh"};
    return languages;
}

Result<std::vector<InjectionRule>> parse_injection_rules(std::string_view yaml,
                                                         std::string_view origin) {
    const RulesReader reader(origin);
    try {
        const YAML::Node root = YAML::Load(std::string(yaml));
        return reader.read(root);
    } catch (const YAML::Exception& e) {
        std::string text(origin);
        if (!e.mark.is_null()) {
            text.append(":").append(std::to_string(e.mark.line + 1));
            text.append(":").append(std::to_string(e.mark.column + 1));
        }
        return Status::error(text.append(": invalid YAML: ").append(e.msg));
    }
}

}  // namespace citadel::gateway
