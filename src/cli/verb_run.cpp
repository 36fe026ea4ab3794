// citadel run: generate from a prompt given as token ids (text prompts need the tokenizer).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/generate.h"
#include "cli/verbs.h"
#include "text/vocab.h"

namespace citadel::cli {
namespace {

struct RunArgs {
    std::string model;
    std::string prompt;
    std::string tokens;
    int n_predict = 32;
    float temperature = 0.8f;
    int top_k = 40;
    float top_p = 0.95f;
    uint64_t seed = 0;
    int threads = 0;
    int64_t ctx = 0;
    bool ignore_eos = false;
    bool json = false;
};

nlohmann::json timings_json(const GenerateResult& g, size_t n_prompt) {
    const double n_gen_timed = g.tokens.size() > 1 ? double(g.tokens.size() - 1) : 0.0;
    return {
        {"prompt_tokens", n_prompt},
        {"prompt_ms", g.prompt_seconds * 1e3},
        {"prompt_tokens_per_s", g.prompt_seconds > 0 ? double(n_prompt) / g.prompt_seconds : 0.0},
        {"generated_tokens", g.tokens.size()},
        {"generate_ms", g.generate_seconds * 1e3},
        {"generate_tokens_per_s", g.generate_seconds > 0 ? n_gen_timed / g.generate_seconds : 0.0}};
}

int run(const RunArgs& a) {
    if (!a.prompt.empty()) {
        return fail(
            "-p needs the tokenizer, which this build does not have yet; pass token "
            "ids with --tokens 1,2,3");
    }
    if (a.tokens.empty()) return fail("give a prompt with --tokens 1,2,3");
    Result<std::vector<int32_t>> prompt = parse_token_list(a.tokens);
    if (!prompt) return fail(prompt.error());
    Result<std::shared_ptr<const Model>> model = open_model(a.model);
    if (!model) return fail(model.error());
    const Model& m = **model;
    Result<Vocab> vocab = read_vocab(*m.file);
    std::vector<int32_t> stop;
    if (vocab && vocab->eos) stop.push_back(*vocab->eos);
    if (vocab && vocab->eot) stop.push_back(*vocab->eot);

    const int64_t n_ctx = a.ctx > 0 ? a.ctx : int64_t(prompt->size()) + a.n_predict;
    ForwardState state(m, ForwardOptions{.n_threads = a.threads, .n_seq = 1, .n_ctx = n_ctx});
    GenerateOptions opt{.n_predict = a.n_predict, .ignore_eos = a.ignore_eos};
    opt.sampling = {
        .temperature = a.temperature, .top_k = a.top_k, .top_p = a.top_p, .seed = a.seed};
    auto stream = [&](int32_t t) {
        if (a.json || !vocab) return;
        std::fputs(vocab->token_bytes(t).c_str(), stdout);
        std::fflush(stdout);
    };
    Result<GenerateResult> g = generate(m, state, *prompt, opt, stop, stream);
    if (!g) return fail(g.error());
    if (a.json) {
        nlohmann::json out = {{"tokens", g->tokens},
                              {"text", vocab ? vocab->detokenize(g->tokens) : ""},
                              {"timings", timings_json(*g, prompt->size())}};
        std::printf("%s\n",
                    out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
        const nlohmann::json t = timings_json(*g, prompt->size());
        std::fprintf(
            stderr, "\n\nprompt: %zu tokens, %.1f tokens/s; generated: %zu tokens, %.1f tokens/s\n",
            prompt->size(), t["prompt_tokens_per_s"].get<double>(), g->tokens.size(),
            t["generate_tokens_per_s"].get<double>());
    }
    return 0;
}

}  // namespace

VerbRunner add_run(CLI::App& app) {
    auto a = std::make_shared<RunArgs>();
    CLI::App* c = app.add_subcommand("run", "Generate tokens from a prompt");
    c->add_option("-m,--model", a->model, "GGUF model file")->required();
    CLI::Option* text = c->add_option("-p,--prompt", a->prompt, "Prompt text");
    c->add_option("--tokens", a->tokens, "Prompt as comma-separated token ids")->excludes(text);
    c->add_option("-n,--n-predict", a->n_predict, "Tokens to generate")
        ->check(CLI::Range(0, 1 << 20));
    c->add_option("--temp", a->temperature, "Temperature (0: greedy)")
        ->check(CLI::Range(0.0, 100.0));
    c->add_option("--top-k", a->top_k, "Top-k (0: off)")->check(CLI::NonNegativeNumber);
    c->add_option("--top-p", a->top_p, "Top-p")->check(CLI::Range(0.0, 1.0));
    c->add_option("--seed", a->seed, "Random seed");
    c->add_option("-t,--threads", a->threads, "Compute threads (default: all cores)")
        ->check(CLI::Range(0, 1024));
    c->add_option("-c,--ctx", a->ctx, "Context length (default: prompt + n)")
        ->check(CLI::NonNegativeNumber);
    c->add_flag("--ignore-eos", a->ignore_eos, "Keep generating after end-of-sequence");
    c->add_flag("--json", a->json, "Print tokens, text and timings as JSON");
    return [a] { return run(*a); };
}

}  // namespace citadel::cli
