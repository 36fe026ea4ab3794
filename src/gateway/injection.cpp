#include "gateway/injection.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "gateway/injection_normalize.h"
#include "gateway/injection_rules.h"
#include "injection_rules_default.h"  // generated from data/guards/injection_rules.yaml

namespace citadel::gateway {

// One RE2::Set pass finds which patterns match anywhere; only those are run again, one by
// one, for their match position.
struct InjectionGuard::Compiled {
    struct Rule {
        std::string id, category;
        GuardAction action = GuardAction::kFlag;
    };
    std::vector<Rule> rules;
    std::vector<std::unique_ptr<RE2>> patterns;  // every rule's patterns, in file order
    std::vector<size_t> pattern_rule;            // the rule each pattern belongs to
    std::unique_ptr<RE2::Set> set;
};

namespace {

constexpr int64_t kSetMemoryBytes = 64 << 20;

RE2::Options pattern_options() {
    RE2::Options options;
    options.set_case_sensitive(false);
    options.set_log_errors(false);
    return options;
}

std::string where(std::string_view origin, int line) {
    std::string text(origin);
    if (line > 0) text.append(":").append(std::to_string(line));
    return text;
}

}  // namespace

const char* guard_action_name(GuardAction action) {
    return action == GuardAction::kBlock ? "block" : "flag";
}

InjectionGuard::InjectionGuard(std::unique_ptr<Compiled> compiled)
    : compiled_(std::move(compiled)) {}
InjectionGuard::~InjectionGuard() = default;

Result<std::shared_ptr<const InjectionGuard>> InjectionGuard::from_yaml(std::string_view text,
                                                                        std::string_view origin) {
    auto rules = parse_injection_rules(text, origin);
    if (!rules.ok()) return rules.status();
    auto compiled = std::make_unique<Compiled>();
    RE2::Options set_options = pattern_options();
    set_options.set_max_mem(kSetMemoryBytes);
    compiled->set = std::make_unique<RE2::Set>(set_options, RE2::UNANCHORED);
    for (const InjectionRule& rule : *rules) {
        for (size_t i = 0; i < rule.patterns.size(); ++i) {
            auto regex = std::make_unique<RE2>(rule.patterns[i], pattern_options());
            std::string set_error;
            if (!regex->ok() || compiled->set->Add(rule.patterns[i], &set_error) < 0) {
                const std::string message = regex->ok() ? set_error : regex->error();
                return Status::error(where(origin, rule.pattern_lines[i]) + ": rule '" + rule.id +
                                     "': pattern " + std::to_string(i + 1) +
                                     " is not a valid RE2 regex: " + message);
            }
            if (RE2::FullMatch("", *regex)) {
                return Status::error(where(origin, rule.pattern_lines[i]) + ": rule '" + rule.id +
                                     "': pattern " + std::to_string(i + 1) +
                                     " matches the empty string (it would match every prompt)");
            }
            compiled->patterns.push_back(std::move(regex));
            compiled->pattern_rule.push_back(compiled->rules.size());
        }
        compiled->rules.push_back(Compiled::Rule{rule.id, rule.category, rule.action});
    }
    if (!compiled->set->Compile()) {
        return Status::error(std::string(origin) + ": the rules are too large to compile");
    }
    return std::shared_ptr<const InjectionGuard>(new InjectionGuard(std::move(compiled)));
}

Result<std::shared_ptr<const InjectionGuard>> InjectionGuard::load_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        return Status::error("cannot read injection rules file '" + path +
                             "': " + std::strerror(errno));
    }
    std::ostringstream text;
    text << in.rdbuf();
    return from_yaml(text.str(), path);
}

std::shared_ptr<const InjectionGuard> InjectionGuard::builtin() {
    static const std::shared_ptr<const InjectionGuard> guard = [] {
        auto loaded = from_yaml(kDefaultInjectionRulesYaml, "<built-in injection rules>");
        if (!loaded.ok()) fatal(loaded.error().c_str(), __FILE__, __LINE__);
        return *loaded;
    }();
    return guard;
}

size_t InjectionGuard::rule_count() const {
    return compiled_->rules.size();
}

std::vector<InjectionHit> InjectionGuard::check(std::string_view text) const {
    const Compiled& c = *compiled_;
    const NormalizedText normalized = normalize_for_matching(text);
    std::vector<int> candidates;
    RE2::Set::ErrorInfo info;
    if (!c.set->Match(normalized.text, &candidates, &info) && info.kind != RE2::Set::kNoError) {
        // The set's DFA ran out of memory on this text: try every pattern on its own.
        candidates.resize(c.patterns.size());
        for (size_t i = 0; i < candidates.size(); ++i) candidates[i] = int(i);
    }
    constexpr size_t kNone = std::string_view::npos;
    std::vector<size_t> first_match(c.rules.size(), kNone);  // per rule, normalised offset
    for (int index : candidates) {
        re2::StringPiece m;
        const RE2& regex = *c.patterns[size_t(index)];
        if (!regex.Match(normalized.text, 0, normalized.text.size(), RE2::UNANCHORED, &m, 1)) {
            continue;
        }
        size_t& first = first_match[c.pattern_rule[size_t(index)]];
        first = std::min(first, size_t(m.data() - normalized.text.data()));
    }
    std::vector<InjectionHit> hits;
    for (size_t r = 0; r < c.rules.size(); ++r) {
        if (first_match[r] == kNone) continue;
        InjectionHit hit;
        hit.rule_id = c.rules[r].id;
        hit.category = c.rules[r].category;
        hit.action = c.rules[r].action;
        hit.offset = normalized.source[first_match[r]];
        hits.push_back(std::move(hit));
    }
    return hits;
}

}  // namespace citadel::gateway
