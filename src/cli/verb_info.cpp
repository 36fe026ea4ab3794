// citadel info: what a GGUF model is and what it needs to run.
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/verbs.h"

namespace citadel::cli {
namespace {

struct InfoArgs {
    std::string model;
    int64_t ctx = 0;
    bool json = false;
};

int run(const InfoArgs& a) {
    Result<std::shared_ptr<const Model>> model = open_model(a.model);
    if (!model) return fail(model.error());
    const Model& m = **model;
    const HParams& hp = m.hp;
    std::map<std::string, std::pair<int, int64_t>> by_type;  // type -> tensors, elements
    int64_t params = 0;
    for (const gguf::TensorInfo& t : m.file->tensors()) {
        auto& e = by_type[dtype_name(t.type)];
        ++e.first;
        e.second += t.n_elements();
        params += t.n_elements();
    }
    const int64_t n_ctx = a.ctx > 0 ? a.ctx : hp.n_ctx_train;
    const double kv_per_token = double(hp.n_layer * (hp.kv_dim() + hp.v_dim()) * 2);  // F16
    nlohmann::json j = {
        {"file", a.model},
        {"name", hp.name},
        {"architecture", hp.arch},
        {"parameters", params},
        {"file_bytes", m.file->file_size()},
        {"weight_bytes", m.weight_bytes()},
        {"n_vocab", hp.n_vocab},
        {"n_embd", hp.n_embd},
        {"n_layer", hp.n_layer},
        {"n_head", hp.n_head},
        {"n_head_kv", hp.n_head_kv},
        {"head_dim", hp.head_dim},
        {"n_ff", hp.n_ff},
        {"context_length", hp.n_ctx_train},
        {"rope_base", hp.rope_base},
        {"rms_eps", hp.rms_eps},
        {"tied_embeddings", m.tied_embeddings},
        {"kv_bytes_per_token", kv_per_token},
        {"kv_bytes_for_context", kv_per_token * double(n_ctx)},
        {"context_for_memory", n_ctx},
        {"memory_bytes_estimate", double(m.weight_bytes()) + kv_per_token * double(n_ctx)}};
    for (const auto& [type, e] : by_type) {
        j["tensor_types"][type] = {{"tensors", e.first}, {"elements", e.second}};
    }
    if (a.json) {
        std::printf("%s\n", j.dump(2).c_str());
        return 0;
    }
    std::printf("%s (%s)\n", a.model.c_str(), hp.name.empty() ? hp.arch.c_str() : hp.name.c_str());
    std::printf(
        "  architecture  %s, %lld layers, width %lld, %lld heads / %lld KV heads of %lld, "
        "ffn %lld, vocab %lld\n",
        hp.arch.c_str(), (long long)hp.n_layer, (long long)hp.n_embd, (long long)hp.n_head,
        (long long)hp.n_head_kv, (long long)hp.head_dim, (long long)hp.n_ff, (long long)hp.n_vocab);
    std::printf("  parameters    %.3f B (%s embeddings)\n", double(params) / 1e9,
                m.tied_embeddings ? "tied" : "untied");
    std::printf("  context       %lld trained; rope base %g\n", (long long)hp.n_ctx_train,
                double(hp.rope_base));
    std::printf("  weights       %s\n", format_bytes(double(m.weight_bytes())).c_str());
    for (const auto& [type, e] : by_type) {
        std::printf("    %-6s %4d tensors, %.3f B elements\n", type.c_str(), e.first,
                    double(e.second) / 1e9);
    }
    std::printf("  KV cache      %s per token (F16); %s for %lld tokens\n",
                format_bytes(kv_per_token).c_str(),
                format_bytes(kv_per_token * double(n_ctx)).c_str(), (long long)n_ctx);
    std::printf("  memory        about %s (weights + KV, plus scratch)\n",
                format_bytes(double(m.weight_bytes()) + kv_per_token * double(n_ctx)).c_str());
    return 0;
}

}  // namespace

VerbRunner add_info(CLI::App& app) {
    auto a = std::make_shared<InfoArgs>();
    CLI::App* c = app.add_subcommand("info", "Describe a GGUF model and its memory needs");
    c->add_option("model", a->model, "GGUF model file")->required();
    c->add_option("-c,--ctx", a->ctx, "Context length for the memory estimate");
    c->add_flag("--json", a->json, "JSON output");
    return [a] { return run(*a); };
}

}  // namespace citadel::cli
