// Parsing /v1/completions, /tokenize and /detokenize bodies.
#include <gtest/gtest.h>

#include "api/openai_request.h"
#include "api/openai_response.h"
#include "api_test_util.h"

namespace citadel::api {
namespace {

using test::failed_with;
using test::parse;

Parsed<CompletionRequest> completion_with(const std::string& prompt,
                                          const std::string& extra = "") {
    return parse_completion_request(R"({"model": "m", "prompt": )" + prompt + extra + "}");
}

TEST(ApiCompletionRequest, StringPromptAndDefaults) {
    auto p = completion_with(R"("Once upon")");
    ASSERT_TRUE(p.ok()) << p.error().message;
    ASSERT_EQ(p->prompts.size(), 1u);
    EXPECT_FALSE(p->prompts[0].is_tokens);
    EXPECT_EQ(p->prompts[0].text, "Once upon");
    EXPECT_EQ(p->max_tokens, 16);
    EXPECT_EQ(p->sampling.temperature, 1.0f);
    EXPECT_EQ(p->sampling.top_p, 1.0f);
    EXPECT_EQ(p->sampling.top_k, 0);
    EXPECT_EQ(p->logprobs, -1);
    EXPECT_FALSE(p->sampling.logprobs);
    EXPECT_FALSE(p->echo);
    EXPECT_EQ(p->n, 1);
    EXPECT_TRUE(completion_with(R"("")").ok());  // OpenAI allows an empty prompt
}

TEST(ApiCompletionRequest, PromptShapes) {
    auto strings = completion_with(R"(["a", "b"])");
    ASSERT_TRUE(strings.ok());
    ASSERT_EQ(strings->prompts.size(), 2u);
    EXPECT_EQ(strings->prompts[1].text, "b");

    auto tokens = completion_with("[1, 2, 3]");
    ASSERT_TRUE(tokens.ok());
    ASSERT_EQ(tokens->prompts.size(), 1u);
    EXPECT_TRUE(tokens->prompts[0].is_tokens);
    EXPECT_EQ(tokens->prompts[0].tokens, (std::vector<int32_t>{1, 2, 3}));

    auto lists = completion_with("[[1], [2, 3]]");
    ASSERT_TRUE(lists.ok());
    ASSERT_EQ(lists->prompts.size(), 2u);
    EXPECT_EQ(lists->prompts[1].tokens, (std::vector<int32_t>{2, 3}));
    EXPECT_TRUE(lists->prompts[1].is_tokens);
}

TEST(ApiCompletionRequest, PromptErrors) {
    EXPECT_TRUE(failed_with(parse_completion_request(R"({"model": "m"})"), "prompt", "required"));
    EXPECT_TRUE(failed_with(completion_with("[]"), "prompt", "must not be empty"));
    EXPECT_TRUE(failed_with(completion_with("5"), "prompt", "got an integer"));
    EXPECT_TRUE(failed_with(completion_with(R"(["a", 1])"), "prompt[1]", "expected a string"));
    EXPECT_TRUE(failed_with(completion_with(R"([1, "a"])"), "prompt[1]", "expected an integer"));
    EXPECT_TRUE(failed_with(completion_with("[1, -2]"), "prompt[1]", "[0, 2147483647]"));
    EXPECT_TRUE(failed_with(completion_with("[1, 2147483648]"), "prompt[1]"));
    EXPECT_TRUE(failed_with(completion_with("[1, 1.5]"), "prompt[1]"));
    EXPECT_TRUE(failed_with(completion_with("[[1], []]"), "prompt[1]", "must not be empty"));
    EXPECT_TRUE(failed_with(completion_with("[[1], [-1]]"), "prompt[1][0]"));
    EXPECT_TRUE(failed_with(completion_with("[[1], 2]"), "prompt[1]", "array of token ids"));
    EXPECT_TRUE(failed_with(completion_with("[{}]"), "prompt[0]"));
    EXPECT_TRUE(failed_with(completion_with("[null]"), "prompt[0]"));
}

TEST(ApiCompletionRequest, SuffixAndBestOf) {
    auto suffix = completion_with(R"("a")", R"(, "suffix": "end")");
    ASSERT_TRUE(failed_with(suffix, "suffix"));
    EXPECT_EQ(suffix.error().message, "suffix is not supported");
    EXPECT_TRUE(completion_with(R"("a")", R"(, "suffix": null)").ok());
    EXPECT_TRUE(completion_with(R"("a")", R"(, "best_of": 1)").ok());
    EXPECT_TRUE(completion_with(R"("a")", R"(, "n": 3, "best_of": 3)").ok());
    EXPECT_TRUE(failed_with(completion_with(R"("a")", R"(, "best_of": 2)"), "best_of"));
    EXPECT_TRUE(failed_with(completion_with(R"("a")", R"(, "best_of": "2")"), "best_of"));
}

TEST(ApiCompletionRequest, LogprobsEchoMaxTokens) {
    auto p = completion_with(R"("a")", R"(, "logprobs": 3, "echo": true, "max_tokens": 100)");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->logprobs, 3);
    EXPECT_TRUE(p->sampling.logprobs);
    EXPECT_EQ(p->sampling.top_logprobs, 3);
    EXPECT_TRUE(p->echo);
    EXPECT_EQ(p->max_tokens, 100);
    auto zero = completion_with(R"("a")", R"(, "logprobs": 0)");
    EXPECT_TRUE(zero->sampling.logprobs);
    EXPECT_EQ(zero->sampling.top_logprobs, 0);
    EXPECT_TRUE(failed_with(completion_with(R"("a")", R"(, "logprobs": 6)"), "logprobs", "[0, 5]"));
    EXPECT_TRUE(failed_with(completion_with(R"("a")", R"(, "logprobs": true)"), "logprobs"));
    EXPECT_TRUE(failed_with(completion_with(R"("a")", R"(, "max_tokens": 0)"), "max_tokens"));
    EXPECT_TRUE(failed_with(completion_with(R"("a")", R"(, "max_tokens": 1e300)"), "max_tokens"));
    EXPECT_EQ(completion_with(R"("a")", R"(, "max_tokens": null)")->max_tokens, 16);
    EXPECT_TRUE(failed_with(completion_with(R"("a")", R"(, "echo": "y")"), "echo"));
}

TEST(ApiCompletionRequest, SharedFields) {
    auto p = completion_with(R"("a")", R"(, "temperature": 0, "stop": ["x"], "n": 2,
        "stream": true, "stream_options": {"include_usage": true}, "seed": 3, "ignore_eos": true,
        "user": "u", "top_k": 5, "logit_bias": {"1": 2})");
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->sampling.temperature, 0.0f);
    EXPECT_EQ(p->stop, std::vector<std::string>{"x"});
    EXPECT_EQ(p->n, 2);
    EXPECT_TRUE(p->stream);
    EXPECT_TRUE(p->include_usage);
    EXPECT_EQ(p->sampling.seed, 3u);
    EXPECT_TRUE(p->ignore_eos);
    EXPECT_EQ(p->user, "u");
    EXPECT_EQ(p->sampling.top_k, 5);
    EXPECT_EQ(p->sampling.logit_bias.size(), 1u);
    EXPECT_TRUE(
        failed_with(completion_with(R"("a")", R"(, "stream_options": {})"), "stream_options"));
    EXPECT_TRUE(failed_with(completion_with(R"("a")", R"(, "temperature": 3)"), "temperature"));
    EXPECT_TRUE(failed_with(parse_completion_request(R"({"prompt": "a"})"), "model"));
    EXPECT_TRUE(failed_with(parse_completion_request("nope"), "", "invalid JSON"));
}

