// Constrained decoding: the JSON automaton against a table of texts, masks on hand-made and
// real vocabularies, the closing guarantee under random logits, and a constrained request
// through the engine on a reference model.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "engine/constraint/parts_matcher.h"
#include "engine/constraint/token_constraint.h"
#include "engine/engine.h"
#include "engine/event_queue.h"
#include "test_paths.h"
#include "text/tokenizer.h"

namespace citadel {
namespace {

using constraint::MatchState;
using constraint::PartsMatcher;
using Kind = ConstraintPart::Kind;

std::vector<ConstraintPart> json_object() {
    return {{Kind::kJsonObject, {}}};
}

// The Hermes tool-call format (Qwen): the name is one of `names`, the arguments an object.
std::vector<ConstraintPart> hermes_tool_call(std::vector<std::string> names) {
    return {{Kind::kLiteral, {"<tool_call>\n{\"name\": \""}},
            {Kind::kChoice, std::move(names)},
            {Kind::kLiteral, {"\", \"arguments\": "}},
            {Kind::kJsonObject, {}},
            {Kind::kLiteral, {"}\n</tool_call>"}}};
}

enum class Verdict { kComplete, kIncomplete, kRejected };

Verdict match(const PartsMatcher& m, std::string_view text) {
    MatchState s = m.start();
    if (!m.feed(s, text)) return Verdict::kRejected;
    return m.complete(s) ? Verdict::kComplete : Verdict::kIncomplete;
}

bool parses_as_object(const std::string& text) {
    const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    return !j.is_discarded() && j.is_object();
}

const std::vector<std::string> kValidObjects = {
    "{}",
    " {}",
    "\n{}",
    "\r\n{\r\n  \"a\": 1\r\n}",
    "{\"a\":1}",
    "{\"a\" : 1 , \"b\" :2}",
    "{\"a\": [1, 2.5, -3e10, 0, -0.0, 1E+2, 1e-2, 10.25e07]}",
    "{\"a\":{\"b\":{\"c\":[]}}}",
    "{\"a\":true,\"b\":false,\"c\":null}",
    "{\"s\":\"esc \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00 \\uffff\"}",
    "{\"u\":\"h\xC3\xA9llo \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x98\x80 \xF4\x8F\xBF\xBF \x7F\"}",
    "{\"k\":\"\\u0000\"}",
    "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ]\n}",
    "{\n    \"a\": {\n        \"b\": [\n            {\n                \"c\": 1\n            }\n   "
    "     ]\n    }\n}",
    "{\"\":\"\"}",
    "{\"a\":[{},[],\"\",[[[]]]]}",
    "{\"n\":-12345678901234567890123}",
};

TEST(ConstraintJson, AcceptsValidObjects) {
    const PartsMatcher m(json_object(), nullptr);
    for (const std::string& text : kValidObjects) {
        EXPECT_EQ(match(m, text), Verdict::kComplete) << text;
        EXPECT_TRUE(parses_as_object(text)) << text;
    }
}

TEST(ConstraintJson, RefusesInvalidText) {
    const PartsMatcher m(json_object(), nullptr);
    const std::vector<std::pair<std::string, Verdict>> cases = {
        {"[]", Verdict::kRejected},  // only an object
        {"1", Verdict::kRejected},
        {"\"a\"", Verdict::kRejected},
        {"   {}", Verdict::kRejected},  // three leading whitespace bytes
        {"{\"a\"}", Verdict::kRejected},
        {"{\"a\":}", Verdict::kRejected},
        {"{a:1}", Verdict::kRejected},
        {"{\"a\":1,}", Verdict::kRejected},
        {"{,}", Verdict::kRejected},
        {"{\"a\":01}", Verdict::kRejected},
        {"{\"a\":1.}", Verdict::kRejected},
        {"{\"a\":.5}", Verdict::kRejected},
        {"{\"a\":-}", Verdict::kRejected},
        {"{\"a\":1e}", Verdict::kRejected},
        {"{\"a\":+1}", Verdict::kRejected},
        {"{\"a\":1e100}", Verdict::kRejected},  // exponent beyond two digits
        {"{\"a\":tru}", Verdict::kRejected},
        {"{\"a\":True}", Verdict::kRejected},
        {"{\"a\":[1 2]}", Verdict::kRejected},
        {"{\"a\":1]", Verdict::kRejected},
        {"{\"a\":[1}", Verdict::kRejected},
        {"{\"a\":1}}", Verdict::kRejected},
        {"{\"a\":1} ", Verdict::kRejected},  // nothing after the object
        {"{\"a\":\"\\x\"}", Verdict::kRejected},
        {"{\"a\":\"\\u12G4\"}", Verdict::kRejected},
        {"{\"a\":\"\\uDE00\"}", Verdict::kRejected},           // lone low surrogate
        {"{\"a\":\"\\uD83D\"}", Verdict::kRejected},           // high surrogate alone
        {"{\"a\":\"\\uD83D\\u0041\"}", Verdict::kRejected},    // ... followed by no low one
        {"{\"a\":\"\n\"}", Verdict::kRejected},                // raw control character
        {"{\"a\":\"\xC0\xAF\"}", Verdict::kRejected},          // overlong
        {"{\"a\":\"\xE0\x80\xAF\"}", Verdict::kRejected},      // overlong
        {"{\"a\":\"\xED\xA0\x80\"}", Verdict::kRejected},      // surrogate
        {"{\"a\":\"\xF4\x90\x80\x80\"}", Verdict::kRejected},  // > U+10FFFF
        {"{\"a\":\"\xFF\"}", Verdict::kRejected},
        {"{\"a\":\"\xC3\"}", Verdict::kRejected},                       // truncated character
        {"{\"a\":" + std::string(20, ' ') + "1}", Verdict::kRejected},  // whitespace run
        {"{\"a\":\n\n1}", Verdict::kRejected},                          // a blank line
        {"{\"a\":\r\n\r\n1}", Verdict::kRejected},
        {"{\"a\":1", Verdict::kIncomplete},
        {"{\"a\":\"x", Verdict::kIncomplete},
        {"{\"a\":\"\\uD83D\\uDE", Verdict::kIncomplete},
    };
    for (const auto& [text, want] : cases) {
        EXPECT_EQ(match(m, text), want) << text;
        EXPECT_FALSE(match(m, text) == Verdict::kComplete && !parses_as_object(text)) << text;
    }
    // Depth: 32 open containers are fine, a 33rd is not.
    std::string deep = "{\"a\":" + std::string(31, '[');
    EXPECT_EQ(match(m, deep), Verdict::kIncomplete);
    EXPECT_EQ(match(m, deep + "["), Verdict::kRejected);
    EXPECT_EQ(match(m, deep + std::string(31, ']') + "}"), Verdict::kComplete);
}

// From every prefix of every valid text, following bytes that lower needed() by exactly one
// reaches a complete object in needed() bytes: the closing guarantee's premise.
TEST(ConstraintJson, OneByteAlwaysLowersNeededByOne) {
    const PartsMatcher m(json_object(), nullptr);
    for (const std::string& text : kValidObjects) {
        for (size_t cut = 0; cut < text.size(); ++cut) {
            MatchState s = m.start();
            ASSERT_TRUE(m.feed(s, std::string_view(text).substr(0, cut)));
            std::string closed = text.substr(0, cut);
            const int64_t need = m.needed(s);
            for (int64_t left = need; left > 0; --left) {
                bool found = false;
                for (int b = 0; b < 256 && !found; ++b) {
                    MatchState next = s;
                    if (m.step(next, uint8_t(b)) && m.needed(next) == left - 1) {
                        s = next;
                        closed += char(b);
                        found = true;
                    }
                }
                ASSERT_TRUE(found) << closed;
            }
            EXPECT_TRUE(m.complete(s)) << closed;
            EXPECT_TRUE(parses_as_object(closed)) << closed;
        }
    }
}

TEST(ConstraintParts, ChoicesAndLiterals) {
    const PartsMatcher m(hermes_tool_call({"get_weather", "get", "get_time"}), nullptr);
    const std::string head = "<tool_call>\n{\"name\": \"";
    const std::string tail = "\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
    EXPECT_EQ(match(m, head + "get_weather" + tail), Verdict::kComplete);
    EXPECT_EQ(match(m, head + "get" + tail), Verdict::kComplete);
    EXPECT_EQ(match(m, head + "get_time" + tail), Verdict::kComplete);
    EXPECT_EQ(match(m, head + "get_t" + tail), Verdict::kRejected);
    EXPECT_EQ(match(m, head + "search" + tail), Verdict::kRejected);
    EXPECT_EQ(match(m, head + "get_time" + tail + "\n"), Verdict::kRejected);
    // Least bytes from the start: the literals, the shortest name, "{}".
    MatchState s = m.start();
    EXPECT_EQ(m.needed(s), int64_t(head.size() + 3 + 16 + 2 + 14));
    ASSERT_TRUE(m.feed(s, head + "get_"));
    EXPECT_EQ(m.needed(s), int64_t(4 + 16 + 2 + 14));  // "time" is shorter than "weather"
}

// A vocabulary like byte-level BPE: every single byte (ids 0..255), then `extra`, then a
// control token (no bytes) and the EOG id, whose text must never count.
std::shared_ptr<const VocabBytes> byte_vocab(const std::vector<std::string>& extra) {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, char(b)));
    for (const std::string& e : extra) tokens.push_back(e);
    tokens.push_back("");
    tokens.push_back("<eog>");
    return VocabBytes::from_strings(std::move(tokens));
}

