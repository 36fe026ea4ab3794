#include "loadgen/sse.h"

#include <gtest/gtest.h>

namespace citadel::loadgen {
namespace {

std::vector<std::string> feed_in_pieces(const std::string& stream, size_t piece) {
    SseParser p;
    std::vector<std::string> out;
    for (size_t at = 0; at < stream.size(); at += piece) p.feed(stream.substr(at, piece), out);
    return out;
}

TEST(LoadgenSse, EventsSurviveAnySplit) {
    const std::string stream =
        ": a comment\n\ndata: {\"a\":1}\n\nevent: x\ndata: {\"b\":2}\r\n\r\ndata:[DONE]\r\r";
    for (size_t piece = 1; piece <= stream.size(); ++piece) {
        const std::vector<std::string> ev = feed_in_pieces(stream, piece);
        ASSERT_EQ(ev.size(), 3u) << "piece " << piece;
        EXPECT_EQ(ev[0], "{\"a\":1}");
        EXPECT_EQ(ev[1], "{\"b\":2}");
        EXPECT_EQ(ev[2], "[DONE]");
    }
}

TEST(LoadgenSse, MultiLineDataIsJoined) {
    const std::vector<std::string> ev = feed_in_pieces("data: a\ndata: b\n\n", 100);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(ev[0], "a\nb");
}

TEST(LoadgenSse, AnUnfinishedEventWaits) {
    SseParser p;
    std::vector<std::string> out;
    p.feed("data: {\"x\":1}\n", out);
    EXPECT_TRUE(out.empty());
    EXPECT_GT(p.pending_bytes(), 0u);
    p.feed("\n", out);
    EXPECT_EQ(out.size(), 1u);
}

TEST(LoadgenSse, ChatChunkContentAndUsage) {
    auto c = parse_chunk(R"({"choices":[{"index":0,"delta":{"content":"Hello"}}]})", Api::kChat);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->content_chars, 5u);
    EXPECT_FALSE(c->completion_tokens);
    c = parse_chunk(R"({"choices":[{"index":0,"delta":{"role":"assistant"}}]})", Api::kChat);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->content_chars, 0u);
    c = parse_chunk(R"({"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":7}})",
                    Api::kChat);
    ASSERT_TRUE(c);
    EXPECT_EQ(*c->prompt_tokens, 12);
    EXPECT_EQ(*c->completion_tokens, 7);
    c = parse_chunk(R"({"choices":[{"delta":{"content":null}}],"usage":null})", Api::kChat);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->content_chars, 0u);
    EXPECT_FALSE(c->prompt_tokens);
}

TEST(LoadgenSse, CompletionsChunkText) {
    auto c = parse_chunk(R"({"choices":[{"index":0,"text":"abc","finish_reason":null}]})",
                         Api::kCompletions);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->content_chars, 3u);
    // A chat-shaped chunk carries no completions text.
    c = parse_chunk(R"({"choices":[{"delta":{"content":"abc"}}]})", Api::kCompletions);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->content_chars, 0u);
}

TEST(LoadgenSse, DoneErrorsAndJunk) {
    auto c = parse_chunk("[DONE]", Api::kChat);
    ASSERT_TRUE(c);
    EXPECT_TRUE(c->done);
    c = parse_chunk(R"({"error":{"message":"out of memory","type":"server_error"}})", Api::kChat);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->error, "out of memory");
    c = parse_chunk(R"({"choices":[{"delta":{"content":"ok"}}],"error":null})", Api::kChat);
    ASSERT_TRUE(c);
    EXPECT_EQ(c->error, "");
    EXPECT_EQ(c->content_chars, 2u);
    EXPECT_FALSE(parse_chunk("not json", Api::kChat));
    EXPECT_FALSE(parse_chunk("[1,2]", Api::kChat));
}

TEST(LoadgenSse, ErrorMessageOfTheCommonShapes) {
    EXPECT_EQ(error_message_of(R"({"error":{"message":"invalid API key"}})"), "invalid API key");
    EXPECT_EQ(error_message_of(R"({"error":"model not found"})"), "model not found");
    EXPECT_EQ(error_message_of(R"({"message":"nope"})"), "nope");
    EXPECT_EQ(error_message_of("plain text\n"), "plain text");
    EXPECT_EQ(error_message_of(""), "(empty body)");
    EXPECT_LE(error_message_of(std::string(1000, 'x')).size(), 303u);
    // A cut never splits a UTF-8 sequence ("é" is 2 bytes: 299 ASCII + é straddles byte 300).
    const std::string cut =
        error_message_of(std::string(299, 'x') + "\xC3\xA9" + std::string(50, 'y'));
    EXPECT_EQ(cut, std::string(299, 'x') + "...");
    EXPECT_EQ(error_message_of(R"({"error":{"code":7}})"), R"({"code":7})");
}

}  // namespace
}  // namespace citadel::loadgen
