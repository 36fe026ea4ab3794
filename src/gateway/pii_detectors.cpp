#include "gateway/pii_detectors.h"

#include "core/status.h"

namespace citadel::gateway::pii {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Not glued to a longer run of ASCII letters or digits on either side (CJK text and
// punctuation around a number are fine).
bool standalone(std::string_view text, size_t begin, size_t end) {
    const bool left_ok = begin == 0 || !is_ascii_alnum(text[begin - 1]);
    const bool right_ok = end >= text.size() || !is_ascii_alnum(text[end]);
    return left_ok && right_ok;
}

std::bitset<256> alphabet_of(std::string_view chars, bool digits, bool upper, bool lower) {
    std::bitset<256> set;
    for (char c : chars) set.set(uint8_t(c));
    for (int c = 0; c < 256; ++c) {
        if ((digits && is_digit(char(c))) || (upper && c >= 'A' && c <= 'Z') ||
            (lower && c >= 'a' && c <= 'z')) {
            set.set(c);
        }
    }
    return set;
}

size_t accept_standalone(std::string_view text, size_t begin, size_t end) {
    return standalone(text, begin, end) ? end : kRejected;
}

size_t accept_id_number(std::string_view text, size_t begin, size_t end) {
    if (!standalone(text, begin, end)) return kRejected;
    return id_number_valid(text.substr(begin, end - begin)) ? end : kRejected;
}

std::string digits_of(std::string_view text) {
    std::string digits;
    for (char c : text) {
        if (is_digit(c)) digits += c;
    }
    return digits;
}

// A card number is one run of 13-19 digits, or groups joined by one kind of separator. A
// grouped number that fails may be followed by an extra group (an expiry year, a CVV): drop
// trailing groups while at least 13 digits remain.
size_t accept_bank_card(std::string_view text, size_t begin, size_t end) {
    if (begin > 0 && is_ascii_alnum(text[begin - 1])) return kRejected;
    std::string_view span = text.substr(begin, end - begin);
    const size_t sep_at = span.find_first_of(" -");
    if (sep_at == std::string_view::npos) {
        const bool ok = standalone(text, begin, end) && luhn_valid(span);
        return ok ? end : kRejected;
    }
    const char sep = span[sep_at];
    if (span.find(sep == ' ' ? '-' : ' ') != std::string_view::npos) return kRejected;
    while (true) {
        const std::string digits = digits_of(span);
        if (digits.size() < 13) return kRejected;
        const size_t span_end = begin + span.size();
        if (digits.size() <= 19 && standalone(text, begin, span_end) && luhn_valid(digits)) {
            return span_end;
        }
        const size_t last_sep = span.rfind(sep);
        if (last_sep == std::string_view::npos) return kRejected;
        span = span.substr(0, last_sep);
    }
}

bool is_local_part_char(char c) {
    return is_ascii_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

// Starts at the beginning of the local part; the domain is not cut short before a letter,
// digit, '-' or '_'.
size_t accept_email(std::string_view text, size_t begin, size_t end) {
    if (begin > 0 && is_local_part_char(text[begin - 1])) return kRejected;
    if (end < text.size()) {
        const char next = text[end];
        if (is_ascii_alnum(next) || next == '-' || next == '_') return kRejected;
    }
    return end;
}

// Not a piece of a longer dotted sequence (1.2.3.4.5, v1.2.3.4): no letter, digit or dot
// before; after it no letter or digit, and no dot followed by a digit (a final full stop is
// fine). Reads two bytes past the end, the second only after a '.', which is in the alphabet.
size_t accept_ipv4(std::string_view text, size_t begin, size_t end) {
    if (begin > 0 && (is_ascii_alnum(text[begin - 1]) || text[begin - 1] == '.')) return kRejected;
    if (end < text.size()) {
        if (is_ascii_alnum(text[end])) return kRejected;
        if (text[end] == '.' && end + 1 < text.size() && is_digit(text[end + 1])) return kRejected;
    }
    return end;
}

std::shared_ptr<RE2> compile_builtin(const std::string& pattern) {
    RE2::Options options;
    options.set_longest_match(true);
    options.set_log_errors(false);
    auto regex = std::make_shared<RE2>(pattern, options);
    CITADEL_CHECK(regex->ok());
    return regex;
}

struct Bytes {
    std::bitset<256> alphabet;
    std::bitset<256> first;
};

Detector make(std::string type, const std::string& pattern, size_t max_length, size_t lookahead,
              Bytes bytes, size_t (*accept)(std::string_view, size_t, size_t)) {
    Detector d;
    d.type = std::move(type);
    d.regex = compile_builtin(pattern);
    d.max_length = max_length;
    d.lookahead = lookahead;
    d.alphabet = bytes.alphabet;
    d.first_bytes = bytes.first;
    d.accept = accept;
    d.rejects_after_alnum = true;  // every built-in accept() checks the byte before
    return d;
}

// The patterns. Digits are [0-9] (ASCII only); every pattern's longest match fits its window.
constexpr char kIdNumber[] = R"([1-8][0-9]{16}[0-9Xx])";
// 13812345678, 138 1234 5678, 138-1234-5678; optionally +86 / 0086 / 86 and a space or dash.
constexpr char kPhone[] =
    R"((?:(?:\+86|0086|86)[ -]?)?1[3-9][0-9](?:[0-9]{8}|-[0-9]{4}-[0-9]{4}| [0-9]{4} [0-9]{4}))";
// One run of 13-19 digits; groups of 4 (the last one 1-4 digits); Amex/Diners 4-6-5 / 4-6-4.
constexpr char kBankCard[] =
    R"([0-9]{13,19}|[0-9]{4}(?:[ -][0-9]{4}){2,4}|[0-9]{4}(?:[ -][0-9]{4}){2,3}[ -][0-9]{1,3})"
    R"(|[0-9]{4}[ -][0-9]{6}[ -][0-9]{4,5})";
// See pii.h for the choice of formats.
constexpr char kPassport[] = R"([EG][0-9]{8}|E[A-HJ-NP-Z][0-9]{7}|[DSP]E[0-9]{7})";
constexpr char kEmail[] =
    R"([A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+)"
    R"([A-Za-z]{2,63})";
// Octets 0-255 without leading zeros.
std::string ipv4_pattern() {
    const std::string octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
    return octet + "(?:\\." + octet + "){3}";
}

}  // namespace

const std::vector<std::string>& builtin_types() {
    static const std::vector<std::string> types = {"ID_NUMBER", "PHONE", "BANK_CARD",
                                                   "PASSPORT",  "EMAIL", "IPV4"};
    return types;
}

std::optional<Detector> builtin_detector(std::string_view type) {
    const std::bitset<256> digits = alphabet_of("", true, false, false);
    if (type == "ID_NUMBER") {
        const Bytes bytes{alphabet_of("Xx", true, false, false),
                          alphabet_of("12345678", false, false, false)};
        return make("ID_NUMBER", kIdNumber, 18, 1, bytes, accept_id_number);
    }
    if (type == "PHONE") {
        const Bytes bytes{alphabet_of("+ -", true, false, false),
                          alphabet_of("+018", false, false, false)};
        return make("PHONE", kPhone, 18, 1, bytes, accept_standalone);
    }
    if (type == "BANK_CARD") {
        return make("BANK_CARD", kBankCard, 24, 1,
                    Bytes{alphabet_of(" -", true, false, false), digits}, accept_bank_card);
    }
    if (type == "PASSPORT") {
        const Bytes bytes{alphabet_of("", true, true, false),
                          alphabet_of("EGDSP", false, false, false)};
        return make("PASSPORT", kPassport, 9, 1, bytes, accept_standalone);
    }
    if (type == "EMAIL") {
        const Bytes bytes{alphabet_of("._%+-@", true, true, true),
                          alphabet_of("._%+-", true, true, true)};
        return make("EMAIL", kEmail, 254, 1, bytes, accept_email);
    }
    if (type == "IPV4") {
        return make("IPV4", ipv4_pattern(), 15, 2,
                    Bytes{alphabet_of(".", true, false, false), digits}, accept_ipv4);
    }
    return std::nullopt;
}

bool is_ascii_alnum(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

bool calendar_date_valid(int year, int month, int day) {
    if (year < 1900 || year > 2100 || month < 1 || month > 12 || day < 1) return false;
    static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    const int days = kDays[month - 1] + (month == 2 && leap ? 1 : 0);
    return day <= days;
}

// GB 11643-1999: digits 1-6 region (the first one 1-8), 7-14 birth date YYYYMMDD, 15-17
// sequence, 18 the ISO 7064 MOD 11-2 check character ('X' for 10).
bool id_number_valid(std::string_view id) {
    if (id.size() != 18 || id[0] < '1' || id[0] > '8') return false;
    for (size_t i = 0; i < 17; ++i) {
        if (!is_digit(id[i])) return false;
    }
    auto number = [&](size_t at, size_t n) {
        int v = 0;
        for (size_t i = at; i < at + n; ++i) v = v * 10 + (id[i] - '0');
        return v;
    };
    if (!calendar_date_valid(number(6, 4), number(10, 2), number(12, 2))) return false;
    static constexpr int kWeights[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
    static constexpr char kCheck[] = "10X98765432";  // indexed by the weighted sum mod 11
    int sum = 0;
    for (size_t i = 0; i < 17; ++i) sum += (id[i] - '0') * kWeights[i];
    const char check = id[17] == 'x' ? 'X' : id[17];
    return check == kCheck[sum % 11];
}

bool luhn_valid(std::string_view digits) {
    if (digits.empty()) return false;
    int sum = 0;
    bool twice = false;
    for (size_t i = digits.size(); i-- > 0;) {
        if (!is_digit(digits[i])) return false;
        int d = digits[i] - '0';
        if (twice) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
        sum += d;
        twice = !twice;
    }
    return sum % 10 == 0;
}

}  // namespace citadel::gateway::pii