const std::vector<std::string> kJsonishTokens = {
    "{\"",
    "\"}",
    "\":",
    "\": ",
    ", \"",
    "\",\"",
    "true",
    "false",
    "null",
    "123",
    "-0.5",
    "e+",
    "\\u",
    "\\uD83D",
    "\\uDE00",
    "\xC3\xA9",
    "\xF0\x9F\x98\x80",
    "}}",
    "]}",
    "[{",
    "{}",
    "\"a\"",
    "\n  ",
    "    ",
    "<tool_call>",
    "\n</tool_call>",
    "get_",
    "weather",
    "time",
    "name",
    "arguments",
    "\"}\n",
};

struct Reply {
    std::string text;
    bool ended = false;  // sampled an EOG id
    int64_t tokens = 0;
    double mask_ms = 0;  // total time in mask()
};

// Samples from random logits (a random model) under the constraint until an EOG id or the
// budget ends. Also checks that no row is ever all -inf and that ids past the vocabulary
// are masked.
Reply generate(const std::shared_ptr<const VocabBytes>& vocab, std::vector<ConstraintPart> parts,
               std::vector<int32_t> eog, int64_t budget, uint64_t seed, int64_t n_vocab = 0) {
    if (n_vocab == 0) n_vocab = vocab->size() + 3;
    auto c = make_constraint(vocab, std::move(parts), eog);
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 2.0f);
    std::vector<float> row(static_cast<size_t>(n_vocab));
    std::vector<double> weight(static_cast<size_t>(n_vocab));
    Reply out;
    for (int64_t remaining = budget; remaining > 0; --remaining) {
        for (float& x : row) x = normal(rng);
        const auto t0 = std::chrono::steady_clock::now();
        c->mask(row.data(), n_vocab, remaining);
        out.mask_ms +=
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                .count();
        double total = 0;
        for (int64_t t = 0; t < n_vocab; ++t) {
            weight[size_t(t)] = std::isinf(row[size_t(t)]) ? 0.0 : std::exp(row[size_t(t)]);
            total += weight[size_t(t)];
        }
        for (int64_t t = vocab->size(); t < n_vocab; ++t) EXPECT_TRUE(std::isinf(row[size_t(t)]));
        if (total == 0) {
            ADD_FAILURE() << "every token masked after " << out.text;
            return out;
        }
        double u = std::uniform_real_distribution<double>(0, total)(rng);
        int32_t token = 0;
        while (token + 1 < n_vocab && (u >= weight[size_t(token)] || weight[size_t(token)] == 0)) {
            u -= weight[size_t(token++)];
        }
        c->accept(token);
        ++out.tokens;
        if (std::find(eog.begin(), eog.end(), token) != eog.end()) {
            out.ended = true;
            EXPECT_TRUE(c->complete());
            break;
        }
        out.text += vocab->bytes(token);
    }
    return out;
}

