#include "gateway/pii.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <random>

#include "gateway/pii_detectors.h"
#include "gateway/pii_stream.h"

namespace citadel::gateway {
namespace {

// Test-side check digits, computed independently of the validators under test.

// ISO 7064 MOD 11-2, the iterative form: p = (p + digit) * 2 mod 11; the check c makes
// (p + c) mod 11 == 1.
std::string with_id_check(const std::string& first17) {
    int p = 0;
    for (char c : first17) p = (p + (c - '0')) * 2 % 11;
    const int check = (12 - p) % 11;
    return first17 + (check == 10 ? 'X' : char('0' + check));
}

std::string with_luhn_check(const std::string& payload) {
    int sum = 0;
    for (size_t i = 0; i < payload.size(); ++i) {
        int d = payload[payload.size() - 1 - i] - '0';
        if (i % 2 == 0) d = d * 2 % 10 + d * 2 / 10;  // doubled: rightmost payload digit first
        sum += d;
    }
    return payload + char('0' + (10 - sum % 10) % 10);
}

std::string wrong_last_digit(std::string number) {
    char& last = number.back();
    last = last == 'X' ? '0' : last == '9' ? '0' : char(last + 1);
    return number;
}

std::shared_ptr<const PiiScanner> all_types() {
    auto scanner = PiiScanner::create({}, {});
    EXPECT_TRUE(scanner.ok()) << scanner.error();
    return *scanner;
}

std::string redact(std::string_view text) {
    static const auto scanner = all_types();
    return scanner->redact(text);
}

TEST(PiiIdNumber, ValidChecksumsAreRedacted) {
    EXPECT_EQ(with_id_check("11010519491231002"), "11010519491231002X");  // GB 11643 sample
    EXPECT_EQ(redact("ID 11010519491231002X ok"), "ID [ID_NUMBER] ok");
    EXPECT_EQ(redact("ID 11010519491231002x"), "ID [ID_NUMBER]");
    std::mt19937 rng(7);
    for (int i = 0; i < 200; ++i) {
        char birth[9];
        std::snprintf(birth, sizeof birth, "%04d%02d%02d", 1900 + int(rng() % 200),
                      1 + int(rng() % 12), 1 + int(rng() % 28));
        std::string first17 = std::to_string(110000 + rng() % 700000) + birth;
        first17 += std::to_string(100 + rng() % 900);
        const std::string id = with_id_check(first17);
        EXPECT_TRUE(pii::id_number_valid(id)) << id;
        EXPECT_EQ(redact("身份证" + id + "。"), "身份证[ID_NUMBER]。") << id;
        EXPECT_FALSE(pii::id_number_valid(wrong_last_digit(id))) << id;
    }
}

TEST(PiiIdNumber, BadChecksumDateOrRegionIsNotRedacted) {
    EXPECT_EQ(redact("11010519491231002"), "11010519491231002");  // 17 digits
    const std::string bad_checksum = wrong_last_digit("11010519491231002X");
    EXPECT_EQ(redact(bad_checksum), bad_checksum);
    for (const char* first17 : {"11010519990230123",     // 30 February
                                "11010519000229123",     // 1900 is not a leap year
                                "11010518991231123",     // before 1900
                                "91010519491231002",     // region digit 9
                                "01010519491231002"}) {  // region digit 0
        const std::string id = with_id_check(first17);
        EXPECT_EQ(redact(id), id);
    }
    EXPECT_EQ(redact(with_id_check("11010520000229123")), "[ID_NUMBER]");  // 2000 leap year
    EXPECT_TRUE(pii::calendar_date_valid(2024, 2, 29));
    EXPECT_FALSE(pii::calendar_date_valid(2023, 2, 29));
    EXPECT_FALSE(pii::calendar_date_valid(2101, 1, 1));
}

TEST(PiiPhone, AllFormats) {
    for (const char* phone :
         {"13812345678", "19912345678", "+8613812345678", "+86 13812345678", "+86-13812345678",
          "008613812345678", "0086 13812345678", "0086-13812345678", "86 13812345678",
          "138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "+86-138-1234-5678"}) {
        EXPECT_EQ(redact(std::string("call ") + phone + " now"), "call [PHONE] now") << phone;
        EXPECT_EQ(redact(std::string("电话：") + phone + "，谢谢"), "电话：[PHONE]，谢谢") << phone;
    }
}

TEST(PiiPhone, NearMissesAndLongerRunsAreNotPhones) {
    for (const char* text : {"12812345678", "1381234567", "138123456789", "abc13812345678",
                             "13812345678abc", "138 1234-5678", "138  1234 5678"}) {
        EXPECT_EQ(redact(text), text);
    }
    // A 19-digit order number (failing Luhn) is not "a phone number plus 8 digits".
    std::string order = "1381234567812345678";
    if (pii::luhn_valid(order)) order = wrong_last_digit(order);
    EXPECT_EQ(redact("order " + order), "order " + order);
    EXPECT_EQ(redact("10086 13812345678"), "10086 [PHONE]");
}

TEST(PiiBankCard, LuhnDecides) {
    EXPECT_TRUE(pii::luhn_valid("4111111111111111"));
    EXPECT_FALSE(pii::luhn_valid("4111111111111112"));
    EXPECT_EQ(redact("card 4111111111111111."), "card [BANK_CARD].");
    EXPECT_EQ(redact("card 4111 1111 1111 1111"), "card [BANK_CARD]");
    EXPECT_EQ(redact("card 4111-1111-1111-1111"), "card [BANK_CARD]");
    EXPECT_EQ(redact("amex 3782 822463 10005"), "amex [BANK_CARD]");
    EXPECT_EQ(redact("4111111111111112"), "4111111111111112");
    EXPECT_EQ(redact("4111 1111-1111 1111"), "4111 1111-1111 1111");  // mixed separators
    std::mt19937 rng(11);
    for (size_t length : {13, 15, 16, 17, 18, 19}) {
        std::string payload = "6";
        while (payload.size() < length - 1) payload += char('0' + rng() % 10);
        const std::string card = with_luhn_check(payload);
        EXPECT_EQ(redact("卡号" + card + "，"), "卡号[BANK_CARD]，") << card;
        EXPECT_EQ(redact(wrong_last_digit(card)), wrong_last_digit(card));
        EXPECT_EQ(redact("x" + card), "x" + card);  // glued to a letter
    }
}

TEST(PiiBankCard, TrailingGroupsAndLongerRuns) {
    // A grouped card followed by a CVV or an expiry year: the card alone is redacted.
    EXPECT_EQ(redact("4111 1111 1111 1111 123"), "[BANK_CARD] 123");
    EXPECT_EQ(redact("4111 1111 1111 1111 2027"), "[BANK_CARD] 2027");
    // A 20-digit run whose 16-digit prefix passes Luhn is not a card.
    EXPECT_EQ(redact("41111111111111110000"), "41111111111111110000");
    EXPECT_EQ(redact("041111111111111111"), "041111111111111111");
}

TEST(PiiPassport, Formats) {
    for (const char* passport : {"E12345678", "EA1234567", "EH7654321", "G12345678", "DE1234567",
                                 "SE1234567", "PE1234567"}) {
        EXPECT_EQ(redact(std::string("护照号") + passport + "。"), "护照号[PASSPORT]。");
    }
    for (const char* text : {"EI1234567", "EO1234567", "E1234567", "E123456789", "XE12345678",
                             "e12345678", "P1234567", "K12345678"}) {
        EXPECT_EQ(redact(text), text);
    }
}

TEST(PiiEmail, PracticalSyntax) {
    EXPECT_EQ(redact("mail zhang.san+test@mail.example.com.cn."), "mail [EMAIL].");
    EXPECT_EQ(redact("邮箱：li_si@example.org，谢谢"), "邮箱：[EMAIL]，谢谢");
    EXPECT_EQ(redact("<a.b-c%d@sub-domain.example.io>"), "<[EMAIL]>");
    for (const char* text :
         {"user@localhost", "a@b", "@example.com", "user@.com", "user@example.c"}) {
        EXPECT_EQ(redact(text), text);
    }
}

TEST(PiiIpv4, AddressesButNotVersionStrings) {
    EXPECT_EQ(redact("host 192.168.1.100 up"), "host [IPV4] up");
    EXPECT_EQ(redact("at 10.0.0.255."), "at [IPV4].");
    EXPECT_EQ(redact("255.255.255.255:8080"), "[IPV4]:8080");
    EXPECT_EQ(redact("服务器地址192.168.0.1，端口80"), "服务器地址[IPV4]，端口80");
    for (const char* text : {"1.2.3.4.5", "version 1.2.3.4.5.6", "256.1.1.1", "01.2.3.4",
                             "1.2.3.04", "v1.2.3.4", "192.168.1", "1.2.3.4a"}) {
        EXPECT_EQ(redact(text), text);
    }
}

TEST(PiiOverlaps, LeftmostLongestThenPriority) {
    // An ID number that also passes Luhn: same span, ID_NUMBER has priority.
    std::string id;
    for (int seq = 100; seq < 1000 && id.empty(); ++seq) {
        const std::string candidate = with_id_check("11010519800101" + std::to_string(seq));
        if (pii::luhn_valid(candidate)) id = candidate;
    }
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(redact(id), "[ID_NUMBER]");
    // +86 and a phone that together pass Luhn: PHONE before BANK_CARD.
    std::string phone;
    for (int n = 0; n < 100 && phone.empty(); ++n) {
        const std::string candidate = "86138123456" + std::to_string(10 + n);
        if (pii::luhn_valid(candidate)) phone = candidate;
    }
    ASSERT_FALSE(phone.empty());
    std::vector<PiiMatch> found;
    EXPECT_EQ(all_types()->redact(phone, &found), "[PHONE]");
    // An address containing a phone number is one e-mail address.
    EXPECT_EQ(redact("13812345678@example.com"), "[EMAIL]");
}

TEST(PiiScanner, MatchesAreSortedAndCarryOffsets) {
    std::vector<PiiMatch> found;
    const std::string text = "手机13812345678，邮箱a@example.com";
    EXPECT_EQ(all_types()->redact(text, &found), "手机[PHONE]，邮箱[EMAIL]");
    ASSERT_EQ(found.size(), 2u);
    EXPECT_EQ(text.substr(found[0].begin, found[0].end - found[0].begin), "13812345678");
    EXPECT_EQ(found[0].type, "PHONE");
    EXPECT_EQ(text.substr(found[1].begin, found[1].end - found[1].begin), "a@example.com");
    EXPECT_EQ(all_types()->max_span(), 254u);  // the e-mail window
}

TEST(PiiScanner, TypeSelectionAndCustomPatterns) {
    PiiPattern employee;
    employee.name = "employee_id";
    employee.regex = "EMP-[0-9]{6}";
    employee.max_length = 16;
    auto scanner = PiiScanner::create({"email", "PHONE"}, {employee});
    ASSERT_TRUE(scanner.ok()) << scanner.error();
    EXPECT_EQ((*scanner)->redact("EMP-123456 a@b.cn 13812345678 4111111111111111"),
              "[EMPLOYEE_ID] [EMAIL] [PHONE] 4111111111111111");
    EXPECT_EQ((*scanner)->max_span(), 254u);

    auto unknown = PiiScanner::create({"PHONE", "SSN"}, {});
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.error().find("'SSN'"), std::string::npos) << unknown.error();

    PiiPattern bad = employee;
    bad.regex = "EMP-([0-9]{6}";
    auto invalid = PiiScanner::create({}, {bad});
    ASSERT_FALSE(invalid.ok());
    EXPECT_NE(invalid.error().find("'employee_id'"), std::string::npos) << invalid.error();
    EXPECT_NE(invalid.error().find("missing )"), std::string::npos) << invalid.error();

    bad.regex = "x*";
    EXPECT_FALSE(PiiScanner::create({}, {bad}).ok());  // matches the empty string
    bad.regex = "x";
    bad.max_length = 0;
    EXPECT_FALSE(PiiScanner::create({}, {bad}).ok());
    bad.max_length = 1025;
    EXPECT_FALSE(PiiScanner::create({}, {bad}).ok());
    bad.max_length = 8;
    bad.name = "bad name";
    EXPECT_FALSE(PiiScanner::create({}, {bad}).ok());
    bad.name = "phone";
    EXPECT_FALSE(PiiScanner::create({}, {bad}).ok());        // clashes with the enabled PHONE
    EXPECT_TRUE(PiiScanner::create({"EMAIL"}, {bad}).ok());  // PHONE not enabled
}

TEST(PiiScanner, CustomPatternWindowAndBoundaries) {
    PiiPattern token;
    token.name = "token";
    token.regex = R"(\btok_[a-z0-9]+\b)";
    token.max_length = 12;
    auto scanner = PiiScanner::create({"EMAIL"}, {token});
    ASSERT_TRUE(scanner.ok()) << scanner.error();
    EXPECT_EQ((*scanner)->redact("a tok_abc123 b"), "a [TOKEN] b");
    EXPECT_EQ((*scanner)->redact("xtok_abc123"), "xtok_abc123");
    // Longer than the 12-byte window: \b cannot hold inside the word, so nothing matches.
    EXPECT_EQ((*scanner)->redact("tok_abcdefghijk"), "tok_abcdefghijk");
}

TEST(PiiMode, ParseAndName) {
    for (PiiMode mode : {PiiMode::kOff, PiiMode::kRedact, PiiMode::kBlock, PiiMode::kLog}) {
        EXPECT_EQ(parse_pii_mode(pii_mode_name(mode)), mode);
    }
    EXPECT_FALSE(parse_pii_mode("mask").has_value());
}

// ---- Streaming ----

bool valid_utf8(std::string_view s) {
    for (size_t i = 0; i < s.size();) {
        const uint8_t c = uint8_t(s[i]);
        const size_t n = c < 0x80         ? 1
                         : (c >> 5) == 6  ? 2
                         : (c >> 4) == 14 ? 3
                         : (c >> 3) == 30 ? 4
                                          : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k) {
            if ((uint8_t(s[i + k]) & 0xC0) != 0x80) return false;
        }
        i += n;
    }
    return true;
}

// Random text built from PII, near misses and filler, glued together or separated.
class TextGenerator {
  public:
    explicit TextGenerator(uint32_t seed) : rng_(seed) {}

