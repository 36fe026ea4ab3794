// Fitting a replica on a device and estimating its speed and cost.
//
// Decode is a sequence of steps; each step produces one token for every running sequence.
// A step reads the weights once (shared by the batch) and each sequence's KV cache, and does
// 2 FLOPs per active weight per token plus the attention over the context; it takes the
// longer of the memory time and the compute time (a roofline). Prefill is compute-bound.
#include <algorithm>
#include <cmath>

#include "plan/estimate.h"

namespace citadel::plan {
namespace {

double bandwidth_efficiency(const Plan& p, const Device& d) {
    return d.is_cpu ? p.assumptions.cpu_bandwidth_efficiency
                    : p.assumptions.gpu_bandwidth_efficiency;
}

// tp devices act as tp × tp_eff of one (tp_eff = 1 for a single device).
double parallel_devices(const Plan& p, int tp) {
    return tp == 1 ? 1.0 : tp * p.assumptions.tensor_parallel_efficiency;
}

double compute_efficiency(const Plan& p, const Device& d) {
    return d.is_cpu ? p.assumptions.cpu_compute_efficiency : p.assumptions.gpu_compute_efficiency;
}

// CPU kernels multiply quantized blocks with integer dot products (VNNI); GPUs dequantize
// weight-only quantizations to FP16 for their tensor cores.
double peak_ops(const Plan& p, const Device& d) {
    const bool integer = d.is_cpu && p.weights.bits_per_weight < 15.9;
    return (integer ? d.int8_tops : d.fp16_tflops) * 1e12;
}

// Attention FLOPs per token per context position: QKᵀ and softmax·V over every head.
double attention_flops_per_position(const Arch& a) {
    if (a.is_mla()) {  // absorbed MLA attends in the latent: (latent + rope) keys, latent values
        return 2.0 * double(a.n_layer * a.n_head) * double(2 * a.kv_lora_rank + a.qk_rope_head_dim);
    }
    return 2.0 * double(a.n_layer * a.n_head) * double(a.head_dim + a.value_dim());
}

// Routed-expert bytes a step of n tokens touches: each expert is used by a token with
// probability k/E, so the share touched is 1 − (1 − k/E)^n.
double expert_bytes_touched(const Plan& p, double n) {
    const Arch& a = p.arch;
    if (!a.is_moe() || p.weights.routed_experts <= 0) return 0;
    const double k_over_e = double(a.n_expert_used) / double(a.n_expert);
    return p.weights.routed_experts * (1.0 - std::pow(1.0 - k_over_e, n));
}

// What every device of a replica holds besides its share of weights and KV cache.
double fixed_per_device(const Plan& p, const Device& d) {
    const Assumptions& as = p.assumptions;
    return p.memory.activation.value + (d.is_cpu ? p.memory.runtime.value : as.gpu_runtime_bytes);
}

double memory_per_device(const Plan& p, const Device& d, int tp) {
    return (p.memory.weights.value + p.memory.kv_total.value) / tp + fixed_per_device(p, d);
}

double usable_bytes(const Plan& p, const Device& d) {
    const double util =
        d.is_cpu ? p.assumptions.cpu_memory_utilisation : p.assumptions.gpu_memory_utilisation;
    return d.memory_gb * 1e9 * util;
}

int smallest_fitting_tp(const Plan& p, const Device& d) {
    for (int tp = 1; tp <= d.max_tensor_parallel; tp *= 2) {
        if (memory_per_device(p, d, tp) <= usable_bytes(p, d)) return tp;
    }
    return 0;
}

void add_speed(const Plan& p, const Device& d, DevicePlan& out) {
    const int tp = out.tensor_parallel;
    const double ctx = double(p.request.ctx), seqs = double(p.request.seqs);
    const double step = decode_step_seconds(p, d, tp, seqs, ctx);
    const std::string roofline =
        "step_s = max((weight_bytes_read + seqs × kv_bytes_per_token × ctx) / (bw_eff × "
        "bandwidth × tp'), seqs × (2 × active_matmul_params + attn_flops × ctx) / (compute_eff × "
        "peak × tp')); tp' = tp × tp_eff (1 for one device); MoE weight_bytes_read = dense + "
        "experts × (1 − (1 − k/E)^seqs)";
    out.tpot_ms = {step * 1000.0,
                   "tpot_ms = 1000 × step_s at ctx (every sequence at full "
                   "context: the worst case) [" +
                       roofline + "]"};
    out.decode_tps_per_seq = {1.0 / step, "decode_tps_per_seq = 1 / step_s"};
    out.aggregate_tps = {seqs / step, "aggregate_tps = seqs / step_s"};
    const double peak = peak_ops(p, d) * compute_efficiency(p, d) * parallel_devices(p, tp);
    const double ubatch = double(std::min(p.request.ubatch, p.request.ctx));
    const double chunk_compute = ubatch * 2.0 * p.matmul_active_params / peak;
    const double chunk_memory = p.weights.total / (bandwidth_efficiency(p, d) * d.bandwidth_gbs *
                                                   1e9 * parallel_devices(p, tp));
    out.prefill_tps = {ubatch / std::max(chunk_compute, chunk_memory),
                       "prefill_tps = ubatch / max(ubatch × 2 × active_matmul_params / "
                       "(compute_eff × peak × tp'), weight_bytes / (bw_eff × bandwidth × tp'))"};
    out.speed_factor = "within ×" + std::to_string(int(d.is_cpu ? p.assumptions.cpu_speed_factor
                                                                : p.assumptions.gpu_speed_factor));
    out.speed_factor += d.is_cpu ? " (checked against citadel bench on cpu-2vcpu by tests/plan)"
                                 : " (assumed; not measured here)";
}

// The largest concurrency in [0, max_seqs] whose step meets the TPOT target (step time
// grows with the number of sequences, so a binary search finds it).
double users_meeting(const Plan& p, const Device& d, int tp, double max_seqs) {
    const double target_s = p.request.target_tpot_ms / 1000.0;
    const double ctx = double(p.request.ctx);
    double lo = 0, hi = std::floor(max_seqs);
    while (lo < hi) {
        const double mid = std::floor((lo + hi + 1) / 2);
        if (decode_step_seconds(p, d, tp, mid, ctx) <= target_s) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    return lo;
}

void add_capacity(const Plan& p, const Device& d, DevicePlan& out) {
    const int tp = out.tensor_parallel;
    const double room =
        usable_bytes(p, d) * tp - p.memory.weights.value - tp * fixed_per_device(p, d);
    const double per_seq = p.memory.kv_per_token.value * double(p.request.ctx);
    out.max_seqs = {std::max(0.0, std::floor(room / per_seq)),
                    "max_seqs = floor((usable_memory × tp − weight_bytes − tp × (activation + "
                    "runtime)) / (kv_bytes_per_token × ctx))"};
    const double users = users_meeting(p, d, tp, out.max_seqs.value);
    out.users_at_target = {users,
                           "users = largest n ≤ max_seqs with step_s(n, ctx) ≤ "
                           "target_tpot_ms / 1000"};
    if (p.request.target_tps > 0) {
        const double tps =
            users > 0 ? users / decode_step_seconds(p, d, tp, users, double(p.request.ctx)) : 0;
        out.replicas_for_target_tps = {
            tps > 0 ? std::ceil(p.request.target_tps / tps) : -1,
            "replicas = ceil(target_tps / (users / step_s(users))) (-1: no concurrency meets "
            "the TPOT target)"};
    }
}

void add_cost(const Plan& p, const Device& d, DevicePlan& out) {
    const Assumptions& as = p.assumptions;
    const double tp = out.tensor_parallel;
    out.rent_usd_month = {d.rental_usd_hour * tp * as.hours_per_month,
                          "rent_month = rental_usd_hour × tp × hours_per_month"};
    out.buy_usd_month = {
        d.purchase_usd * tp / as.amortisation_months +
            d.power_watts * tp / 1000.0 * as.hours_per_month * as.power_usd_per_kwh,
        "buy_month = purchase_usd × tp / amortisation_months + power_kW × tp × "
        "hours_per_month × power_usd_per_kwh"};
    const double mtok_month = out.aggregate_tps.value * 3600.0 * as.hours_per_month / 1e6;
    const char* per_mtok =
        "usd_per_mtok = month_cost / (aggregate_tps × 3600 × "
        "hours_per_month / 1e6) [fully busy]";
    out.rent_usd_per_mtok = {out.rent_usd_month.value / mtok_month, per_mtok};
    out.buy_usd_per_mtok = {out.buy_usd_month.value / mtok_month, per_mtok};
}

}  // namespace

double decode_step_seconds(const Plan& p, const Device& d, int tp, double n, double context) {
    const Arch& a = p.arch;
    const double routed_share =
        a.is_moe() ? p.weights.routed_experts * double(a.n_expert_used) / double(a.n_expert) : 0.0;
    const double weight_read =
        p.weights.per_token_read - routed_share + expert_bytes_touched(p, std::max(1.0, n));
    const double bytes = weight_read + n * p.memory.kv_per_token.value * context;
    const double flops =
        n * (2.0 * p.matmul_active_params + attention_flops_per_position(a) * context);
    const double devices = parallel_devices(p, tp);
    const double memory_s = bytes / (bandwidth_efficiency(p, d) * d.bandwidth_gbs * 1e9 * devices);
    const double compute_s = flops / (compute_efficiency(p, d) * peak_ops(p, d) * devices);
    return std::max(memory_s, compute_s);
}

DevicePlan device_plan(const Plan& p, const Device& d) {
    DevicePlan out;
    out.device = &d;
    out.tensor_parallel = smallest_fitting_tp(p, d);
    const int tp = out.tensor_parallel > 0 ? out.tensor_parallel : d.max_tensor_parallel;
    out.memory_per_device = {memory_per_device(p, d, tp),
                             "memory_per_device = (weight_bytes + kv_bytes) / tp + "
                             "activation_bytes + runtime_bytes; tp = smallest power of two ≤ " +
                                 std::to_string(d.max_tensor_parallel) +
                                 " with memory_per_device ≤ memory × utilisation"};
    if (out.tensor_parallel == 0) return out;
    add_speed(p, d, out);
    add_capacity(p, d, out);
    add_cost(p, d, out);
    return out;
}

}  // namespace citadel::plan