std::set<int32_t> allowed(TokenConstraint& c, int64_t n_vocab, int64_t remaining) {
    std::vector<float> row(static_cast<size_t>(n_vocab), 0.0f);
    c.mask(row.data(), n_vocab, remaining);
    std::set<int32_t> out;
    for (int32_t t = 0; t < n_vocab; ++t) {
        if (!std::isinf(row[size_t(t)])) out.insert(t);
    }
    return out;
}

TEST(ConstraintMask, TinyVocabulary) {
    //  ids:    0    1    2     3    4    5    6     7      8       9     10  11    12    13
    auto vocab = VocabBytes::from_strings(
        {"{", "}", "\"", "a", ":", "1", " ", "   ", "{\"", "\"}", "", "x", "{}", "<eog>"});
    auto c = make_constraint(vocab, json_object(), {13});
    const int64_t n = 14;
    EXPECT_EQ(allowed(*c, n, 100), (std::set<int32_t>{0, 6, 8, 12}));
    c->accept(8);  // {"  : inside a key, anything but control text and the EOG
    EXPECT_EQ(allowed(*c, n, 100), (std::set<int32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 11, 12}));
    c->accept(3);
    c->accept(2);
    c->accept(4);  // {"a":  a value
    EXPECT_EQ(allowed(*c, n, 100), (std::set<int32_t>{0, 2, 5, 6, 7, 8, 9, 12}));
    // Three tokens left: this one, one closer, the EOG: only values that leave one closer.
    EXPECT_EQ(allowed(*c, n, 3), (std::set<int32_t>{5, 12}));
    // Two: nothing fits any more; the fallback still moves toward the end.
    EXPECT_EQ(allowed(*c, n, 2), (std::set<int32_t>{5, 12}));
    c->accept(5);
    EXPECT_EQ(allowed(*c, n, 2), (std::set<int32_t>{1}));
    EXPECT_FALSE(c->complete());
    c->accept(1);
    EXPECT_TRUE(c->complete());
    EXPECT_EQ(allowed(*c, n, 100), (std::set<int32_t>{13}));
    c->accept(13);
    EXPECT_TRUE(c->complete());
}

