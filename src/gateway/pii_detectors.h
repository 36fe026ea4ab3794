// The detectors behind the PII scanner: what one kind of personal data looks like (a regex
// proposes a span, code accepts or rejects it), the built-in kinds (Chinese resident ID
// numbers, mobile phones, bank cards, passports, e-mail, IPv4) and their validators.
// Internal to pii.cpp and its tests. Everything here is immutable and thread-safe.
#pragma once

#include <re2/re2.h>

#include <bitset>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace citadel::gateway::pii {

inline constexpr size_t kRejected = std::string_view::npos;

// One kind of PII. A detector's outcome at a start position depends only on the byte before
// it, the bytes of the match and `lookahead` bytes after it; that locality is what lets the
// stream redactor decide matches before the text is complete.
struct Detector {
    std::string type;            // "PHONE"; the placeholder is "[PHONE]"
    std::shared_ptr<RE2> regex;  // compiled with longest-match semantics
    size_t max_length = 0;       // longest match, in bytes (the regex is run in this window)
    size_t lookahead = 1;        // bytes after a match that `accept` (or the regex) may read
    // Every byte a match can contain, and the bytes it can start with; nullopt when any byte
    // can (user patterns). accept() reads past the first lookahead byte only through bytes of
    // the alphabet.
    std::optional<std::bitset<256>> alphabet;
    std::optional<std::bitset<256>> first_bytes;
    // Given the regex's longest match [begin, end): the accepted end (<= end), or kRejected.
    size_t (*accept)(std::string_view text, size_t begin, size_t end) = nullptr;
    // accept() rejects every start right after an ASCII letter or digit, so after a rejected
    // start the scanner may skip the rest of its run of letters and digits.
    bool rejects_after_alnum = false;
};

// The built-in types, in priority order (the first wins a tie on the same span).
const std::vector<std::string>& builtin_types();
// The detector for one built-in type; nullopt for an unknown name (upper case expected).
std::optional<Detector> builtin_detector(std::string_view type);

// Validators, exposed for tests.
bool id_number_valid(std::string_view id);  // 18 chars: region digit, birth date, MOD 11-2
bool luhn_valid(std::string_view digits);   // digits only
bool calendar_date_valid(int year, int month, int day);
bool is_ascii_alnum(char c);

}  // namespace citadel::gateway::pii
