// citadel quantize: converts a GGUF model to a quantization mix (q4_k_m, q8_0, ...).
#include <chrono>
#include <cstdio>

#include "cli/common.h"
#include "cli/verbs.h"
#include "quant/quantize.h"

namespace citadel::cli {
namespace {

struct QuantizeArgs {
    std::string input;
    std::string output;
    std::string type;
    int threads = 0;
};

void print_tallies(const char* label, const quant::TypeTallies& tallies) {
    for (const auto& [type, t] : tallies) {
        std::printf("  %-6s %-5s %4d tensors, %12lld elements, %s\n", label, type.c_str(),
                    t.tensors, (long long)t.elements, format_bytes(double(t.bytes)).c_str());
    }
}

int run(const QuantizeArgs& a) {
    const std::optional<quant::Mix> mix = quant::find_mix(a.type);
    if (!mix) {
        return fail("unknown quantization type '" + a.type + "' (valid: " + quant::mix_names() +
                    ")");
    }
    const auto t0 = std::chrono::steady_clock::now();
    Result<quant::QuantizeReport> r = quant::quantize_file(quant::QuantizeOptions{
        .input = a.input, .output = a.output, .mix = *mix, .n_threads = a.threads});
    if (!r) return fail(r.error());
    std::printf("%s -> %s (%s)\n", a.input.c_str(), a.output.c_str(), mix->name);
    print_tallies("before", r->before);
    print_tallies("after", r->after);
    std::printf(
        "  total  %s -> %s (%.2fx smaller) in %.1f s\n",
        format_bytes(double(r->bytes_before)).c_str(), format_bytes(double(r->bytes_after)).c_str(),
        double(r->bytes_before) / double(std::max<uint64_t>(1, r->bytes_after)), seconds_since(t0));
    return 0;
}

}  // namespace

VerbRunner add_quantize(CLI::App& app) {
    auto a = std::make_shared<QuantizeArgs>();
    CLI::App* c = app.add_subcommand("quantize", "Quantize a GGUF model (q4_k_m, q8_0, ...)");
    c->add_option("input", a->input, "Input GGUF model")->required();
    c->add_option("output", a->output, "Output GGUF file")->required();
    c->add_option("type", a->type, "Target type: " + quant::mix_names())->required();
    c->add_option("-t,--threads", a->threads, "Threads (0: one per core)")
        ->check(CLI::Range(0, 1024));
    return [a] { return run(*a); };
}

}  // namespace citadel::cli
