// citadel plan: capacity planning — memory, devices, speed and cost of serving a model.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cli/verbs.h"
#include "plan/plan.h"

namespace citadel::cli {
namespace {

struct PlanArgs {
    std::string gguf, config, preset;
    plan::PlanRequest request;
    bool json = false;
    bool list_presets = false;
    bool list_gpus = false;
};

// Bad input (names, numbers, files) exits with 2.
int usage_error(const std::string& message) {
    std::fprintf(stderr, "citadel plan: %s\n", message.c_str());
    return 2;
}

int run(PlanArgs a) {
    if (a.list_presets) return std::printf("%s", plan::presets_table().c_str()), 0;
    if (a.list_gpus) return std::printf("%s", plan::devices_table().c_str()), 0;
    const int given = int(!a.gguf.empty()) + int(!a.config.empty()) + int(!a.preset.empty());
    if (given != 1) {
        return usage_error(
            "give exactly one of -m MODEL.gguf, --config config.json, "
            "--preset NAME (see --list-presets)");
    }
    a.request.model = !a.gguf.empty() ? a.gguf : !a.config.empty() ? a.config : a.preset;
    a.request.source = !a.gguf.empty() ? "gguf" : !a.config.empty() ? "config.json" : "preset";
    Result<plan::Plan> p = plan::make_plan(a.request);
    if (!p) return usage_error(p.error());
    if (a.json) {
        std::printf("%s\n", plan::plan_json(*p).dump(2).c_str());
    } else {
        std::printf("%s", plan::plan_table(*p).c_str());
    }
    return 0;
}

}  // namespace

VerbRunner add_plan(CLI::App& app) {
    auto a = std::make_shared<PlanArgs>();
    CLI::App* c = app.add_subcommand(
        "plan", "Capacity planning: memory, devices, speed and cost of serving a model");
    c->add_option("-m,--model", a->gguf, "GGUF model file");
    c->add_option("--config", a->config, "Hugging Face config.json");
    c->add_option("--preset", a->preset, "A published model (see --list-presets)");
    c->add_option("-q,--quant", a->request.quant,
                  "Quantization: f16, bf16, q8_0, q6_k, q5_k_m, q4_k_m, q4_0, q3_k_m, q2_k, ... "
                  "(default: the GGUF file's own; f16 otherwise)");
    c->add_option("-c,--ctx", a->request.ctx, "Context length per sequence")->capture_default_str();
    c->add_option("-s,--seqs", a->request.seqs, "Concurrent sequences")->capture_default_str();
    c->add_option("--kv-type", a->request.kv_type, "KV cache type: f16, bf16, q8_0, f32")
        ->capture_default_str();
    c->add_option("--target-tpot-ms", a->request.target_tpot_ms,
                  "Latency target: time per output token (ms)")
        ->capture_default_str();
    c->add_option("--target-tps", a->request.target_tps,
                  "Throughput target: aggregate tokens/s (replicas needed)");
    c->add_option("--gpu,--device", a->request.device, "Only this device (see --list-gpus)");
    c->add_option("--ubatch", a->request.ubatch, "Prompt tokens per forward pass")
        ->capture_default_str();
    c->add_flag("--json", a->json, "JSON output (every number with its formula)");
    c->add_flag("--list-presets", a->list_presets, "List the model presets");
    c->add_flag("--list-gpus", a->list_gpus, "List the device catalogue");
    return [a] { return run(*a); };
}

}  // namespace citadel::cli