    std::string text(bool allow_invalid_utf8) {
        std::string out;
        const int pieces = 1 + int(rng_() % 14);
        for (int i = 0; i < pieces; ++i) {
            out += piece(allow_invalid_utf8);
            static const char* kSeparators[] = {"", " ", "  ", "，", "\n", ".", "-", "：", "@"};
            out += kSeparators[rng_() % 9];
        }
        return out;
    }

  private:
    std::string digits(size_t n) {
        std::string s;
        while (s.size() < n) s += char('0' + rng_() % 10);
        return s;
    }
    std::string pick(std::initializer_list<const char*> items) {
        return *(items.begin() + rng_() % items.size());
    }
    std::string id_number() {
        std::string id = with_id_check("3201" + digits(2) + "19" + digits(2) + "0" +
                                       std::to_string(1 + rng_() % 9) + "1" +
                                       std::to_string(rng_() % 9) + digits(3));
        return rng_() % 4 == 0 ? wrong_last_digit(id) : id;
    }
    std::string phone() {
        const std::string n = "1" + std::to_string(3 + rng_() % 7) + digits(9);
        switch (rng_() % 5) {
            case 0:
                return n;
            case 1:
                return pick({"+86", "0086", "86"}) + pick({"", " ", "-"}) + n;
            case 2:
                return n.substr(0, 3) + " " + n.substr(3, 4) + " " + n.substr(7);
            case 3:
                return n.substr(0, 3) + "-" + n.substr(3, 4) + "-" + n.substr(7);
            default:
                return n.substr(0, 10);
        }
    }
    std::string card() {
        std::string c = with_luhn_check("62" + digits(11 + rng_() % 6));
        if (rng_() % 4 == 0) c = wrong_last_digit(c);
        if (rng_() % 2 == 0) {
            const char sep = rng_() % 2 ? ' ' : '-';
            std::string grouped;
            for (size_t i = 0; i < c.size(); i += 4)
                grouped += (i ? std::string(1, sep) : "") + c.substr(i, 4);
            c = grouped;
        }
        return c;
    }
    std::string email() {
        return pick({"zhang", "li.si", "a+b", "x_y", "w"}) + "@" +
               pick({"example.com", "mail.qq.com", "a.cn", "x", "b.c", "sub.domain.org."});
    }
    std::string ipv4() {
        const bool wide = rng_() % 2 == 0;  // 3-digit octets: a full 15-byte window
        auto octet = [&] { return std::to_string(wide ? 100 + rng_() % 160 : rng_() % 300); };
        std::string ip = octet();
        const int parts = 2 + int(rng_() % 4);
        for (int i = 0; i < parts; ++i) {
            ip += '.';
            ip += octet();
        }
        return ip;
    }
    std::string filler(bool allow_invalid_utf8) {
        switch (rng_() % 8) {
            case 0:
                return pick({"hello", "world", "the", "Ignore", "key=", "x"});
            case 1:
                return pick({"你好", "手机号是", "身份证", "，谢谢。", "地址"});
            case 2:
                return pick({"😀", "é", "€", "ｉｇ", "\xe2\x80\x8b"});
            case 3:
                return digits(1 + rng_() % 25);
            case 4:
                return pick({"EMP-", "tok_", "E", "EA", "DE", "G", "secret-"});
            case 5:
                return pick({"EMP-123456", "tok_ab12", "secret-abc", "key=ABCDEFGH12"});
            case 6:
                return allow_invalid_utf8 ? std::string(1, char(0x80 + rng_() % 0x80)) : "z";
            default:
                return pick({"E12345678", "EB1234567", "G87654321", "PE7654321"});
        }
    }
    std::string piece(bool allow_invalid_utf8) {
        switch (rng_() % 8) {
            case 0:
                return id_number();
            case 1:
                return phone();
            case 2:
                return card();
            case 3:
                return email();
            case 4:
                return ipv4();
            default:
                return filler(allow_invalid_utf8);
        }
    }

