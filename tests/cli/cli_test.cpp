// The citadel binary end to end: verbs, exit codes and error messages.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "test_paths.h"

namespace citadel {
namespace {

struct CliRun {
    int exit_code;
    std::string output;  // stdout and stderr together
};

CliRun run_citadel(const std::string& args) {
    const std::string cmd = test::citadel_binary() + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    std::array<char, 4096> buf;
    while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
    const int status = pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

const std::string kStories = "--tokens 1,403,407,261,378";

TEST(Cli, RunGreedyJson) {
    CliRun r = run_citadel("run -m " + test::reference_model("stories260K.gguf") + " " + kStories +
                           " -n 8 --temp 0 --json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["tokens"], (std::vector<int>{432, 383, 286, 261, 376, 298, 315, 421}));
    EXPECT_EQ(j["text"], ", there was a little girl");
    EXPECT_GT(j["timings"]["generate_tokens_per_s"].get<double>(), 0.0);
}

TEST(Cli, SamplingIsReproducibleWithASeed) {
    const std::string args = "run -m " + test::reference_model("stories260K.gguf") + " " +
                             kStories + " -n 16 --temp 0.9 --seed 42 --json";
    CliRun a = run_citadel(args), b = run_citadel(args);
    ASSERT_EQ(a.exit_code, 0) << a.output;
    EXPECT_EQ(nlohmann::json::parse(a.output)["tokens"], nlohmann::json::parse(b.output)["tokens"]);
}

TEST(Cli, LogitsWritesEveryPosition) {
    const std::string out = (std::filesystem::temp_directory_path() / "citadel_cli_l.f32").string();
    CliRun r = run_citadel("logits -m " + test::reference_model("stories260K.gguf") + " " +
                           kStories + " -o " + out);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(std::filesystem::file_size(out), 5u * 512u * sizeof(float));
    std::filesystem::remove(out);
}

TEST(Cli, ClearErrors) {
    CliRun missing = run_citadel("run -m /no/such/model.gguf --tokens 1,2");
    EXPECT_EQ(missing.exit_code, 1);
    EXPECT_NE(missing.output.find("/no/such/model.gguf"), std::string::npos) << missing.output;

    const std::string junk =
        (std::filesystem::temp_directory_path() / "citadel_junk.gguf").string();
    std::ofstream(junk) << "definitely not a model file, just some words in a file";
    CliRun not_gguf = run_citadel("info " + junk);
    EXPECT_EQ(not_gguf.exit_code, 1);
    EXPECT_NE(not_gguf.output.find("not a GGUF file"), std::string::npos) << not_gguf.output;
    std::filesystem::remove(junk);

    CliRun bad_token = run_citadel("run -m " + test::reference_model("stories260K.gguf") +
                                   " --tokens 1,99999 -n 1");
    EXPECT_EQ(bad_token.exit_code, 1);
    EXPECT_NE(bad_token.output.find("token id 99999 is out of range"), std::string::npos)
        << bad_token.output;

    CliRun bad_list = run_citadel("logits -m " + test::reference_model("stories260K.gguf") +
                                  " --tokens 1,x,3 -o /dev/null");
    EXPECT_EQ(bad_list.exit_code, 1);
    EXPECT_NE(bad_list.output.find("invalid token id 'x'"), std::string::npos) << bad_list.output;
}

TEST(Cli, InfoAndBench) {
    CliRun info = run_citadel("info --json " + test::reference_model("syn-qwen3-q8_0.gguf"));
    ASSERT_EQ(info.exit_code, 0) << info.output;
    const auto j = nlohmann::json::parse(info.output);
    EXPECT_EQ(j["architecture"], "qwen3");
    EXPECT_EQ(j["head_dim"], 128);

    CliRun bench = run_citadel("bench run -m " + test::reference_model("syn-llama-q4_0.gguf") +
                               " -p 32 -n 8 -r 2 --json");
    ASSERT_EQ(bench.exit_code, 0) << bench.output;
    const auto b = nlohmann::json::parse(bench.output);
    EXPECT_EQ(b["results"][0]["test"], "pp32");
    EXPECT_EQ(b["results"][1]["test"], "tg8");
    EXPECT_GT(b["results"][1]["tokens_per_s_median"].get<double>(), 0.0);
}

TEST(Cli, BenchBatchReportsEveryLevel) {
    const std::string m = test::reference_model("stories260K.gguf");
    CliRun r = run_citadel("bench batch -m " + m +
                           " -t 2 --kv-mem 64MiB --concurrency 1,3 --prompt 20 --gen 6"
                           " --shared-prefix 40 --json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    std::istringstream lines(r.output);
    std::string line;
    std::vector<nlohmann::json> levels;
    while (std::getline(lines, line)) {
        if (!line.empty() && line[0] == '{') levels.push_back(nlohmann::json::parse(line));
    }
    ASSERT_EQ(levels.size(), 2u) << r.output;
    EXPECT_EQ(levels[1]["concurrency"], 3);
    EXPECT_EQ(levels[1]["requests"], 6);
    EXPECT_EQ(levels[1]["output_tokens"], 36);
    EXPECT_EQ(levels[1]["errors"], 0);
    EXPECT_GT(levels[1]["prefix_hit_rate"].get<double>(), 0.3) << "the 40-token prefix is shared";
    EXPECT_EQ(levels[0]["prefix_hit_rate"].get<double>() > 0.0, true)
        << "requests of one level share the prefix too";
    EXPECT_GT(levels[1]["kv_blocks_peak"].get<int>(), 0);

    CliRun huge = run_citadel("bench batch -m " + m + " --kv-mem 99%");
    EXPECT_EQ(huge.exit_code, 1);
    EXPECT_NE(huge.output.find("available memory"), std::string::npos) << huge.output;
    CliRun type = run_citadel("bench batch -m " + m + " --kv-type q4");
    EXPECT_NE(type.output.find("unknown KV cache type 'q4'"), std::string::npos) << type.output;
    CliRun size = run_citadel("bench batch -m " + m + " --kv-mem lots");
    EXPECT_NE(size.output.find("invalid memory size 'lots'"), std::string::npos) << size.output;
    CliRun tiny = run_citadel("bench batch -m " + m + " --kv-mem 1KiB");
    EXPECT_NE(tiny.output.find("raise --kv-mem"), std::string::npos) << tiny.output;
}

}  // namespace
}  // namespace citadel

namespace citadel {
namespace {

std::string vocab_gguf(const std::string& name) {
    return test::shared_dir() + "/reference/tokenizer/llama.cpp-vocab/ggml-vocab-" + name + ".gguf";
}

TEST(CliText, RunWithATextPrompt) {
    CliRun r = run_citadel("run -m " + test::reference_model("stories260K.gguf") +
                           " -p 'Once upon a time' -n 8 --temp 0 --json");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output);
    EXPECT_EQ(j["prompt_tokens"], (std::vector<int>{1, 403, 407, 261, 378}));  // BOS added
    EXPECT_EQ(j["text"], ", there was a little girl");
    CliRun neither = run_citadel("run -m " + test::reference_model("stories260K.gguf"));
    EXPECT_NE(neither.exit_code, 0);
    EXPECT_NE(neither.output.find("-p TEXT or --tokens"), std::string::npos) << neither.output;
}

TEST(CliText, TokenizeSingleAndBatch) {
    CliRun one = run_citadel("tokenize -m " + vocab_gguf("llama-spm") + " 'Hello world'");
    ASSERT_EQ(one.exit_code, 0) << one.output;
    EXPECT_EQ(nlohmann::json::parse(one.output), nlohmann::json({15043, 3186}));
    CliRun bos =
        run_citadel("tokenize --add-special -m " + vocab_gguf("llama-spm") + " 'Hello world'");
    EXPECT_EQ(nlohmann::json::parse(bos.output), nlohmann::json({1, 15043, 3186}));

    const std::string batch =
        (std::filesystem::temp_directory_path() / "citadel_tok_batch.json").string();
    std::ofstream(batch) << R"(["<|im_start|>hi", ""])";
    CliRun b = run_citadel("tokenize --parse-special --tokenizer " + test::shared_dir() +
                           "/reference/tokenizer/hf/qwen3 --batch " + batch);
    ASSERT_EQ(b.exit_code, 0) << b.output;
    EXPECT_EQ(nlohmann::json::parse(b.output), nlohmann::json::parse("[[151644, 6023], []]"));

    std::ofstream(batch) << R"(["ok", 3])";
    CliRun bad = run_citadel("tokenize -m " + vocab_gguf("gpt-2") + " --batch " + batch);
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.output.find("item 1 is not a string"), std::string::npos) << bad.output;
    std::filesystem::remove(batch);

    CliRun no_vocab =
        run_citadel("tokenize -m " + test::reference_model("syn-llama-f32.gguf") + " x");
    EXPECT_EQ(no_vocab.exit_code, 0) << no_vocab.output;  // synthetic models carry a vocabulary
}

TEST(CliText, ChatAnswersEachLineAndReusesTheCache) {
    const std::string cmd =
        "printf 'Hello\\nOnce upon a time\\n/reset\\nAgain\\n' | " + test::citadel_binary() +
        " chat -m " + test::reference_model("tinystories656k-q8_0.gguf") + " -n 12 --temp 0 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    std::string out;
    std::array<char, 4096> buf;
    while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
    ASSERT_EQ(pclose(p), 0) << out;
    EXPECT_NE(out.find("no chat template; using ChatML"), std::string::npos) << out;
    // Three replies, one line each, after the warning line.
    EXPECT_GE(std::count(out.begin(), out.end(), '\n'), 4) << out;
}

}  // namespace
}  // namespace citadel
