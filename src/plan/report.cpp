// A plan as JSON (every number with its formula) and as an aligned text table.
#include <cstdarg>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "plan/plan.h"

namespace citadel::plan {
namespace {

using nlohmann::json;

std::string fmt(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string fmt(const char* format, ...) {
    va_list args, again;
    va_start(args, format);
    va_copy(again, args);
    const int n = std::vsnprintf(nullptr, 0, format, args);  // names from files may be long
    va_end(args);
    std::string out(size_t(n > 0 ? n : 0) + 1, '\0');
    std::vsnprintf(out.data(), out.size(), format, again);
    va_end(again);
    out.resize(out.size() - 1);
    return out;
}

std::string bytes_text(double b) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (b >= 1024.0 && u < 4) b /= 1024.0, ++u;
    return u == 0 ? fmt("%.0f B", b) : fmt("%.2f %s", b, units[u]);
}

json figure(const Figure& f) {
    return {{"value", f.value}, {"formula", f.formula}};
}

json arch_json(const Plan& p) {
    const Arch& a = p.arch;
    json j = {{"source", p.source_kind},
              {"spec", p.request.model},
              {"name", a.name},
              {"family", a.family},
              {"layers", a.n_layer},
              {"hidden", a.n_embd},
              {"heads", a.n_head},
              {"kv_heads", a.n_head_kv},
              {"head_dim", a.head_dim},
              {"head_dim_v", a.value_dim()},
              {"ffn", a.n_ff},
              {"vocab", a.n_vocab},
              {"context_length", a.n_ctx_train},
              {"tied_embeddings", a.tied_embeddings},
              {"params", figure(p.params)},
              {"active_params", figure(p.active_params)}};
    if (a.is_moe()) {
        j["moe"] = {{"experts", a.n_expert},
                    {"experts_per_token", a.n_expert_used},
                    {"shared_experts", a.n_expert_shared},
                    {"expert_ffn", a.n_ff_expert},
                    {"dense_layers_first", a.n_dense_first}};
    }
    if (a.is_mla()) {
        j["mla"] = {{"kv_lora_rank", a.kv_lora_rank},
                    {"q_lora_rank", a.q_lora_rank},
                    {"qk_rope_head_dim", a.qk_rope_head_dim},
                    {"qk_nope_head_dim", a.qk_nope_head_dim},
                    {"v_head_dim", a.v_head_dim}};
    }
    return j;
}

json weights_json(const WeightBytes& w) {
    return {{"quant", w.quant},
            {"bytes", w.total},
            {"bits_per_weight", w.bits_per_weight},
            {"decode_bytes_read_per_token", w.per_token_read},
            {"tensor_types", w.types},
            {"formula", w.formula}};
}

json device_json(const DevicePlan& d) {
    const Device& dev = *d.device;
    json j = {{"key", dev.key},
              {"name", dev.name},
              {"cpu", dev.is_cpu},
              {"memory_gb", dev.memory_gb},
              {"bandwidth_gbs", dev.bandwidth_gbs},
              {"fp16_tflops", dev.fp16_tflops},
              {"int8_tops", dev.int8_tops},
              {"purchase_usd", dev.purchase_usd},
              {"rental_usd_hour", dev.rental_usd_hour},
              {"power_watts", dev.power_watts},
              {"fits", d.tensor_parallel > 0},
              {"tensor_parallel", d.tensor_parallel},
              {"memory_per_device_bytes", figure(d.memory_per_device)}};
    if (d.tensor_parallel == 0) return j;
    j["max_seqs"] = figure(d.max_seqs);
    j["decode_tps_per_seq"] = figure(d.decode_tps_per_seq);
    j["aggregate_tps"] = figure(d.aggregate_tps);
    j["tpot_ms"] = figure(d.tpot_ms);
    j["prefill_tps"] = figure(d.prefill_tps);
    j["users_at_target_tpot"] = figure(d.users_at_target);
    if (!d.replicas_for_target_tps.formula.empty()) {
        j["replicas_for_target_tps"] = figure(d.replicas_for_target_tps);
    }
    j["rent_usd_month"] = figure(d.rent_usd_month);
    j["buy_usd_month"] = figure(d.buy_usd_month);
    j["rent_usd_per_mtok"] = figure(d.rent_usd_per_mtok);
    j["buy_usd_per_mtok"] = figure(d.buy_usd_per_mtok);
    j["speed_estimate_accuracy"] = d.speed_factor;
    return j;
}

json assumptions_json(const Assumptions& a) {
    return {{"gpu_bandwidth_efficiency", a.gpu_bandwidth_efficiency},
            {"gpu_compute_efficiency", a.gpu_compute_efficiency},
            {"cpu_bandwidth_efficiency", a.cpu_bandwidth_efficiency},
            {"cpu_compute_efficiency", a.cpu_compute_efficiency},
            {"tensor_parallel_efficiency", a.tensor_parallel_efficiency},
            {"gpu_memory_utilisation", a.gpu_memory_utilisation},
            {"cpu_memory_utilisation", a.cpu_memory_utilisation},
            {"gpu_runtime_bytes", a.gpu_runtime_bytes},
            {"cpu_runtime_bytes", a.cpu_runtime_bytes},
            {"tokenizer_bytes_per_token", a.tokenizer_bytes_per_token},
            {"power_usd_per_kwh", a.power_usd_per_kwh},
            {"amortisation_months", a.amortisation_months},
            {"hours_per_month", a.hours_per_month},
            {"gpu_speed_factor", a.gpu_speed_factor},
            {"cpu_speed_factor", a.cpu_speed_factor},
            {"prices_as_of", kCatalogueDate}};
}

std::string arch_line(const Plan& p) {
    const Arch& a = p.arch;
    std::string s =
        fmt("%s (%s %s): %s, %lld layers, hidden %lld, %lld heads / %lld KV heads "
            "× %lld, ffn %lld, vocab %lld",
            a.name.c_str(), p.source_kind.c_str(), p.request.model.c_str(), a.family.c_str(),
            (long long)a.n_layer, (long long)a.n_embd, (long long)a.n_head, (long long)a.n_head_kv,
            (long long)a.head_dim, (long long)a.n_ff, (long long)a.n_vocab);
    if (a.is_moe()) {
        s +=
            fmt("; MoE %lld experts × %lld wide, %lld per token + %lld shared, first %lld "
                "layers dense",
                (long long)a.n_expert, (long long)a.n_ff_expert, (long long)a.n_expert_used,
                (long long)a.n_expert_shared, (long long)a.n_dense_first);
    }
    if (a.is_mla()) {
        s += fmt("; MLA kv_lora_rank %lld + rope %lld", (long long)a.kv_lora_rank,
                 (long long)a.qk_rope_head_dim);
    }
    return s + "\n";
}

std::string weights_section(const Plan& p) {
    std::string s =
        "\nWeight memory by quantization (weight_bytes = Σ rows × row_bytes(type); types by "
        "the mix rules of src/quant/mix.cpp)\n";
    s += fmt("  %-8s %12s %7s  %s\n", "quant", "weights", "bpw", "tensor types");
    for (const WeightBytes& w : p.by_quant) {
        s += fmt("  %-8s %12s %7.3f  %s\n", w.quant.c_str(), bytes_text(w.total).c_str(),
                 w.bits_per_weight, w.types.c_str());
    }
    return s;
}

std::string memory_line(const char* what, const std::string& value, const Figure& f) {
    return fmt("  %-13s %12s  ", what, value.c_str()) + f.formula + "\n";
}

std::string memory_section(const Plan& p) {
    const PlanRequest& r = p.request;
    const MemoryPlan& m = p.memory;
    std::string s =
        fmt("\nMemory of one replica: %s weights, ctx %lld × %lld sequences, KV %s, "
            "ubatch %lld\n",
            p.weights.quant.c_str(), (long long)r.ctx, (long long)r.seqs, r.kv_type.c_str(),
            (long long)r.ubatch);
    s += memory_line("parameters", fmt("%.3f B", p.params.value / 1e9), p.params);
    s += memory_line("active", fmt("%.3f B", p.active_params.value / 1e9), p.active_params);
    s += memory_line(
        "weights", bytes_text(m.weights.value),
        {0, fmt("%.3f bits per weight; ", p.weights.bits_per_weight) + m.weights.formula});
    s += memory_line("KV per token", bytes_text(m.kv_per_token.value), m.kv_per_token);
    s += memory_line("KV cache", bytes_text(m.kv_total.value), m.kv_total);
    s += memory_line("activations", bytes_text(m.activation.value), m.activation);
    s += memory_line("runtime", bytes_text(m.runtime.value), m.runtime);
    s += memory_line("total", bytes_text(m.total.value), m.total);
    return s;
}

std::string device_row(const DevicePlan& d) {
    if (d.tensor_parallel == 0) {
        return fmt("  %-11s  does not fit: needs %s per device even at TP %d\n", d.device->key,
                   bytes_text(d.memory_per_device.value).c_str(), d.device->max_tensor_parallel);
    }
    std::string replicas = d.replicas_for_target_tps.formula.empty()
                               ? "-"
                               : fmt("%.0f", d.replicas_for_target_tps.value);
    return fmt(
        "  %-11s %3d %11s %8.0f %8.1f %9.1f %8.1f %9.0f %7.0f %5s %9.0f %9.0f %8.3f "
        "%8.3f\n",
        d.device->key, d.tensor_parallel, bytes_text(d.memory_per_device.value).c_str(),
        d.max_seqs.value, d.decode_tps_per_seq.value, d.aggregate_tps.value, d.tpot_ms.value,
        d.prefill_tps.value, d.users_at_target.value, replicas.c_str(), d.rent_usd_month.value,
        d.buy_usd_month.value, d.rent_usd_per_mtok.value, d.buy_usd_per_mtok.value);
}

const DevicePlan* first_fitting(const Plan& p) {
    for (const DevicePlan& d : p.devices) {
        if (d.tensor_parallel > 0) return &d;
    }
    return nullptr;
}

std::string devices_section(const Plan& p) {
    std::string s =
        fmt("\nDevices (%lld sequences at ctx %lld; TPOT target %g ms", (long long)p.request.seqs,
            (long long)p.request.ctx, p.request.target_tpot_ms);
    s += p.request.target_tps > 0 ? fmt("; throughput target %g tokens/s)\n", p.request.target_tps)
                                  : ")\n";
    s += fmt("  %-11s %3s %11s %8s %8s %9s %8s %9s %7s %5s %9s %9s %8s %8s\n", "device", "TP",
             "mem/device", "max seqs", "t/s/seq", "agg t/s", "TPOT ms", "prefill", "users", "repl",
             "rent $/mo", "buy $/mo", "$/Mt rnt", "$/Mt buy");
    for (const DevicePlan& d : p.devices) s += device_row(d);
    if (const DevicePlan* d = first_fitting(p)) {
        s += "  formulas:\n";
        for (const Figure* f :
             {&d->memory_per_device, &d->max_seqs, &d->tpot_ms, &d->decode_tps_per_seq,
              &d->aggregate_tps, &d->prefill_tps, &d->users_at_target, &d->rent_usd_month,
              &d->buy_usd_month, &d->rent_usd_per_mtok}) {
            s += "    " + f->formula + "\n";
        }
        if (!d->replicas_for_target_tps.formula.empty()) {
            s += "    " + d->replicas_for_target_tps.formula + "\n";
        }
    }
    return s;
}

std::string assumptions_section(const Plan& p) {
    const Assumptions& a = p.assumptions;
    std::string s = "\nAssumptions (named constants):\n";
    s +=
        fmt("  bw_eff gpu %.2f cpu %.2f; compute_eff gpu %.2f cpu %.2f; tp_eff %.2f; memory "
            "utilisation gpu %.2f cpu %.2f\n",
            a.gpu_bandwidth_efficiency, a.cpu_bandwidth_efficiency, a.gpu_compute_efficiency,
            a.cpu_compute_efficiency, a.tensor_parallel_efficiency, a.gpu_memory_utilisation,
            a.cpu_memory_utilisation);
    s += fmt(
        "  runtime: %s per GPU, %s + %.0f B per vocabulary entry per CPU process; power "
        "$%.2f/kWh; purchase amortised over %.0f months; %.0f h/month\n",
        bytes_text(a.gpu_runtime_bytes).c_str(), bytes_text(a.cpu_runtime_bytes).c_str(),
        a.tokenizer_bytes_per_token, a.power_usd_per_kwh, a.amortisation_months, a.hours_per_month);
    s +=
        fmt("  peak: GPUs dense FP16 (weight-only quantization runs in FP16); CPUs INT8 "
            "(VNNI) for quantized weights, FP32 FMA otherwise\n");
    s +=
        fmt("  speed estimates: GPU within ×%.0f (assumed, not measured by this project); CPU "
            "within ×%.0f (tests/plan compare with citadel bench)\n",
            a.gpu_speed_factor, a.cpu_speed_factor);
    s +=
        fmt("  prices and rentals as of %s (purchase: one card / one CPU server; rent: on-demand "
            "cloud)\n",
            kCatalogueDate);
    return s;
}

}  // namespace

json plan_json(const Plan& p) {
    const PlanRequest& r = p.request;
    const MemoryPlan& m = p.memory;
    json j = {{"model", arch_json(p)},
              {"request",
               {{"quant", p.weights.quant},
                {"ctx", r.ctx},
                {"seqs", r.seqs},
                {"kv_type", r.kv_type},
                {"ubatch", r.ubatch},
                {"target_tpot_ms", r.target_tpot_ms},
                {"target_tps", r.target_tps}}},
              {"weights_by_quant", json::array()},
              {"memory",
               {{"quant", p.weights.quant},
                {"weights_bytes", figure(m.weights)},
                {"bits_per_weight", p.weights.bits_per_weight},
                {"kv_bytes_per_token", figure(m.kv_per_token)},
                {"kv_bytes", figure(m.kv_total)},
                {"activation_bytes", figure(m.activation)},
                {"runtime_bytes", figure(m.runtime)},
                {"total_bytes", figure(m.total)}}},
              {"devices", json::array()},
              {"assumptions", assumptions_json(p.assumptions)}};
    j["notes"] = p.notes;
    for (const WeightBytes& w : p.by_quant) j["weights_by_quant"].push_back(weights_json(w));
    for (const DevicePlan& d : p.devices) j["devices"].push_back(device_json(d));
    return j;
}

std::string plan_table(const Plan& p) {
    std::string notes;
    for (const std::string& n : p.notes) notes += "note: " + n + "\n";
    return arch_line(p) + notes + weights_section(p) + memory_section(p) + devices_section(p) +
           assumptions_section(p);
}

std::string presets_table() {
    std::string s = fmt("%-15s %-26s %-9s %7s %7s %6s %4s %5s %9s\n", "preset", "model", "family",
                        "layers", "hidden", "heads", "kv", "head", "params");
    for (const std::string& name : preset_names()) {
        Result<ModelSource> src = source_from_preset(name);
        if (!src) continue;
        const Arch& a = src->arch;
        s += fmt("%-15s %-26s %-9s %7lld %7lld %6lld %4lld %5lld %8.2fB\n", name.c_str(),
                 a.name.c_str(), a.family.c_str(), (long long)a.n_layer, (long long)a.n_embd,
                 (long long)a.n_head, (long long)a.n_head_kv, (long long)a.head_dim,
                 count_params(src->tensors).total / 1e9);
    }
    return s;
}

std::string devices_table() {
    std::string s = fmt("%-11s %-48s %6s %7s %8s %8s %8s %7s %6s\n", "key", "name", "GB", "GB/s",
                        "FP16 TF", "INT8 TOP", "buy $", "rent/h", "watts");
    for (const Device& d : devices()) {
        s += fmt("%-11s %-48s %6.0f %7.0f %8.2f %8.2f %8.0f %7.2f %6.0f\n", d.key, d.name,
                 d.memory_gb, d.bandwidth_gbs, d.fp16_tflops, d.int8_tops, d.purchase_usd,
                 d.rental_usd_hour, d.power_watts);
    }
    return s + fmt("prices and rentals as of %s\n", kCatalogueDate);
}

}  // namespace citadel::plan