TEST(ApiTokenize, VllmAndLlamaCppFields) {
    auto vllm = parse_tokenize(R"({"model": "m", "prompt": "hi"})");
    ASSERT_TRUE(vllm.ok());
    EXPECT_EQ(vllm->model, "m");
    EXPECT_EQ(vllm->text, "hi");
    EXPECT_TRUE(vllm->add_special);
    EXPECT_TRUE(vllm->messages.is_null());
    EXPECT_FALSE(parse_tokenize(R"({"prompt": "hi", "add_special_tokens": false})")->add_special);

    auto llama = parse_tokenize(R"({"content": "hi", "with_pieces": true})");
    ASSERT_TRUE(llama.ok());
    EXPECT_EQ(llama->text, "hi");
    EXPECT_FALSE(llama->add_special);
    EXPECT_TRUE(llama->with_pieces);
    EXPECT_TRUE(parse_tokenize(R"({"content": "hi", "add_special": true})")->add_special);

    auto chat = parse_tokenize(R"({"messages": [{"role": "user", "content": "x"}],
                                  "add_generation_prompt": false})");
    ASSERT_TRUE(chat.ok());
    EXPECT_EQ(chat->messages, parse(R"([{"role": "user", "content": "x"}])"));
    EXPECT_FALSE(chat->add_generation_prompt);
    EXPECT_FALSE(chat->add_special);

    EXPECT_TRUE(failed_with(parse_tokenize("{}"), "prompt", "required"));
    EXPECT_TRUE(failed_with(parse_tokenize(R"({"prompt": 1})"), "prompt"));
    EXPECT_TRUE(
        failed_with(parse_tokenize(R"({"content": "a", "add_special": 1})"), "add_special"));
    EXPECT_TRUE(failed_with(parse_tokenize(R"({"messages": []})"), "messages"));
}

TEST(ApiTokenize, Detokenize) {
    auto p = parse_detokenize(R"({"model": "m", "tokens": [1, 0, 2147483647]})");
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->tokens, (std::vector<int32_t>{1, 0, 2147483647}));
    EXPECT_TRUE(parse_detokenize(R"({"tokens": []})").ok());
    EXPECT_TRUE(failed_with(parse_detokenize("{}"), "tokens", "required"));
    EXPECT_TRUE(failed_with(parse_detokenize(R"({"tokens": [1, -1]})"), "tokens[1]"));
    EXPECT_TRUE(failed_with(parse_detokenize(R"({"tokens": "1 2"})"), "tokens"));
}

TEST(ApiTokenize, Responses) {
    EXPECT_EQ(parse(tokenize_response({1, 2}, nullptr, 4096)),
              parse(R"({"tokens": [1, 2], "count": 2, "max_model_len": 4096})"));
    const std::vector<std::string> pieces = {"He", "\xe4\xbd"};
    EXPECT_EQ(parse(tokenize_response({1, 2}, &pieces, 8)),
              parse(R"({"tokens": [{"id": 1, "piece": "He"}, {"id": 2, "piece": [228, 189]}],
                        "count": 2, "max_model_len": 8})"));
    EXPECT_EQ(parse(detokenize_response("a\"b")),
              parse(R"({"prompt": "a\"b", "content": "a\"b"})"));
    EXPECT_EQ(parse(detokenize_response("x\xff")),
              parse(R"({"prompt": "x\ufffd", "content": "x\ufffd"})"));
}

}  // namespace
}  // namespace citadel::api
