// The byte automaton of a constrained reply: a sequence of parts (literal text, one of
// several literals, a JSON object), matched one byte at a time.
//
// The matcher holds the parts (immutable); a MatchState says where in them a reply is. The
// state is a small trivially copyable struct, so the constraint can copy it at every node of
// the vocabulary trie.
//
// Choice options are kept sorted: the options still matching after `offset` bytes share
// those bytes, so they are a contiguous range [lo, hi). When one option is a prefix of
// another ("get", "get_weather"), a byte that continues the longer one continues it; only a
// byte no live option continues moves on to the next part.
//
// needed() counts tokens, at worst: inside a JSON object one token per byte (every byte is a
// token in the vocabularies we serve); for literal text the fewest tokens of the vocabulary
// that spell the rest of it (a dynamic program over the byte trie, once per part), or one per
// byte without a vocabulary. Either way one token can always lower it by at least one.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/constraint/json_state.h"
#include "engine/constraint/token_constraint.h"

namespace citadel::constraint {

struct MatchState {
    JsonState json;           // kJsonObject parts
    uint32_t part = 0;        // the current part; == number of parts once complete
    uint32_t offset = 0;      // kLiteral / kChoice: bytes of the part matched
    uint32_t lo = 0, hi = 0;  // kChoice: the options (sorted) still matching
};

class PartsMatcher {
  public:
    // `vocab` (may be null) prices literal text in tokens, see above.
    PartsMatcher(std::vector<ConstraintPart> parts, const VocabBytes* vocab);

    MatchState start() const;
    // Consumes one byte; false (state unspecified) if it cannot come next.
    bool step(MatchState& s, uint8_t b) const;
    bool feed(MatchState& s, std::string_view bytes) const;  // step() over each byte
    // Tokens still needed, at worst, to complete every part; 0 once complete.
    int64_t needed(const MatchState& s) const;
    bool complete(const MatchState& s) const { return s.part == parts_.size(); }
    bool in_string_body(const MatchState& s) const {
        return s.part < parts_.size() && parts_[s.part].kind == ConstraintPart::Kind::kJsonObject &&
               s.json.in_string_body();
    }

  private:
    void enter(MatchState& s, uint32_t part) const;
    bool choice_step(MatchState& s, uint8_t b) const;  // false: no live option continues

    std::vector<ConstraintPart> parts_;  // kChoice options sorted and deduplicated
    // [part][option][offset]: tokens that spell texts[option] from offset on (literals, choices)
    std::vector<std::vector<std::vector<int64_t>>> costs_;
    std::vector<int64_t> suffix_;  // [parts + 1] least tokens of parts [i, end)
};

}  // namespace citadel::constraint
