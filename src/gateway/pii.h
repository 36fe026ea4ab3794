// PII detection and redaction for prompts (input) and completions (output): built-in Chinese
// and generic types found by RE2 (linear time) and confirmed by validators in code, plus
// user-defined patterns. A PiiScanner is immutable after create() and shared by all threads;
// streaming redaction lives in pii_stream.h.
//
// Built-in types (placeholder "[TYPE]"), in priority order:
//   ID_NUMBER  mainland resident identity number: 17 digits + check digit or X/x, first digit
//              1-8, a real birth date YYYYMMDD (1900-2100), ISO 7064 MOD 11-2 checksum.
//   PHONE      mainland mobile 1[3-9]xxxxxxxxx, also 3-4-4 grouped with spaces or dashes,
//              optionally after +86 / 0086 / 86 and an optional space or dash.
//   BANK_CARD  13-19 digits with a valid Luhn checksum: one run, or groups of 4 (last group
//              1-4 digits) or 4-6-5 / 4-6-4 joined by single spaces or single dashes (one kind
//              per number). A grouped number followed by an extra group (an expiry year, a CVV)
//              is redacted without that group when the shorter number is valid.
//   PASSPORT   ordinary passports E + 8 digits (2012-2017), E + letter other than I/O + 7 digits
//              (since April 2017), G + 8 digits (older booklets, still in old records); official
//              e-passports DE / SE / PE + 7 digits (diplomatic, service, public affairs).
//              Not included: the pre-2015 non-electronic P./S./D. + 7 digits (all expired, and
//              "P1234567" collides with part numbers) and the HK/Macao SAR K + 8 / MA + 7 digits
//              (add them as user patterns where needed). Upper case only.
//   EMAIL      local@domain.tld: local part 1-64 of [A-Za-z0-9._%+-], dot-separated domain
//              labels, an alphabetic TLD of 2-63 letters; at most 254 bytes.
//   IPV4       four dotted octets 0-255 without leading zeros, not part of a longer dotted
//              sequence (1.2.3.4.5) nor glued to letters or digits; a final full stop is fine.
// Digit-based types are never part of a longer run of ASCII letters or digits: the 19-digit
// order number 1381234567812345678 is not a phone number plus 8 digits. CJK text directly
// around a match is fine ("手机13812345678，").
//
// Overlaps are resolved leftmost-longest: the match that starts first wins; at the same start
// the longest; at the same span the type earlier in the list above, then user patterns in
// their order. Each type proposes, at each start, its regex's longest match within its
// max_length window, which its validator may accept, shorten (card groups) or reject; a
// rejected start is not retried with shorter spans. This rule is local (a decision never
// depends on text more than max_span bytes ahead), which is what makes streaming exact.
//
// User patterns {name, regex, max_length}: RE2 syntax, longest-match semantics, searched within
// a max_length-byte window at each start (a longer match is cut to the longest one that fits);
// the placeholder is the upper-cased name. Empty matches are ignored.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace citadel::gateway {

namespace pii {
struct Detector;
}

// What a guarded endpoint does with PII: nothing, replace it with placeholders, refuse the
// request, or let it through and record the types found.
enum class PiiMode { kOff, kRedact, kBlock, kLog };
std::optional<PiiMode> parse_pii_mode(std::string_view name);  // off | redact | block | log
const char* pii_mode_name(PiiMode mode);

struct PiiPattern {
    std::string name;        // letters, digits, '_'; the placeholder is "[NAME]" upper-cased
    std::string regex;       // RE2 syntax
    size_t max_length = 64;  // longest match in bytes, 1..1024; bounds streaming hold-back
};

struct PiiMatch {
    size_t begin = 0, end = 0;  // byte offsets into the scanned text
    std::string type;           // "PHONE", or a user pattern's upper-cased name
};

class PiiScanner {
  public:
    static constexpr size_t kMaxPatternLength = 1024;

    // types: the built-in types to enable (any case; empty = all); custom: user patterns.
    // Errors name the unknown type or the bad pattern (with RE2's message).
    static Result<std::shared_ptr<const PiiScanner>> create(std::vector<std::string> types,
                                                            std::vector<PiiPattern> custom);
    ~PiiScanner();

    std::vector<PiiMatch> scan(std::string_view text) const;  // sorted, non-overlapping
    // The text with every match replaced by "[TYPE]"; the matches go to *found if given.
    std::string redact(std::string_view text, std::vector<PiiMatch>* found = nullptr) const;
    size_t max_span() const { return max_span_; }  // longest possible match, in bytes

    // The scan for a text that may still continue (the stream redactor's step). Decides the
    // matches starting in [from, limit) where every start before `limit` has an outcome no
    // continuation can change (all of them when `complete`), appends them to *out and returns
    // the position up to which the text is decided: at least `limit`, or the end of a match
    // that reaches past it. Bytes before `from` serve only as context (one byte is read).
    // scan(text) is scan_decided(text, 0, true, ...).
    size_t scan_decided(std::string_view text, size_t from, bool complete,
                        std::vector<PiiMatch>* out) const;

  private:
    PiiScanner();
    size_t decided_limit(std::string_view text) const;

    std::vector<pii::Detector> detectors_;  // priority order
    size_t max_span_ = 0;
};

}  // namespace citadel::gateway