TEST(ConstraintMask, NoEogLeavesTheCompleteRowUntouchedAndBadTokensEndMatching) {
    auto vocab = VocabBytes::from_strings({"{", "}", "x"});
    auto c = make_constraint(vocab, json_object(), {});
    EXPECT_EQ(allowed(*c, 3, 10), (std::set<int32_t>{0}));
    c->accept(0);
    c->accept(1);
    EXPECT_TRUE(c->complete());
    EXPECT_EQ(allowed(*c, 3, 10), (std::set<int32_t>{0, 1, 2}));
    auto bad = make_constraint(vocab, json_object(), {1});
    bad->accept(2);  // refused by the grammar: matching ends, only the EOG id is left
    EXPECT_FALSE(bad->complete());
    EXPECT_EQ(allowed(*bad, 3, 10), (std::set<int32_t>{1}));
}

// A vocabulary without '}' cannot close the object: the mask keeps what the grammar allows
// (the request ends by length), and only where nothing is allowed the EOG id.
TEST(ConstraintMask, MissingByteDegrades) {
    //                                      0     1    2    3    4     5
    auto vocab = VocabBytes::from_strings({"{", "\"", "a", ":", "1", "<eog>"});
    auto c = make_constraint(vocab, json_object(), {5});
    for (int32_t t : {0, 1, 2, 1, 3, 4}) c->accept(t);  // {"a":1
    EXPECT_EQ(allowed(*c, 6, 1), (std::set<int32_t>{4}));
    auto d = make_constraint(vocab, json_object(), {5});
    for (int32_t t : {0, 1, 2, 1, 3, 1, 2, 1}) d->accept(t);  // {"a":"a"
    EXPECT_EQ(allowed(*d, 6, 100), (std::set<int32_t>{5}));
    EXPECT_FALSE(d->complete());
}

TEST(ConstraintClosing, RandomLogitsAlwaysCloseAJsonObject) {
    auto vocab = byte_vocab(kJsonishTokens);
    const int32_t eog = int32_t(vocab->size() - 1);
    size_t longest = 0;
    int nested = 0;
    for (int64_t budget = 1; budget <= 40; ++budget) {
        for (uint64_t seed = 0; seed < 12; ++seed) {
            const Reply r = generate(vocab, json_object(), {eog}, budget, seed * 1000 + budget);
            EXPECT_LE(r.tokens, budget);
            // "{}" and the EOG fit in three tokens even at one byte per token.
            if (budget >= 3) {
                EXPECT_TRUE(r.ended) << "budget " << budget << ": " << r.text;
            }
            if (r.ended) {
                EXPECT_TRUE(parses_as_object(r.text)) << r.text;
            }
            longest = std::max(longest, r.text.size());
            nested += r.text.find_first_of("[{", 1) != std::string::npos;
        }
    }
    EXPECT_GT(longest, 30u);
    EXPECT_GT(nested, 10);
}

