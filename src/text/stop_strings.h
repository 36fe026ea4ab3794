// Stop strings matched in streamed text, across token boundaries. Text from a match on (the
// stop string included) is never handed out; the matcher holds back only the longest suffix
// of the text so far that is a proper prefix of some stop string, widened to whole UTF-8
// characters, plus an incomplete UTF-8 character at the very end.
//
// The generation stops at the first stop string to complete (the earliest end; on a tie, the
// one that starts first), so the result does not depend on how the text was split into
// deltas. Each stop keeps a Knuth-Morris-Pratt state across pushes, so a push costs
// O(delta bytes x stop strings) whatever the stop strings' lengths.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace citadel::text {

class StopMatcher {
  public:
    // Empty strings are ignored; with none left, text passes straight through (minus a split
    // UTF-8 character at the end, held until it completes).
    explicit StopMatcher(std::vector<std::string> stops);

    struct Out {
        std::string text;      // safe to hand out
        bool stopped = false;  // a stop string completed: the generation should end
        std::string matched;   // which one
    };
    // After a stop, every push returns {"", true, matched}.
    Out push(std::string_view delta);
    // The held-back text at the end of a generation that did not stop ("" after a stop).
    std::string flush();

    bool stopped() const { return stopped_; }

  private:
    struct Stop {
        std::string text;
        std::vector<uint32_t> failure;  // KMP: longest proper border of text[0, i]
        uint32_t state = 0;             // bytes of text matched by the stream's end
    };

    std::vector<Stop> stops_;
    std::string held_;  // text not handed out yet; covers every stop's partial match
    bool stopped_ = false;
    std::string matched_;
};

}  // namespace citadel::text
