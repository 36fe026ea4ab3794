#include "loadgen/prompts.h"

#include <gtest/gtest.h>

#include <sstream>

namespace citadel::loadgen {
namespace {

size_t word_count(const std::string& s) {
    std::istringstream in(s);
    std::string w;
    size_t n = 0;
    while (in >> w) ++n;
    return n;
}

TEST(LoadgenPrompts, SyntheticIsDeterministicAndInRange) {
    const SyntheticSpec spec{
        .count = 50, .input_len = 40, .spread = 0.25, .output_len = 64, .seed = 5};
    const std::vector<Prompt> a = synthetic_prompts(spec), b = synthetic_prompts(spec);
    ASSERT_EQ(a.size(), 50u);
    for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].text, b[i].text);
        EXPECT_EQ(a[i].max_tokens, 64);
        const size_t words = word_count(a[i].text);  // a number + (length - 2) words
        EXPECT_GE(words, 30u - 1);
        EXPECT_LE(words, 50u - 1);
    }
    EXPECT_NE(a[0].text, a[1].text);
    SyntheticSpec other = spec;
    other.seed = 6;
    EXPECT_NE(synthetic_prompts(other)[3].text, a[3].text);
}

TEST(LoadgenPrompts, SyntheticWithoutSpreadHasOneLength) {
    const std::vector<Prompt> p =
        synthetic_prompts({.count = 10, .input_len = 16, .output_len = 8, .seed = 1});
    for (const Prompt& x : p) EXPECT_EQ(word_count(x.text), 15u);
}

TEST(LoadgenPrompts, ShareGptAndPromptLines) {
    const std::string text =
        R"({"conversations":[{"from":"human","value":"What is 2+2?"},{"from":"gpt","value":"It is four, as everyone knows."}]})"
        "\n\n"
        R"({"prompt":"Say hi","max_tokens":5})"
        "\n"
        R"({"prompt":"Default length"})"
        "\n"
        R"({"conversations":[{"from":"system","value":"only a system turn"}]})"
        "\n";
    int skipped = -1;
    auto p = parse_dataset(text, "d.jsonl", 99, 0, &skipped);
    ASSERT_TRUE(p) << p.error();
    ASSERT_EQ(p->size(), 3u);
    EXPECT_EQ((*p)[0].text, "What is 2+2?");
    EXPECT_EQ((*p)[0].max_tokens, 8);  // 30 characters / 4, rounded up
    EXPECT_EQ((*p)[1].text, "Say hi");
    EXPECT_EQ((*p)[1].max_tokens, 5);
    EXPECT_EQ((*p)[2].max_tokens, 99);
    EXPECT_EQ(skipped, 1);
    auto forced = parse_dataset(text, "d.jsonl", 99, 7, nullptr);
    ASSERT_TRUE(forced);
    for (const Prompt& x : *forced) EXPECT_EQ(x.max_tokens, 7);
}

TEST(LoadgenPrompts, AJsonArrayFile) {
    auto p =
        parse_dataset(R"([{"prompt":"a"},{"prompt":"b","max_tokens":3}])", "d.json", 4, 0, nullptr);
    ASSERT_TRUE(p) << p.error();
    ASSERT_EQ(p->size(), 2u);
    EXPECT_EQ((*p)[1].max_tokens, 3);
}

TEST(LoadgenPrompts, BadLinesNameTheLine) {
    auto expect_error = [](const std::string& text, const std::string& part) {
        auto p = parse_dataset(text, "d.jsonl", 16, 0, nullptr);
        ASSERT_FALSE(p) << text;
        EXPECT_NE(p.error().find(part), std::string::npos) << p.error();
    };
    expect_error("{\"prompt\":\"ok\"}\n{\"prompt\": oops}\n", "d.jsonl line 2: not valid JSON");
    expect_error("{\"prompt\":\"ok\"}\n{\"prompt\":\"x\",\"max_tokens\":7e7777}\n",
                 "d.jsonl line 2: not valid JSON");  // a number too large: out_of_range
    expect_error("{\"prompt\":\"ok\"}\n\n[1,2]\n", "d.jsonl line 3: expected a JSON object");
    expect_error("{\"text\":\"x\"}\n", "line 1: expected {\"prompt\"");
    expect_error("{\"prompt\":5}\n", "line 1: \"prompt\" is not a string");
    expect_error("{\"prompt\":\"x\",\"max_tokens\":0}\n", "line 1: \"max_tokens\" must be");
    expect_error("{\"conversations\":{}}\n", "line 1: \"conversations\" is not an array");
    expect_error("{\"conversations\":[{\"from\":\"human\"}]}\n", "line 1: each turn needs");
    expect_error("\n\n", "has no prompts");
}

TEST(LoadgenPrompts, AMissingFile) {
    auto p = load_dataset("/nonexistent/prompts.jsonl", 16, 0, nullptr);
    ASSERT_FALSE(p);
    EXPECT_NE(p.error().find("cannot open --dataset /nonexistent/prompts.jsonl"),
              std::string::npos);
}

}  // namespace
}  // namespace citadel::loadgen
