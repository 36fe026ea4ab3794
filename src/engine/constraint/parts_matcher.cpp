#include "engine/constraint/parts_matcher.h"

#include <algorithm>

namespace citadel::constraint {

namespace {

constexpr int64_t kUnspellable = int64_t(1) << 30;  // text the vocabulary has no tokens for

// cost[i]: the fewest tokens that spell text[i, end); one per byte without a vocabulary.
std::vector<int64_t> token_costs(const std::string& text, const VocabBytes* vocab) {
    const size_t n = text.size();
    std::vector<int64_t> cost(n + 1, 0);
    for (size_t i = n; i-- > 0;) {
        if (vocab == nullptr) {
            cost[i] = int64_t(n - i);
            continue;
        }
        int64_t best = kUnspellable;
        int64_t node = 0;
        for (size_t d = i; d < n; ++d) {
            node = vocab->child(uint32_t(node), uint8_t(text[d]));
            if (node < 0) break;
            const VocabBytes::Node& at = vocab->nodes()[size_t(node)];
            if (at.token_end > at.first_token) best = std::min(best, cost[d + 1] + 1);
        }
        cost[i] = best;
    }
    return cost;
}

}  // namespace

PartsMatcher::PartsMatcher(std::vector<ConstraintPart> parts, const VocabBytes* vocab) {
    for (ConstraintPart& p : parts) {
        if (p.kind == ConstraintPart::Kind::kLiteral) {
            if (p.texts.empty() || p.texts[0].empty()) continue;  // matches nothing: skip
            p.texts.resize(1);
        } else if (p.kind == ConstraintPart::Kind::kChoice) {
            std::sort(p.texts.begin(), p.texts.end());
            p.texts.erase(std::unique(p.texts.begin(), p.texts.end()), p.texts.end());
            // No options at all cannot be matched; an empty option alone is an empty literal.
            if (p.texts.empty()) p.texts.push_back({});
            if (p.texts.size() == 1 && p.texts[0].empty()) continue;
        } else {
            p.texts.clear();
        }
        parts_.push_back(std::move(p));
    }
    costs_.resize(parts_.size());
    suffix_.assign(parts_.size() + 1, 0);
    for (size_t i = parts_.size(); i-- > 0;) {
        int64_t least = JsonState{}.needed();
        for (size_t o = 0; o < parts_[i].texts.size(); ++o) {
            costs_[i].push_back(token_costs(parts_[i].texts[o], vocab));
            least = o == 0 ? costs_[i][o][0] : std::min(least, costs_[i][o][0]);
        }
        suffix_[i] = suffix_[i + 1] + least;
    }
}

MatchState PartsMatcher::start() const {
    MatchState s;
    enter(s, 0);
    return s;
}

void PartsMatcher::enter(MatchState& s, uint32_t part) const {
    s.part = part;
    s.offset = 0;
    if (part >= parts_.size()) return;
    s.json = JsonState{};
    s.lo = 0;
    s.hi = uint32_t(parts_[part].texts.size());
}

bool PartsMatcher::step(MatchState& s, uint8_t b) const {
    while (s.part < parts_.size()) {
        const ConstraintPart& p = parts_[s.part];
        switch (p.kind) {
            case ConstraintPart::Kind::kLiteral: {
                const std::string& text = p.texts[0];
                if (uint8_t(text[s.offset]) != b) return false;
                if (++s.offset == text.size()) enter(s, s.part + 1);
                return true;
            }
            case ConstraintPart::Kind::kChoice:
                if (choice_step(s, b)) return true;
                // An option that ends here lets the byte start the next part.
                if (p.texts[s.lo].size() != s.offset) return false;
                enter(s, s.part + 1);
                continue;
            case ConstraintPart::Kind::kJsonObject:
                if (!s.json.step(b)) return false;
                if (s.json.done()) enter(s, s.part + 1);
                return true;
        }
    }
    return false;  // complete: nothing more may come
}

// Narrows the live options to those whose next byte is `b`; moves on when that leaves a
// single option, fully matched.
bool PartsMatcher::choice_step(MatchState& s, uint8_t b) const {
    const std::vector<std::string>& options = parts_[s.part].texts;
    const size_t k = s.offset;
    // In [lo, hi) the options equal to the matched prefix come first, then by byte k.
    auto byte_at = [k](const std::string& o) { return o.size() > k ? int(uint8_t(o[k])) : -1; };
    auto first = options.begin() + s.lo, last = options.begin() + s.hi;
    auto from = std::partition_point(first, last,
                                     [&](const std::string& o) { return byte_at(o) < int(b); });
    auto to = std::partition_point(from, last,
                                   [&](const std::string& o) { return byte_at(o) == int(b); });
    if (from == to) return false;
    s.lo = uint32_t(from - options.begin());
    s.hi = uint32_t(to - options.begin());
    ++s.offset;
    if (s.hi - s.lo == 1 && options[s.lo].size() == s.offset) enter(s, s.part + 1);
    return true;
}

bool PartsMatcher::feed(MatchState& s, std::string_view bytes) const {
    for (char c : bytes) {
        if (!step(s, uint8_t(c))) return false;
    }
    return true;
}

int64_t PartsMatcher::needed(const MatchState& s) const {
    if (s.part >= parts_.size()) return 0;
    const int64_t after = suffix_[s.part + 1];
    if (parts_[s.part].kind == ConstraintPart::Kind::kJsonObject) return s.json.needed() + after;
    // A literal is a choice of one.
    const std::vector<std::vector<int64_t>>& costs = costs_[s.part];
    int64_t least = costs[s.lo][s.offset];
    for (uint32_t o = s.lo + 1; o < s.hi; ++o) least = std::min(least, costs[o][s.offset]);
    return least + after;
}

}  // namespace citadel::constraint