bool valid_tool_call(const std::string& text, const std::set<std::string>& names) {
    const std::string head = "<tool_call>\n", tail = "\n</tool_call>";
    if (text.rfind(head, 0) != 0 || text.size() < head.size() + tail.size() ||
        text.compare(text.size() - tail.size(), tail.size(), tail) != 0) {
        return false;
    }
    const std::string body = text.substr(head.size(), text.size() - head.size() - tail.size());
    const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    return !j.is_discarded() && j.is_object() && j.size() == 2 && j.contains("name") &&
           j["name"].is_string() && names.count(j["name"].get<std::string>()) &&
           j.contains("arguments") && j["arguments"].is_object();
}

TEST(ConstraintClosing, RandomLogitsGiveAHermesToolCall) {
    auto vocab = byte_vocab(kJsonishTokens);
    const int32_t eog = int32_t(vocab->size() - 1);
    const std::vector<std::string> names = {"get_weather", "get_time", "get", "search_web"};
    const auto parts = hermes_tool_call(names);
    const PartsMatcher m(parts, vocab.get());
    const int64_t least = m.needed(m.start());  // in tokens: the literals cost few
    EXPECT_LT(least, 45);
    std::set<std::string> seen;
    for (int64_t budget = least + 1; budget <= least + 30; ++budget) {
        for (uint64_t seed = 0; seed < 4; ++seed) {
            const Reply r = generate(vocab, parts, {eog}, budget, seed * 77 + budget);
            ASSERT_TRUE(r.ended) << "budget " << budget << ": " << r.text;
            ASSERT_TRUE(valid_tool_call(r.text, {names.begin(), names.end()})) << r.text;
            seen.insert(nlohmann::json::parse(r.text.substr(12, r.text.size() - 25))["name"]
                            .get<std::string>());
        }
    }
    EXPECT_GE(seen.size(), 3u);
}

// The real Qwen3 vocabulary (151,665 tokens; the model's rows have 151,936).
class ConstraintQwen : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        auto t = text::load_hf_tokenizer(test::shared_dir() + "/reference/tokenizer/hf/qwen3");
        ASSERT_TRUE(t.ok()) << t.error();
        tok_ = *t;
        const auto t0 = std::chrono::steady_clock::now();
        vocab_ = VocabBytes::build(*tok_);
        std::printf("Qwen3 VocabBytes::build: %.1f ms, %zu trie nodes\n",
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                        .count(),
                    vocab_->nodes().size());
    }
    static void TearDownTestSuite() {
        vocab_.reset();
        tok_.reset();
    }
    static int32_t id(const std::string& piece) {
        auto t = tok_->find(piece);
        EXPECT_TRUE(t.has_value()) << piece;
        return t.value_or(0);
    }
    // The token that is this one byte.
    static int32_t byte_token(uint8_t b) {
        const int64_t node = vocab_->child(0, b);
        EXPECT_GE(node, 0);
        const VocabBytes::Node& n = vocab_->nodes()[size_t(node)];
        EXPECT_GT(n.token_end, n.first_token);
        return vocab_->order()[n.first_token];
    }
    static constexpr int64_t kRows = 151936;
    static inline std::shared_ptr<const text::Tokenizer> tok_;
    static inline std::shared_ptr<const VocabBytes> vocab_;
};

