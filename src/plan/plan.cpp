#include "plan/plan.h"

#include <cmath>

#include "plan/estimate.h"

namespace citadel::plan {
namespace {

Status check_request(const PlanRequest& r) {
    auto range = [](const char* what, double v, double lo, double hi) {
        if (std::isfinite(v) && v >= lo && v <= hi) return ok_status();
        char buf[160];
        std::snprintf(buf, sizeof buf, "%s is %.15g; expected %.15g..%.15g", what, v, lo, hi);
        return Status::error(buf);
    };
    CITADEL_TRY(range("--ctx", double(r.ctx), 1, double(int64_t(1) << 24)));
    CITADEL_TRY(range("--seqs", double(r.seqs), 1, 1 << 20));
    CITADEL_TRY(range("--ubatch", double(r.ubatch), 1, 1 << 20));
    CITADEL_TRY(range("--target-tpot-ms", r.target_tpot_ms, 0.001, 1e7));
    CITADEL_TRY(range("--target-tps", r.target_tps, 0, 1e12));
    if (r.model.empty())
        return Status::error(
            "no model: give -m FILE.gguf, --config FILE or "
            "--preset NAME");
    if (!r.device.empty() && !find_device(r.device)) {
        return Status::error("unknown device '" + r.device + "'; devices: " + device_keys());
    }
    return ok_status();
}

void add_params(const ModelSource& s, Plan& p) {
    const ParamCounts c = count_params(s.tensors);
    p.params = {c.total, "params = Σ tensor elements (shapes from the architecture)"};
    p.active_params = {c.active, p.arch.is_moe() ? "active_params = Σ elements, routed experts × "
                                                   "experts_per_token / experts"
                                                 : "active_params = params (dense)"};
    p.matmul_active_params = c.matmul_active;
}

Status add_weights(const ModelSource& s, Plan& p) {
    for (const std::string& q : table_quants()) {
        Result<WeightBytes> w = weight_bytes(s, q);
        if (!w) return w.status();
        p.by_quant.push_back(*w);
    }
    // A config.json or preset has no types of its own: f16 unless --quant says otherwise
    const bool unset = p.request.quant.empty() && s.kind != "gguf";
    Result<WeightBytes> chosen = weight_bytes(s, unset ? "f16" : p.request.quant);
    if (!chosen) return chosen.status();
    p.weights = *chosen;
    return ok_status();
}

void add_notes(Plan& p) {
    const Arch& a = p.arch;
    if (a.n_ctx_train > 0 && p.request.ctx > a.n_ctx_train) {
        p.notes.push_back("--ctx " + std::to_string(p.request.ctx) + " exceeds the model's " +
                          "trained context of " + std::to_string(a.n_ctx_train) + " tokens");
    }
    if (a.family != "llama" && a.family != "qwen2" && a.family != "qwen3") {
        p.notes.push_back("Citadel's engine runs llama, qwen2 and qwen3 models; " + a.family +
                          " is planned here for other engines");
    }
}

}  // namespace

Result<Plan> make_plan(const PlanRequest& request, const Assumptions& assumptions) {
    CITADEL_TRY(check_request(request));
    Result<double> kv_bytes = kv_type_bytes(request.kv_type);
    if (!kv_bytes) return kv_bytes.status();
    Result<ModelSource> source = request.source == "gguf" ? source_from_gguf(request.model)
                                 : request.source == "config.json"
                                     ? source_from_config(request.model)
                                 : request.source == "preset" ? source_from_preset(request.model)
                                                              : open_source(request.model);
    if (!source) return source.status();
    Plan p{.request = request,
           .assumptions = assumptions,
           .arch = source->arch,
           .source_kind = source->kind};
    add_params(*source, p);
    CITADEL_TRY(add_weights(*source, p));
    p.memory = memory_plan(p, *kv_bytes);
    add_notes(p);
    for (const Device& d : devices()) {
        if (request.device.empty() || find_device(request.device) == &d) {
            p.devices.push_back(device_plan(p, d));
        }
    }
    return p;
}

Result<ReplicaResources> replica_resources(const std::string& model, const std::string& quant,
                                           int ctx, int seqs, const std::string& gpu) {
    PlanRequest r{.model = model,
                  .quant = quant,
                  .ctx = ctx,
                  .seqs = seqs,
                  .device = gpu.empty() ? "cpu-2s-64c" : gpu};
    const Device* device = find_device(r.device);
    if (!gpu.empty() && device && device->is_cpu) {
        return Status::error("'" + gpu +
                             "' is a CPU server, not a GPU; leave the GPU empty "
                             "for a CPU replica");
    }
    Result<Plan> plan = make_plan(r);
    if (!plan) return plan.status();
    const Plan& p = *plan;
    ReplicaResources out;
    if (gpu.empty()) {
        out.memory_request_bytes = uint64_t(std::ceil(p.memory.total.value));
        out.cpu_request = 2;
        out.formula = "memory_request = " + p.memory.total.formula +
                      "; cpu_request = 2 (decode is memory-bound; more threads add little)";
    } else {
        const DevicePlan& d = p.devices.front();
        if (d.tensor_parallel == 0) {
            return Status::error(p.arch.name + " at " + p.weights.quant + " with " +
                                 std::to_string(ctx) + " × " + std::to_string(seqs) +
                                 " tokens does not fit on 8 × " + d.device->name);
        }
        out.gpus = d.tensor_parallel;
        out.gpu_name = d.device->key;
        out.memory_request_bytes =
            uint64_t(std::ceil(p.assumptions.host_runtime_bytes + p.memory.weights.value));
        out.cpu_request = 1.0 * d.tensor_parallel;
        out.formula = "gpus = tp (" + d.memory_per_device.formula +
                      "); memory_request = host_runtime_bytes + weight_bytes (weights are "
                      "staged in host memory while loading); cpu_request = 1 per GPU";
    }
    out.kv_bytes = uint64_t(std::ceil(p.memory.kv_total.value));
    out.memory_limit_bytes =
        uint64_t(std::ceil(double(out.memory_request_bytes) * p.assumptions.memory_limit_headroom));
    out.formula += "; memory_limit = memory_request × memory_limit_headroom";
    return out;
}

}  // namespace citadel::plan
