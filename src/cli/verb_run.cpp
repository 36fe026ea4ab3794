// citadel run: generate from a prompt given as text (-p) or as token ids (--tokens).
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/generate.h"
#include "cli/verbs.h"
#include "text/stream_decoder.h"

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
    bool parse_special = false;
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

// The prompt's ids: --tokens as given, or -p tokenized with BOS as the model wants it.
Result<std::vector<int32_t>> prompt_ids(const RunArgs& a, const text::Tokenizer& tok) {
    if (!a.tokens.empty()) return parse_token_list(a.tokens);
    std::vector<int32_t> ids =
        tok.encode(a.prompt, {.add_special = true, .parse_special = a.parse_special});
    if (ids.empty())
        return Status::error("the prompt is empty: give text with -p or ids with --tokens");
    return ids;
}

int run(const RunArgs& a) {
    Result<std::shared_ptr<const Model>> model = open_model(a.model);
    if (!model) return fail(model.error());
    const Model& m = **model;
    Result<std::shared_ptr<const text::Tokenizer>> tok = text::load_tokenizer(*m.file);
    if (!tok) return fail(tok.error());
    Result<std::vector<int32_t>> prompt = prompt_ids(a, **tok);
    if (!prompt) return fail(prompt.error());
    for (int32_t t : *prompt) {
        if (t < 0 || t >= m.hp.n_vocab) {
            return fail("token id " + std::to_string(t) + " is out of range (the vocabulary has " +
                        std::to_string(m.hp.n_vocab) + " tokens)");
        }
    }
    const std::vector<int32_t> stop = (*tok)->end_of_generation();

    const int64_t n_ctx = a.ctx > 0 ? a.ctx : int64_t(prompt->size()) + a.n_predict;
    ForwardState state(m, ForwardOptions{.n_threads = a.threads, .n_seq = 1, .n_ctx = n_ctx});
    GenerateOptions opt{.n_predict = a.n_predict, .ignore_eos = a.ignore_eos};
    opt.sampling = {
        .temperature = a.temperature, .top_k = a.top_k, .top_p = a.top_p, .seed = a.seed};
    text::StreamDecoder decoder(**tok);
    auto stream = [&](int32_t t) {
        if (a.json) return;
        std::fputs(decoder.push(t).c_str(), stdout);
        std::fflush(stdout);
    };
    Result<GenerateResult> g = generate(m, state, *prompt, opt, stop, stream);
    if (!g) return fail(g.error());
    if (!a.json) std::fputs(decoder.finish().c_str(), stdout);
    if (a.json) {
        nlohmann::json out = {{"prompt_tokens", *prompt},
                              {"tokens", g->tokens},
                              {"text", (*tok)->decode(g->tokens)},
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
    c->add_flag("--parse-special", a->parse_special,
                "Special tokens written in the prompt text become their ids");
    c->add_flag("--json", a->json, "Print tokens, text and timings as JSON");
    c->callback([text, c] {
        if (text->count() == 0 && c->get_option("--tokens")->count() == 0) {
            throw CLI::ValidationError("run", "give a prompt with -p TEXT or --tokens 1,2,3");
        }
    });
    return [a] { return run(*a); };
}

}  // namespace citadel::cli