TEST_F(ConstraintQwen, MaskTime) {
    ASSERT_NE(vocab_, nullptr);
    auto eog = tok_->end_of_generation();
    const std::vector<std::pair<const char*, std::string>> states = {
        {"start", ""},
        {"key", "{\""},
        {"value", "{\"name\": "},
        {"string", "{\"name\": \"The"},
        {"number", "{\"a\": [1, 2.5"},
        {"nested", "{\"a\": {\"b\": [{\"c\": \"x\", \"d\": "},
    };
    std::mt19937_64 rng(7);
    std::vector<float> logits(kRows);
    for (const auto& [name, prefix] : states) {
        auto c = make_constraint(vocab_, json_object(), eog);
        for (int32_t t : tok_->encode(prefix)) c->accept(t);
        ASSERT_FALSE(c->complete());
        constexpr int kCalls = 20;
        double ms = 0;
        int64_t kept = 0;
        for (int i = 0; i < kCalls; ++i) {
            for (float& x : logits) x = float(rng() % 1000) * 0.01f;
            const auto t0 = std::chrono::steady_clock::now();
            c->mask(logits.data(), kRows, 1000);
            ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                      .count();
            kept =
                std::count_if(logits.begin(), logits.end(), [](float x) { return !std::isinf(x); });
        }
        std::printf("Qwen3 json mask, %-7s: %.3f ms per call, %lld tokens allowed\n", name,
                    ms / kCalls, static_cast<long long>(kept));
        EXPECT_GT(kept, 0);
    }
}

// The trie walk (with its whole-subtree shortcut inside strings) allows exactly the tokens
// that feeding each token's bytes to the matcher allows.
TEST_F(ConstraintQwen, WalkMatchesBruteForce) {
    ASSERT_NE(vocab_, nullptr);
    const std::vector<int32_t> eog = tok_->end_of_generation();
    const std::vector<std::pair<std::vector<ConstraintPart>, std::string>> cases = {
        {json_object(), ""},
        {json_object(), "{\"k"},
        {json_object(), "{\"k\": \"\xE4\xB8"},  // inside a character
        {json_object(), "{\"k\": \"a\\"},       // after a backslash
        {json_object(), "{\"k\": \"\\uD83D"},   // a high surrogate
        {json_object(), "{\"k\": [1.5e"},
        {json_object(), "{\"k\": {\"j\": [true, "},
        {hermes_tool_call({"get_weather", "get_time"}), "<tool_call>\n{\"name\": \"get_"},
        {hermes_tool_call({"get_weather", "get_time"}),
         "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"a\": \"b"},
    };
    for (const auto& [parts, prefix] : cases) {
        const PartsMatcher m(parts, vocab_.get());
        MatchState at = m.start();
        ASSERT_TRUE(m.feed(at, prefix)) << prefix;
        for (int64_t remaining : {int64_t(1000), m.needed(at) + 3, m.needed(at) + 1}) {
            auto c = make_constraint(vocab_, parts, eog);
            for (char ch : prefix) c->accept(byte_token(uint8_t(ch)));
            const std::set<int32_t> got = allowed(*c, kRows, remaining);
            std::set<int32_t> want;
            for (int32_t t = 0; t < int32_t(vocab_->size()); ++t) {
                MatchState s = at;
                if (vocab_->bytes(t).empty() || !m.feed(s, vocab_->bytes(t))) continue;
                if (std::find(eog.begin(), eog.end(), t) != eog.end()) continue;
                if (m.needed(s) <= remaining - 2) want.insert(t);
            }
            EXPECT_EQ(got, want) << prefix << " remaining " << remaining;
            EXPECT_FALSE(want.empty()) << prefix;
        }
    }
}

TEST_F(ConstraintQwen, SpecialTokens) {
    ASSERT_NE(vocab_, nullptr);
    const std::vector<int32_t> eog = tok_->end_of_generation();
    const int32_t tool_call = id("<tool_call>"), im_end = id("<|im_end|>");
    auto c = make_constraint(vocab_, hermes_tool_call({"get_weather"}), eog);
    std::set<int32_t> first = allowed(*c, kRows, 1000);
    EXPECT_TRUE(first.count(tool_call));  // an added token matches its text
    EXPECT_TRUE(first.count(id("<")));    // so does spelling it out
    EXPECT_FALSE(first.count(im_end));    // control tokens never match text
    for (int32_t t : eog) EXPECT_FALSE(first.count(t));
    const std::string reply =
        "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n"
        "</tool_call>";
    for (int32_t t : tok_->encode(reply)) c->accept(t);
    ASSERT_TRUE(c->complete());
    std::set<int32_t> last = allowed(*c, kRows, 1000);
    EXPECT_EQ(last, std::set<int32_t>(eog.begin(), eog.end()));
}

