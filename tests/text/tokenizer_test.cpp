// Tokenizer behaviour beyond the reference vectors: round trips, special tokens, BOS/EOS,
// streaming detokenization of split UTF-8, and clear errors on bad tokenizer files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_paths.h"
#include "text/stream_decoder.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

namespace citadel::text {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<const Tokenizer> hf(const std::string& name) {
    auto t = load_hf_tokenizer(test::shared_dir() + "/reference/tokenizer/hf/" + name);
    EXPECT_TRUE(t.ok()) << t.error();
    return t.ok() ? *t : nullptr;
}

std::shared_ptr<const Tokenizer> vocab(const std::string& name) {
    auto f = gguf::File::open(test::shared_dir() +
                              "/reference/tokenizer/llama.cpp-vocab/ggml-vocab-" + name + ".gguf");
    EXPECT_TRUE(f.ok()) << f.error();
    if (!f.ok()) return nullptr;
    auto t = load_tokenizer(**f);
    EXPECT_TRUE(t.ok()) << t.error();
    return t.ok() ? *t : nullptr;
}

const char* const kSamples[] = {
    "Hello world",
    " leading space and trailing  ",
    "multi\n\nline\ttext\r\nwith\u00a0nbsp",
    "数据不出楼：私有化部署。",
    "emoji 👩🏽‍💻 and 🦙, accents déjà vu, Ελληνικά, русский",
    "code: for (int i = 0; i < n; ++i) { x += a[i] * 3.14e-2; }",
    "   ",
    "",
};

TEST(Tokenizer, ByteLevelRoundTripsExactly) {
    for (const char* name : {"qwen3", "llama3", "smollm2"}) {
        auto tok = hf(name);
        ASSERT_TRUE(tok);
        for (const char* s : kSamples) {
            EXPECT_EQ(tok->decode(tok->encode(s)), s) << name << ": " << s;
        }
    }
    for (const char* name : {"gpt-2", "starcoder", "deepseek-coder"}) {
        auto tok = vocab(name);
        ASSERT_TRUE(tok);
        for (const char* s : kSamples)
            EXPECT_EQ(tok->decode(tok->encode(s)), s) << name << ": " << s;
    }
}

TEST(Tokenizer, SentencePieceRoundTripsWithTheLeadingSpaceRule) {
    auto tok = vocab("llama-spm");
    ASSERT_TRUE(tok);
    for (const char* s : {"Hello world", "数据不出楼", "emoji 🦙 done", "a  b\n c"}) {
        EXPECT_EQ(tok->decode(tok->encode(s)), s) << s;
    }
    // With BOS the text still decodes to itself: BOS is a control token and prints nothing.
    const auto ids = tok->encode("Hello", {.add_special = true});
    ASSERT_EQ(ids.front(), 1);
    EXPECT_EQ(tok->decode(ids), "Hello");
    EXPECT_EQ(tok->decode(ids, {.skip_special = false}), "<s> Hello");  // as llama.cpp and HF
}

TEST(Tokenizer, SpecialTokensAreParsedOnlyWhenAsked) {
    auto tok = hf("qwen3");
    ASSERT_TRUE(tok);
    const std::string text = "<|im_start|>user";
    const auto parsed = tok->encode(text, {.parse_special = true});
    ASSERT_EQ(parsed.size(), 2u);
    EXPECT_EQ(parsed[0], 151644);
    const auto literal = tok->encode(text);
    EXPECT_GT(literal.size(), 3u);
    EXPECT_EQ(std::find(literal.begin(), literal.end(), 151644), literal.end());
    EXPECT_EQ(tok->decode(literal), text);  // the user typed it; it comes back as text
}

TEST(Tokenizer, AddSpecialFollowsTheModelConfiguration) {
    auto spm = vocab("llama-spm");
    EXPECT_EQ(spm->encode("hi", {.add_special = true}).front(), 1);  // BOS
    auto gpt2 = vocab("gpt-2");
    EXPECT_EQ(gpt2->encode("hi", {.add_special = true}), gpt2->encode("hi"));  // no BOS
    auto bert = vocab("bert-bge");
    const auto ids = bert->encode("hi", {.add_special = true});
    EXPECT_EQ(ids.front(), 101);  // [CLS]
    EXPECT_EQ(ids.back(), 102);   // [SEP]
    auto llama2 = hf("llama2");
    EXPECT_EQ(llama2->encode("hi", {.add_special = true}).front(), 1);  // TemplateProcessing
}

TEST(Tokenizer, EndOfGenerationTokens) {
    auto qwen = hf("qwen3");
    EXPECT_TRUE(qwen->is_end_of_generation(151645));  // <|im_end|>
    auto llama3 = hf("llama3");
    EXPECT_TRUE(llama3->is_end_of_generation(128009));  // <|eot_id|>
    EXPECT_TRUE(llama3->is_end_of_generation(128001));  // <|end_of_text|>
}

TEST(StreamDecoder, NeverEmitsHalfACharacter) {
    auto tok = vocab("llama-spm");  // byte-fallback tokens carry single bytes
    ASSERT_TRUE(tok);
    const std::string text = "a 👩🏽‍💻 b 数据";
    const auto ids = tok->encode(text);
    StreamDecoder dec(*tok);
    std::string streamed;
    for (int32_t id : ids) {
        const std::string part = dec.push(id);
        EXPECT_EQ(incomplete_utf8_tail(part), 0u);
        EXPECT_EQ(sanitize_utf8(part), part) << "invalid UTF-8 emitted";
        streamed += part;
    }
    streamed += dec.finish();
    EXPECT_EQ(streamed, text);
}

TEST(StreamDecoder, ByteLevelSplitsAndDanglingBytes) {
    auto tok = hf("qwen3");
    ASSERT_TRUE(tok);
    const std::string text = "🦙🦙 llama";
    StreamDecoder dec(*tok);
    std::string streamed;
    for (int32_t id : tok->encode(text)) streamed += dec.push(id);
    EXPECT_EQ(streamed + dec.finish(), text);
    // A stream that stops inside a character ends with U+FFFD, not with a broken byte.
    const auto first_byte = tok->find("\xc3\xb0");  // byte 0xF0 in the byte-level alphabet: "ð"
    ASSERT_TRUE(first_byte.has_value());
    StreamDecoder cut(*tok);
    EXPECT_EQ(cut.push(*first_byte), "");
    EXPECT_EQ(cut.finish(), "\xef\xbf\xbd");
}

TEST(Tokenizer, InvalidUtf8InputIsReplacedNotFatal) {
    auto tok = hf("qwen3");
    const std::string bad = std::string("ok \xff\xfe end \xe4\xb8", 12);
    const auto ids = tok->encode(bad);
    EXPECT_EQ(tok->decode(ids), "ok \xef\xbf\xbd\xef\xbf\xbd end \xef\xbf\xbd");
    // Overlong forms and surrogates are not characters either.
    EXPECT_EQ(sanitize_utf8("\xc0\x80|\xed\xa0\x80"),
              "\xef\xbf\xbd\xef\xbf\xbd|\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    EXPECT_EQ(sanitize_utf8("\xef\xbf\xbd ok \xe2\x96\x81"), "\xef\xbf\xbd ok \xe2\x96\x81");
}

class TempDir {
  public:
    TempDir() : path_(fs::temp_directory_path() / ("citadel_tok_" + std::to_string(::getpid()))) {
        fs::create_directories(path_);
    }
    ~TempDir() { fs::remove_all(path_); }
    std::string write(const std::string& name, const std::string& body) const {
        std::ofstream(path_ / name, std::ios::binary) << body;
        return path_.string();
    }

  private:
    fs::path path_;
};

TEST(Tokenizer, BadHuggingFaceFilesGiveClearErrors) {
    TempDir d;
    auto err = [&](const std::string& body) {
        auto t = load_hf_tokenizer(d.write("tokenizer.json", body));
        return t.ok() ? std::string("loaded") : t.error();
    };
    EXPECT_NE(err("{not json").find("not valid JSON"), std::string::npos);
    EXPECT_NE(err("{}").find("no \"model\""), std::string::npos);
    EXPECT_NE(err(R"({"model": {"type": "Unigram", "vocab": {}}})").find("Unigram"),
              std::string::npos);
    EXPECT_NE(err(R"({"model": {"type": "BPE", "vocab": {"a": -1}}})").find("not a valid id"),
              std::string::npos);
    EXPECT_NE(err(R"({"model": {"type": "BPE", "vocab": {}},
                     "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"}, "behavior": "Isolated"}})")
                  .find("bad regular expression"),
              std::string::npos);
    EXPECT_NE(
        err(R"({"model": {"type": "BPE", "vocab": {}}, "normalizer": {"type": "Precompiled"}})")
            .find("not supported"),
        std::string::npos);
    EXPECT_NE(load_hf_tokenizer("/nonexistent/dir").error().find("no tokenizer.json"),
              std::string::npos);
}

TEST(Tokenizer, ModelFileWithoutVocabularyIsAClearError) {
    auto f = gguf::File::open(test::reference_model("stories260K.gguf"));
    ASSERT_TRUE(f.ok());
    auto t = load_tokenizer(**f);
    ASSERT_TRUE(t.ok()) << t.error();
    EXPECT_EQ((*t)->size(), 512u);
}

}  // namespace
}  // namespace citadel::text
