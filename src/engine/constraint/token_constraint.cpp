#include "engine/constraint/token_constraint.h"

#include <algorithm>
#include <limits>

#include "core/status.h"
#include "engine/constraint/parts_matcher.h"

namespace citadel {

namespace {

using constraint::MatchState;
using constraint::PartsMatcher;

// How a token fits, best first; the mask keeps the best class that has any token.
enum Fit : uint8_t {
    kFits = 0,    // the grammar allows it and the rest still fits the budget
    kCloses = 1,  // it lowers the tokens still needed (the budget is already too short)
    kValid = 2,   // the grammar allows it
    kRejected = 3,
};

class PartsConstraint final : public TokenConstraint {
  public:
    PartsConstraint(std::shared_ptr<const VocabBytes> vocab, std::vector<ConstraintPart> parts,
                    std::vector<int32_t> eog);
    void mask(float* logits, int64_t n_vocab, int64_t remaining) override;
    void accept(int32_t token) override;
    bool complete() const override { return !failed_ && matcher_.complete(state_); }

  private:
    void walk(int64_t n_vocab, int64_t limit);
    void mark(uint32_t begin, uint32_t end, Fit fit, int64_t n_vocab);
    void only_eog(float* logits, int64_t n_vocab) const;
    bool is_eog(int32_t token) const {
        return std::find(eog_.begin(), eog_.end(), token) != eog_.end();
    }

    std::shared_ptr<const VocabBytes> vocab_;
    PartsMatcher matcher_;
    std::vector<int32_t> eog_;
    MatchState state_;     // after the accepted tokens
    bool failed_ = false;  // a token the grammar refuses was accepted

    // Scratch reused by every mask() call.
    std::vector<MatchState> stack_;  // [max token bytes + 1] the state at each trie depth
    std::vector<uint8_t> fit_;       // [vocabulary size] a Fit per token
    std::vector<uint8_t> eog_flag_;  // [vocabulary size] 1 for end-of-generation ids
    int64_t counts_[4] = {};         // tokens per Fit
};

PartsConstraint::PartsConstraint(std::shared_ptr<const VocabBytes> vocab,
                                 std::vector<ConstraintPart> parts, std::vector<int32_t> eog)
    : vocab_(std::move(vocab)), matcher_(std::move(parts), vocab_.get()), eog_(std::move(eog)) {
    state_ = matcher_.start();
    stack_.resize(size_t(vocab_->max_depth()) + 1);
    fit_.resize(size_t(vocab_->size()));
    eog_flag_.assign(size_t(vocab_->size()), 0);
    for (int32_t t : eog_) {
        if (t >= 0 && t < vocab_->size()) eog_flag_[size_t(t)] = 1;
    }
}

void PartsConstraint::mask(float* logits, int64_t n_vocab, int64_t remaining) {
    if (failed_ || matcher_.complete(state_)) {
        only_eog(logits, n_vocab);
        return;
    }
    std::fill(fit_.begin(), fit_.end(), uint8_t(kRejected));
    std::fill(std::begin(counts_), std::end(counts_), 0);
    const int64_t reserve = eog_.empty() ? 0 : 1;  // the EOG token that ends the reply
    walk(n_vocab, remaining - 1 - reserve);
    int keep = kFits;
    while (keep < kRejected && counts_[keep] == 0) ++keep;
    if (keep == kRejected) {
        only_eog(logits, n_vocab);
        return;
    }
    constexpr float kMinusInf = -std::numeric_limits<float>::infinity();
    const int64_t known = std::min<int64_t>(n_vocab, vocab_->size());
    for (int64_t t = 0; t < known; ++t) {
        if (fit_[size_t(t)] > keep) logits[t] = kMinusInf;
    }
    for (int64_t t = known; t < n_vocab; ++t) logits[t] = kMinusInf;
}

// Depth-first over the vocabulary trie in preorder: stack_[d] is the state after the first d
// bytes of the current path. `limit`: the most tokens a token may leave still needed.
void PartsConstraint::walk(int64_t n_vocab, int64_t limit) {
    const std::span<const VocabBytes::Node> nodes = vocab_->nodes();
    const int64_t needed_now = matcher_.needed(state_);
    stack_[0] = state_;
    const uint32_t end = uint32_t(nodes.size() - 1);  // the sentinel
    uint32_t i = 1;
    while (i < end) {
        const VocabBytes::Node& node = nodes[i];
        const MatchState& parent = stack_[node.depth - 1u];
        if (node.string_safe && matcher_.in_string_body(parent)) {
            // Plain text inside a JSON string: every token below stays in the string and
            // leaves the needed bytes as they are.
            const Fit fit = matcher_.needed(parent) <= limit ? kFits : kValid;
            mark(node.first_token, nodes[node.subtree_end].first_token, fit, n_vocab);
            i = node.subtree_end;
            continue;
        }
        MatchState& state = stack_[node.depth];
        state = parent;
        if (!matcher_.step(state, node.byte)) {
            i = node.subtree_end;
            continue;
        }
        if (node.token_end > node.first_token) {
            const int64_t needed = matcher_.needed(state);
            const Fit fit = needed <= limit ? kFits : needed < needed_now ? kCloses : kValid;
            mark(node.first_token, node.token_end, fit, n_vocab);
        }
        ++i;
    }
}

void PartsConstraint::mark(uint32_t begin, uint32_t end, Fit fit, int64_t n_vocab) {
    const std::span<const int32_t> order = vocab_->order();
    for (uint32_t k = begin; k < end; ++k) {
        const int32_t t = order[k];
        if (t >= n_vocab || eog_flag_[size_t(t)]) continue;
        fit_[size_t(t)] = fit;
        ++counts_[fit];
    }
}

// Leaves only the EOG ids; with none in range the row stays as it is (never all -inf).
void PartsConstraint::only_eog(float* logits, int64_t n_vocab) const {
    std::vector<std::pair<int32_t, float>> keep;
    for (int32_t t : eog_) {
        if (t >= 0 && t < n_vocab) keep.push_back({t, logits[t]});
    }
    if (keep.empty()) return;
    std::fill(logits, logits + n_vocab, -std::numeric_limits<float>::infinity());
    for (const auto& [t, logit] : keep) logits[t] = logit;
}

void PartsConstraint::accept(int32_t token) {
    if (is_eog(token) || failed_) return;
    if (token < 0 || token >= vocab_->size() || vocab_->bytes(token).empty()) {
        failed_ = true;
        return;
    }
    MatchState next = state_;
    if (!matcher_.feed(next, vocab_->bytes(token))) {
        failed_ = true;
        return;
    }
    state_ = next;
}

}  // namespace

std::unique_ptr<TokenConstraint> make_constraint(std::shared_ptr<const VocabBytes> vocab,
                                                 std::vector<ConstraintPart> parts,
                                                 std::vector<int32_t> eog_tokens) {
    CITADEL_CHECK(vocab != nullptr);
    return std::make_unique<PartsConstraint>(std::move(vocab), std::move(parts),
                                             std::move(eog_tokens));
}

}  // namespace citadel
