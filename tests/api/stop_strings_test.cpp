// StopMatcher: stop strings across every split, multi-byte characters, several and
// overlapping stops, and a randomized comparison with a brute-force reference.
#include <gtest/gtest.h>

#include <random>

#include "api/json_util.h"
#include "text/stop_strings.h"

namespace citadel::text {
namespace {

struct Result {
    std::string text;  // everything handed out (flush included when not stopped)
    bool stopped = false;
    std::string matched;
};

// Streams `text` cut at `cuts`; checks that every piece handed out is valid UTF-8 when the
// input is.
Result run(const std::vector<std::string>& stops, std::string_view text,
           const std::vector<size_t>& cuts) {
    StopMatcher m(stops);
    Result r;
    size_t from = 0;
    auto push = [&](std::string_view delta) {
        auto out = m.push(delta);
        if (api::is_valid_utf8(text)) {
            EXPECT_TRUE(api::is_valid_utf8(out.text))
                << "split character in \"" << out.text << "\"";
        }
        r.text += out.text;
        if (out.stopped) {
            r.stopped = true;
            r.matched = out.matched;
        }
    };
    for (const size_t cut : cuts) {
        push(text.substr(from, cut - from));
        from = cut;
    }
    push(text.substr(from));
    r.text += m.flush();
    return r;
}

// The same result for every single split and for byte-by-byte pushes.
void expect_all_splits(const std::vector<std::string>& stops, std::string_view text,
                       const std::string& want_text, const std::string& want_match) {
    std::vector<std::vector<size_t>> splits = {{}};
    for (size_t i = 0; i <= text.size(); ++i) splits.push_back({i});
    std::vector<size_t> every;
    for (size_t i = 1; i < text.size(); ++i) every.push_back(i);
    splits.push_back(every);
    for (const auto& cuts : splits) {
        const Result r = run(stops, text, cuts);
        const std::string where = cuts.size() == 1 ? std::to_string(cuts[0]) : "bytes";
        EXPECT_EQ(r.text, want_text) << "split " << where << " of " << text;
        EXPECT_EQ(r.stopped, !want_match.empty()) << "split " << where << " of " << text;
        EXPECT_EQ(r.matched, want_match) << "split " << where << " of " << text;
    }
}

TEST(StopMatcher, StopAcrossDeltas) {
    StopMatcher m({"END"});
    auto a = m.push("Hello EN");
    EXPECT_EQ(a.text, "Hello ");
    EXPECT_FALSE(a.stopped);
    auto b = m.push("D and more");
    EXPECT_EQ(b.text, "");
    EXPECT_TRUE(b.stopped);
    EXPECT_EQ(b.matched, "END");
    auto c = m.push("later");
    EXPECT_TRUE(c.stopped);
    EXPECT_EQ(c.text, "");
    EXPECT_EQ(m.flush(), "");
}

TEST(StopMatcher, HoldsOnlyAProperPrefix) {
    StopMatcher m({"stop"});
    EXPECT_EQ(m.push("so st").text, "so ");
    EXPECT_EQ(m.push("x").text, "stx");
    EXPECT_EQ(m.push("xxsto").text, "xx");
    EXPECT_EQ(m.flush(), "sto");
}

TEST(StopMatcher, EverySplit) {
    expect_all_splits({"STOP"}, "abc STOP def", "abc ", "STOP");
    expect_all_splits({"STOP"}, "abc STO def ST", "abc STO def ST", "");
    expect_all_splits({"\n\n", "User:", "###"}, "Answer: 4\nUser: next\n\n", "Answer: 4\n",
                      "User:");
    expect_all_splits({"\n\n", "User:"}, "a\n\nUser:", "a", "\n\n");
    expect_all_splits({"x"}, "x", "", "x");
    expect_all_splits({"abc"}, "", "", "");
}

TEST(StopMatcher, OverlappingPrefixes) {
    expect_all_splits({"aab"}, "aaab", "a", "aab");
    expect_all_splits({"abab"}, "abaabab", "aba", "abab");
    expect_all_splits({"abab"}, "ababab", "", "abab");
    // The first stop to complete wins: "bc" ends before "abcd" would.
    expect_all_splits({"abcd", "bc"}, "xabcd", "xa", "bc");
    // Same end: the longer one, which starts first.
    expect_all_splits({"b", "ab"}, "xab", "x", "ab");
    expect_all_splits({"ab", "b"}, "xab", "x", "ab");
}

TEST(StopMatcher, MultiByteCharacters) {
    expect_all_splits({"日本"}, "こんにちは日本語", "こんにちは", "日本");
    expect_all_splits({"日本"}, "こんにちは日曜日", "こんにちは日曜日", "");
    // Stops that share a first byte (0xe6) with the text's characters.
    expect_all_splits({"本当"}, "日本語の本当", "日本語の", "本当");
    expect_all_splits({"é!"}, "café é?é!", "café é?", "é!");
    expect_all_splits({"🙂x"}, "a🙂🙂x", "a🙂", "🙂x");
}

TEST(StopMatcher, HoldsWholeCharacters) {
    StopMatcher none({});
    EXPECT_EQ(none.push("a\xe4").text, "a");
    EXPECT_EQ(none.push("\xbd").text, "");
    EXPECT_EQ(none.push("\xa0z").text, "\xe4\xbd\xa0z");
    EXPECT_EQ(none.flush(), "");
    StopMatcher m({"", "x"});  // the empty stop is ignored
    EXPECT_EQ(m.push("ab").text, "ab");
    EXPECT_FALSE(m.stopped());
}

// The reference: the stop that ends first (then the longest), found by brute force.
Result reference(const std::vector<std::string>& stops, const std::string& text) {
    for (size_t end = 1; end <= text.size(); ++end) {
        const std::string* best = nullptr;
        for (const auto& s : stops) {
            if (s.empty() || s.size() > end) continue;
            if (text.compare(end - s.size(), s.size(), s) == 0 &&
                (!best || s.size() > best->size())) {
                best = &s;
            }
        }
        if (best) return {text.substr(0, end - best->size()), true, *best};
    }
    return {text, false, ""};
}

TEST(StopMatcher, RandomizedAgainstReference) {
    std::mt19937 rng(1234);
    auto random_string = [&](size_t max_len, const std::string& alphabet) {
        std::string s(rng() % (max_len + 1), ' ');
        for (char& c : s) c = alphabet[rng() % alphabet.size()];
        return s;
    };
    for (int iter = 0; iter < 3000; ++iter) {
        std::vector<std::string> stops(1 + rng() % 4);
        for (auto& s : stops) s = random_string(5, "ab");
        const std::string text = random_string(24, "abc");
        std::vector<size_t> cuts;
        for (size_t i = 1; i < text.size(); ++i) {
            if (rng() % 3 == 0) cuts.push_back(i);
        }
        const Result want = reference(stops, text);
        const Result got = run(stops, text, cuts);
        ASSERT_EQ(got.text, want.text) << "text " << text << " iter " << iter;
        ASSERT_EQ(got.stopped, want.stopped) << "text " << text;
        ASSERT_EQ(got.matched, want.matched) << "text " << text;
    }
}

}  // namespace
}  // namespace citadel::text