    std::mt19937 rng_;
};

std::shared_ptr<const PiiScanner> streaming_scanner(std::vector<std::string> types,
                                                    bool with_custom) {
    std::vector<PiiPattern> custom(3);
    custom[0].name = "employee";
    custom[0].regex = "EMP-[0-9]{6}";
    custom[0].max_length = 10;
    custom[1].name = "token";
    custom[1].regex = R"(\btok_[a-z0-9]+\b)";
    custom[1].max_length = 12;
    custom[2].name = "key";
    custom[2].regex = R"((?i)(?:secret-[a-z]+|key=[A-Z0-9]{8,}$))";
    custom[2].max_length = 24;
    if (!with_custom) custom.clear();
    auto scanner = PiiScanner::create(std::move(types), custom);
    EXPECT_TRUE(scanner.ok()) << scanner.error();
    return *scanner;
}

// Splits `text` at random points (chunk lengths 1..max_chunk), checks each output piece and
// the hold-back bound, and returns the concatenated output.
std::string stream(const std::shared_ptr<const PiiScanner>& scanner, std::string_view text,
                   size_t max_chunk, std::mt19937& rng, bool check_utf8) {
    PiiStreamRedactor redactor(scanner);
    std::string out;
    for (size_t pos = 0; pos < text.size();) {
        const size_t n = std::min(text.size() - pos, 1 + rng() % max_chunk);
        const std::string piece = redactor.push(text.substr(pos, n));
        pos += n;
        if (check_utf8) {
            EXPECT_TRUE(valid_utf8(piece)) << "piece: " << piece;
        }
        EXPECT_LE(redactor.held_bytes(), scanner->max_span() + 4);
        out += piece;
    }
    const std::string rest = redactor.finish();
    if (check_utf8) {
        EXPECT_TRUE(valid_utf8(rest));
    }
    return out + rest;
}

// The streaming invariant as a property: thousands of random texts, each split four ways
// (1-byte chunks, which split every UTF-8 character, up to 40-byte chunks), for all types
// with user patterns and for single types (no other type's hold-back hiding a mistake).
TEST(PiiStream, EqualsWholeTextRedactionForAnySplit) {
    struct Config {
        std::vector<std::string> types;
        bool with_custom;
        int texts;
    };
    const Config configs[] = {{{}, true, 3000},
                              {{"IPV4"}, false, 600},
                              {{"BANK_CARD"}, false, 600},
                              {{"PHONE"}, false, 600},
                              {{"ID_NUMBER", "PASSPORT"}, false, 600},
                              {{"EMAIL"}, false, 600}};
    TextGenerator generator(2024);
    std::mt19937 rng(99);
    for (const Config& config : configs) {
        const auto scanner = streaming_scanner(config.types, config.with_custom);
        int redacted_texts = 0;
        for (int i = 0; i < config.texts; ++i) {
            const bool invalid_utf8 = i % 5 == 4;
            const std::string text = generator.text(invalid_utf8);
            const std::string expected = scanner->redact(text);
            if (expected != text) ++redacted_texts;
            for (size_t max_chunk : {size_t(1), size_t(3), size_t(7), size_t(40)}) {
                const std::string got = stream(scanner, text, max_chunk, rng, !invalid_utf8);
                ASSERT_EQ(got, expected) << "text: " << text << "\nmax chunk: " << max_chunk;
            }
        }
        EXPECT_GT(redacted_texts, config.texts / 10);  // the generator does produce PII
    }
}

TEST(PiiStream, BuiltinsHoldBackOnlyWhatMightBecomeAMatch) {
    PiiStreamRedactor redactor(all_types());
    EXPECT_EQ(redactor.push("Hello there, how are you? "), "Hello there, how are you? ");
    EXPECT_EQ(redactor.push("My number: 138"), "My number: ");
    EXPECT_EQ(redactor.push("1234"), "");
    EXPECT_EQ(redactor.push("5678"), "");  // might still grow into a card number
    EXPECT_EQ(redactor.push("，好的"), "[PHONE]，好的");
    EXPECT_EQ(redactor.push("你好"), "你好");
    EXPECT_EQ(redactor.push("\xe4\xbd"), "");     // the first two bytes of 你
    EXPECT_EQ(redactor.push("\xa0 bye"), "你 ");  // "bye" might start an e-mail address
    EXPECT_EQ(redactor.push(" "), "bye ");
    EXPECT_EQ(redactor.push("10.0.0.1"), "");
    EXPECT_EQ(redactor.finish(), "[IPV4]");
    EXPECT_EQ(redactor.found_types(), (std::vector<std::string>{"PHONE", "IPV4"}));
}

TEST(PiiStream, FoundTypesAreDistinctInOrder) {
    PiiStreamRedactor redactor(all_types());
    std::string out = redactor.push("a@b.cn 13812345678 ");
    out += redactor.push("c@d.cn 192.168.0.1");
    out += redactor.finish();
    EXPECT_EQ(out, "[EMAIL] [PHONE] [EMAIL] [IPV4]");
    EXPECT_EQ(redactor.found_types(), (std::vector<std::string>{"EMAIL", "PHONE", "IPV4"}));
}

// Measurements (run with --gtest_also_run_disabled_tests); prints microseconds.
TEST(PiiScanner, DISABLED_Timing) {
    const auto scanner = all_types();
    std::string plain, with_pii;
    while (plain.size() < 4096) plain += "The quick brown fox jumps over the lazy dog 42 times. ";
    plain.resize(4096);
    while (with_pii.size() < 4096) {
        with_pii +=
            "客户张三，手机13812345678，邮箱zhang.san@example.com，卡号4111 1111 1111 "
            "1111，身份证11010519491231002X，IP 10.1.2.3。 ";
    }
    with_pii.resize(4096);
    for (const std::string* text : {&plain, &with_pii}) {
        const int rounds = 2000;
        size_t matches = 0;
        const auto start = std::chrono::steady_clock::now();
        for (int i = 0; i < rounds; ++i) matches += scanner->scan(*text).size();
        const double us =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count() /
            rounds;
        std::printf("scan 4 KiB %s: %.1f us (%zu matches)\n",
                    text == &plain ? "without PII" : "with PII", us, matches / rounds);
    }
    for (const std::string* text : {&plain, &with_pii}) {
        const int rounds = 200;
        const auto start = std::chrono::steady_clock::now();
        size_t chunks = 0;
        for (int i = 0; i < rounds; ++i) {
            PiiStreamRedactor redactor(scanner);
            for (size_t pos = 0; pos < text->size(); pos += 4, ++chunks) {
                redactor.push(std::string_view(*text).substr(pos, 4));
            }
            redactor.finish();
        }
        const double us =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count() /
            double(chunks);
        std::printf("stream 4-byte chunks %s: %.2f us per chunk\n",
                    text == &plain ? "without PII" : "with PII", us);
    }
}

}  // namespace
}  // namespace citadel::gateway