TEST_F(ConstraintQwen, RandomLogitsGiveAToolCallAndJson) {
    ASSERT_NE(vocab_, nullptr);
    const std::vector<int32_t> eog = tok_->end_of_generation();
    const std::vector<std::string> names = {"get_weather", "get_time", "search_web"};
    double ms = 0;
    int64_t calls = 0;
    for (uint64_t seed = 0; seed < 4; ++seed) {
        const Reply r = generate(vocab_, hermes_tool_call(names), eog, 48, seed, kRows);
        ASSERT_TRUE(r.ended) << r.text;
        EXPECT_TRUE(valid_tool_call(r.text, {names.begin(), names.end()})) << r.text;
        ms += r.mask_ms;
        calls += r.tokens;
        if (seed == 0) std::printf("Qwen3 random tool call: %s\n", r.text.c_str());
    }
    for (uint64_t seed = 0; seed < 4; ++seed) {
        const Reply r = generate(vocab_, json_object(), eog, 24 + int64_t(seed) * 8, seed, kRows);
        ASSERT_TRUE(r.ended) << r.text;
        EXPECT_TRUE(parses_as_object(r.text)) << r.text;
        ms += r.mask_ms;
        calls += r.tokens;
    }
    std::printf("Qwen3 mask during random generation: %.3f ms per call (%lld calls)\n",
                ms / double(calls), static_cast<long long>(calls));
}

struct EngineReply {
    std::string text;
    EngineEvent finish;
};

EngineReply run_constrained(Engine& engine, const text::Tokenizer& tok,
                            std::shared_ptr<const VocabBytes> vocab, uint64_t seed) {
    GenerationRequest r;
    r.prompt = tok.encode("Once upon a time", {.add_special = true});
    r.max_tokens = 40;
    r.ignore_eos = seed % 2 == 0;
    r.sampling = SamplingParams{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = seed};
    r.constraint = make_constraint(std::move(vocab), json_object(), tok.end_of_generation());
    EventQueue q;
    EXPECT_TRUE(engine.submit(std::move(r), q.sink()).ok());
    std::vector<int32_t> tokens;
    EngineReply out;
    for (;;) {
        auto ev = q.pop(std::chrono::seconds(60));
        if (!ev) {
            ADD_FAILURE() << "engine stalled";
            break;
        }
        if (ev->kind == EngineEvent::Kind::kFinished) {
            out.finish = std::move(*ev);
            break;
        }
        tokens.push_back(ev->token);
    }
    out.text = tok.decode(tokens);
    return out;
}

// Through the engine: a reference model at temperature 1 ends its reply with a JSON object
// and an end-of-generation token inside max_tokens (and inside the context), even with
// ignore_eos.
TEST(ConstraintEngine, JsonReplyOnStories260K) {
    auto model = load_model(test::reference_model("stories260K.gguf"));
    ASSERT_TRUE(model.ok()) << model.error();
    auto tok = text::load_tokenizer(*(*model)->file);
    ASSERT_TRUE(tok.ok()) << tok.error();
    const std::vector<int32_t> eog = (*tok)->end_of_generation();
    ASSERT_FALSE(eog.empty());
    auto vocab = VocabBytes::build(**tok);
    const int64_t n_prompt =
        int64_t((*tok)->encode("Once upon a time", {.add_special = true}).size());
    for (int64_t n_ctx : {int64_t(0), n_prompt + 12}) {
        EngineOptions o;
        o.kv_mem_bytes = size_t(64) << 20;
        o.n_threads = 2;
        o.n_ctx = n_ctx;
        auto engine = Engine::create(*model, eog, o);
        ASSERT_TRUE(engine.ok()) << engine.error();
        for (uint64_t seed = 1; seed <= 6; ++seed) {
            const EngineReply r = run_constrained(**engine, **tok, vocab, seed);
            EXPECT_EQ(r.finish.reason, FinishReason::kStop) << r.text;
            EXPECT_TRUE(std::find(eog.begin(), eog.end(), r.finish.stop_token) != eog.end());
            EXPECT_LE(r.finish.usage.completion_tokens, n_ctx > 0 ? 12 : 40);
            EXPECT_TRUE(parses_as_object(r.text)) << r.text;
            std::printf("n_ctx %lld, seed %llu: %s\n", static_cast<long long>(n_ctx),
                        static_cast<unsigned long long>(seed), r.text.c_str());
        }
    }
}

}  // namespace
}  // namespace citadel
