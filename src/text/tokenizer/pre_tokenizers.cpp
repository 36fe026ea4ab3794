#include "text/tokenizer/pre_tokenizers.h"

#include "text/tokenizer/byte_level.h"
#include "text/unicode.h"

namespace citadel::text {

const char* const kGpt2SplitPattern =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

namespace {

// Cuts one piece at the given matches according to behavior; matches are sorted.
void split_piece(const std::string& piece, const std::vector<Span>& matches, SplitBehavior behavior,
                 std::vector<std::string>& out) {
    // Build alternating (text, is_match) parts, then combine them.
    struct Part {
        size_t b, e;
        bool match;
    };
    std::vector<Part> parts;
    size_t last = 0;
    for (const Span& m : matches) {
        if (m.begin > last) parts.push_back({last, m.begin, false});
        parts.push_back({m.begin, m.end, true});
        last = m.end;
    }
    if (last < piece.size()) parts.push_back({last, piece.size(), false});

    auto text = [&](const Part& p) { return piece.substr(p.b, p.e - p.b); };
    switch (behavior) {
        case SplitBehavior::kRemoved:
            for (const Part& p : parts) {
                if (!p.match) out.push_back(text(p));
            }
            return;
        case SplitBehavior::kIsolated:
            for (const Part& p : parts) out.push_back(text(p));
            return;
        case SplitBehavior::kContiguous: {
            bool prev_match = false;
            for (const Part& p : parts) {
                if (p.match && prev_match && !out.empty()) {
                    out.back() += text(p);
                } else {
                    out.push_back(text(p));
                }
                prev_match = p.match;
            }
            return;
        }
        case SplitBehavior::kMergedWithPrevious: {
            bool can_merge = false;
            for (const Part& p : parts) {
                if (p.match && can_merge) {
                    out.back() += text(p);
                    can_merge = false;
                } else {
                    out.push_back(text(p));
                    can_merge = !p.match;
                }
            }
            return;
        }
        case SplitBehavior::kMergedWithNext: {
            std::string pending;
            bool have_pending = false;
            for (const Part& p : parts) {
                if (p.match) {
                    if (have_pending) out.push_back(pending);
                    pending = text(p);
                    have_pending = true;
                } else {
                    out.push_back((have_pending ? pending : std::string()) + text(p));
                    have_pending = false;
                    pending.clear();
                }
            }
            if (have_pending) out.push_back(pending);
            return;
        }
    }
}

// The complement of matches within [0, n): the gaps become the "matches".
std::vector<Span> invert_spans(const std::vector<Span>& matches, size_t n) {
    std::vector<Span> gaps;
    size_t last = 0;
    for (const Span& m : matches) {
        if (m.begin > last) gaps.push_back({last, m.begin});
        last = m.end;
    }
    if (last < n) gaps.push_back({last, n});
    return gaps;
}

}  // namespace

Result<std::unique_ptr<RegexSplit>> make_regex_split(std::string_view pattern,
                                                     SplitBehavior behavior, bool invert) {
    Result<std::shared_ptr<const Regex>> re = Regex::compile(pattern);
    if (!re) return re.status();
    return std::make_unique<RegexSplit>(std::move(*re), behavior, invert);
}

void RegexSplit::apply(std::vector<std::string>& pieces, const PieceContext&) const {
    std::vector<std::string> out;
    out.reserve(pieces.size() * 2);
    for (const std::string& piece : pieces) {
        std::vector<Span> matches = regex_->find_all(piece);
        if (invert_) matches = invert_spans(matches, piece.size());
        split_piece(piece, matches, behavior_, out);
    }
    pieces = std::move(out);
}

ByteLevelPreTokenizer::ByteLevelPreTokenizer(bool add_prefix_space, bool use_regex)
    : add_prefix_space_(add_prefix_space) {
    if (use_regex) {
        split_ = std::make_unique<RegexSplit>(*Regex::compile(kGpt2SplitPattern),
                                              SplitBehavior::kIsolated, false);
    }
}

void ByteLevelPreTokenizer::apply(std::vector<std::string>& pieces, const PieceContext& ctx) const {
    if (add_prefix_space_ && !pieces.empty() && !pieces.front().empty() &&
        pieces.front()[0] != ' ') {
        pieces.front().insert(0, 1, ' ');
    }
    if (split_) split_->apply(pieces, ctx);
    for (std::string& p : pieces) p = bytes_to_byte_level(p);
}

void MetaspacePreTokenizer::apply(std::vector<std::string>& pieces, const PieceContext& ctx) const {
    std::vector<std::string> out;
    for (size_t k = 0; k < pieces.size(); ++k) {
        std::string s;
        for (char c : pieces[k]) {
            if (c == ' ') {
                s += replacement_;
            } else {
                s += c;
            }
        }
        const bool prepend = scheme_ == PrependScheme::kAlways ||
                             (scheme_ == PrependScheme::kFirst && ctx.first_section && k == 0);
        if (prepend && s.rfind(replacement_, 0) != 0) s = replacement_ + s;
        if (!split_) {
            out.push_back(std::move(s));
            continue;
        }
        // Split before each replacement character (merged with the text that follows).
        size_t start = 0;
        for (size_t at = s.find(replacement_, 1); at != std::string::npos;
             at = s.find(replacement_, at + replacement_.size())) {
            if (at > start) out.push_back(s.substr(start, at - start));
            start = at;
        }
        if (start < s.size()) out.push_back(s.substr(start));
    }
    pieces = std::move(out);
}

// The first code point of a character's canonical decomposition: "Ä" -> "A".
static uint32_t base_character(uint32_t cp) {
    if (cp < 0xc0) return cp;
    const std::string nfd = normalize(utf8_of(cp), NormalForm::kNFD);
    size_t i = 0;
    return nfd.empty() ? cp : next_code_point(nfd, i);
}

void BertWordSplit::apply(std::vector<std::string>& pieces, const PieceContext&) const {
    std::vector<std::string> words;
    for (const std::string& piece : pieces) {
        std::string word;
        auto finish = [&] {
            if (!word.empty()) words.push_back(std::move(word));
            word.clear();
        };
        for (size_t i = 0; i < piece.size();) {
            const uint32_t cp = base_character(next_code_point(piece, i));
            if (is_whitespace(cp)) {
                finish();
                continue;
            }
            if (cp == 0 || cp == 0xfffd || is_control(cp)) continue;
            const std::string s = utf8_of(simple_lower(cp));
            if (is_punctuation(cp) || (cp < 0x7f && is_symbol(cp)) || is_cjk_ideograph(cp)) {
                finish();
                words.push_back(s);
            } else {
                word += s;
            }
        }
        finish();
    }
    pieces = std::move(words);
}

}  // namespace citadel::text
