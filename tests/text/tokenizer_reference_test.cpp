// The same ground as ../shared/checks/check_tokenizers.py: llama.cpp's vocab test vectors
// for every vocab GGUF shipped, and transformers.js' tokenizations for the Hugging Face
// tokenizers (special tokens parsed).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_paths.h"
#include "text/tokenizer.h"

namespace citadel::text {
namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Texts of a llama.cpp .inp file: separated by "\n__ggml_vocab_test__\n".
std::vector<std::string> vocab_test_texts(const std::string& path) {
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::string t = slurp(path);
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t at = t.find(sep); at != std::string::npos; at = t.find(sep, start)) {
        parts.push_back(t.substr(start, at - start));
        start = at + sep.size();
    }
    std::string last = t.substr(start);
    const std::string tail = "\n__ggml_vocab_test__";
    if (last.size() >= tail.size() &&
        last.compare(last.size() - tail.size(), tail.size(), tail) == 0) {
        last.resize(last.size() - tail.size());
    }
    if (!last.empty()) parts.push_back(last);
    return parts;
}

std::vector<std::vector<int32_t>> vocab_test_ids(const std::string& path, size_t n) {
    std::istringstream in(slurp(path));
    std::vector<std::vector<int32_t>> out;
    std::string line;
    while (out.size() < n && std::getline(in, line)) {
        std::istringstream ls(line);
        std::vector<int32_t> ids;
        for (int32_t id; ls >> id;) ids.push_back(id);
        out.push_back(ids);
    }
    return out;
}

std::string vocab_dir() {
    return test::shared_dir() + "/reference/tokenizer/llama.cpp-vocab";
}

TEST(TokenizerReference, LlamaCppVocabTestVectors) {
    int files = 0;
    for (const auto& e : fs::directory_iterator(vocab_dir())) {
        const std::string gguf_path = e.path().string();
        if (e.path().extension() != ".gguf" || !fs::exists(gguf_path + ".inp")) continue;
        ++files;
        SCOPED_TRACE(e.path().filename().string());
        auto file = gguf::File::open(gguf_path);
        ASSERT_TRUE(file.ok()) << file.error();
        auto tok = load_tokenizer(**file);
        ASSERT_TRUE(tok.ok()) << tok.error();
        const auto texts = vocab_test_texts(gguf_path + ".inp");
        const auto want = vocab_test_ids(gguf_path + ".out", texts.size());
        ASSERT_EQ(texts.size(), want.size());
        for (size_t i = 0; i < texts.size(); ++i) {
            EXPECT_EQ((*tok)->encode(texts[i]), want[i]) << "text " << i << ": " << texts[i];
        }
    }
    EXPECT_EQ(files, 10);  // baichuan ships without test vectors
}

TEST(TokenizerReference, HuggingFaceTokenizersMatchTransformersJs) {
    const std::string dir = test::shared_dir() + "/reference/tokenizer";
    int files = 0;
    for (const auto& e : fs::directory_iterator(dir + "/expected")) {
        ++files;
        SCOPED_TRACE(e.path().filename().string());
        const nlohmann::json j = nlohmann::json::parse(slurp(e.path().string()));
        auto tok = load_hf_tokenizer(dir + "/hf/" + j["tokenizer"].get<std::string>());
        ASSERT_TRUE(tok.ok()) << tok.error();
        for (const auto& c : j["cases"]) {
            const std::string text = c["text"].get<std::string>();
            EXPECT_EQ((*tok)->encode(text, {.parse_special = true}),
                      c["ids"].get<std::vector<int32_t>>())
                << text;
        }
    }
    EXPECT_EQ(files, 10);
}

}  // namespace
}  // namespace citadel::text
