// citadel synth: a model with random weights in the exact shape of a published one.
#include <chrono>
#include <cstdio>

#include "cli/common.h"
#include "cli/verbs.h"
#include "quant/synth.h"

namespace citadel::cli {
namespace {

struct SynthArgs {
    std::string preset;
    std::string output;
    std::string type = "f16";
    uint64_t seed = 0;
    std::string tokenizer;
    int threads = 0;
};

int run(const SynthArgs& a) {
    const quant::ModelShape* shape = quant::find_preset(a.preset);
    if (shape == nullptr) {
        return fail("unknown preset '" + a.preset + "' (valid: " + quant::preset_names() + ")");
    }
    const std::optional<quant::Mix> mix = quant::find_mix(a.type);
    if (!mix) {
        return fail("unknown type '" + a.type + "' (valid: " + quant::mix_names() + ")");
    }
    std::optional<quant::TokenizerData> tokenizer;
    if (!a.tokenizer.empty()) {
        Result<quant::TokenizerData> t =
            quant::load_hf_tokenizer(a.tokenizer, shape->tokenizer_pre);
        if (!t) return fail(t.error());
        tokenizer = std::move(t).value();
    }
    const auto t0 = std::chrono::steady_clock::now();
    Result<quant::SynthReport> r = quant::synth_model(
        *shape, quant::SynthOptions{.output = a.output,
                                    .mix = *mix,
                                    .seed = a.seed,
                                    .n_threads = a.threads,
                                    .tokenizer = tokenizer ? &*tokenizer : nullptr});
    if (!r) return fail(r.error());
    std::printf("%s: %s, %.3f B parameters, %s\n", a.output.c_str(), shape->preset.c_str(),
                double(r->parameters) / 1e9, mix->name);
    for (const auto& [type, t] : r->types) {
        std::printf("  %-5s %4d tensors, %12lld elements, %s\n", type.c_str(), t.tensors,
                    (long long)t.elements, format_bytes(double(t.bytes)).c_str());
    }
    std::printf("  total  %s of weights in %.1f s\n", format_bytes(double(r->bytes)).c_str(),
                seconds_since(t0));
    return 0;
}

}  // namespace

VerbRunner add_synth(CLI::App& app) {
    auto a = std::make_shared<SynthArgs>();
    CLI::App* c =
        app.add_subcommand("synth", "Write a model with random weights in a real model's shape");
    c->add_option("--preset", a->preset, "Model shape: " + quant::preset_names())->required();
    c->add_option("-o,--output", a->output, "Output GGUF file")->required();
    c->add_option("--type", a->type, "Weight type or mix (default f16): " + quant::mix_names());
    c->add_option("--seed", a->seed, "Random seed");
    c->add_option("--tokenizer", a->tokenizer,
                  "Hugging Face tokenizer directory (tokenizer.json, tokenizer_config.json)");
    c->add_option("-t,--threads", a->threads, "Threads (0: one per core)")
        ->check(CLI::Range(0, 1024));
    return [a] { return run(*a); };
}

}  // namespace citadel::cli
