// `citadel plan`: capacity planning. From a model's real architecture (GGUF, config.json or
// a preset) it estimates weight, KV-cache, activation and runtime memory; which devices of
// the catalogue hold it and at what tensor-parallel degree; decode and prefill speed from
// memory bandwidth and compute; how many users meet a latency target; and the cost per month
// and per million tokens. Every number carries the formula that made it.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "core/status.h"
#include "plan/arch.h"
#include "plan/devices.h"
#include "plan/sources.h"
#include "plan/weights.h"

namespace citadel::plan {

// A number and the formula that made it.
struct Figure {
    double value = 0;
    std::string formula;
};

// Efficiency factors and other assumptions; printed with every plan.
struct Assumptions {
    double gpu_bandwidth_efficiency = 0.70;  // share of peak HBM bandwidth decode kernels reach
    double gpu_compute_efficiency = 0.50;    // share of dense FP16 peak prefill GEMMs reach
    // share of the measured read bandwidth: decode on the 2-vCPU class reaches 68-93 % of
    // 35.2 GB/s with llama.cpp and 95-108 % with Citadel (bench/RESULTS.md)
    double cpu_bandwidth_efficiency = 0.80;
    double cpu_compute_efficiency = 0.25;  // share of the FMA / VNNI peak
    // share of tp × one device's bandwidth and compute that tensor parallelism delivers
    // (the all-reduces after attention and FFN of every layer cost the rest)
    double tensor_parallel_efficiency = 0.80;
    double gpu_memory_utilisation = 0.90;        // of a GPU's memory (as vLLM's default)
    double cpu_memory_utilisation = 0.90;        // of a server's memory (the OS keeps the rest)
    double gpu_runtime_bytes = 1.0 * (1 << 30);  // per GPU: CUDA context, cuBLAS workspace
    // Per CPU process: code, libraries, thread stacks, allocator (measured: the peak RSS of
    // `citadel bench run` on 0.3-2 MB models with 512-token vocabularies, less their weights
    // and buffers, is 9.5-10 MiB), plus the tokenizer's tables per vocabulary entry (token
    // text, ids, merge ranks: 160 B, measured with the 32,000-token llama-2-tiny-random).
    double cpu_runtime_bytes = 10.0 * (1 << 20);
    double tokenizer_bytes_per_token = 160;
    double host_runtime_bytes = 2.0 * (1 << 30);  // host memory of a GPU-serving process
    double memory_limit_headroom = 1.25;          // limit = request × this
    double power_usd_per_kwh = 0.15;
    double amortisation_months = 36;
    double hours_per_month = 730;
    double gpu_speed_factor = 2.0;  // decode / prefill stated to be within this factor
    double cpu_speed_factor = 3.0;  // checked by tests/plan against `citadel bench run`
};

struct PlanRequest {
    std::string model;   // GGUF path, config.json path or preset name
    std::string source;  // "gguf", "config.json", "preset"; "" = by the name (open_source)
    std::string quant;   // "" = as the GGUF file is
    int64_t ctx = 8192;
    int64_t seqs = 16;
    std::string kv_type = "f16";
    double target_tpot_ms = 50;
    double target_tps = 0;  // 0: none
    std::string device;     // "" = every device of the catalogue
    int64_t ubatch = 512;   // prompt tokens per forward pass (activation memory)
};

struct MemoryPlan {
    Figure weights, kv_per_token, kv_total, activation, runtime, total;
};

struct DevicePlan {
    const Device* device = nullptr;
    int tensor_parallel = 0;  // 0: does not fit even at the largest degree
    Figure memory_per_device;
    Figure max_seqs;  // sequences of ctx tokens the memory holds
    Figure decode_tps_per_seq, aggregate_tps, tpot_ms, prefill_tps;
    Figure users_at_target;  // concurrent sequences whose TPOT meets the target
    Figure replicas_for_target_tps;
    Figure rent_usd_month, buy_usd_month, rent_usd_per_mtok, buy_usd_per_mtok;
    std::string speed_factor;
};

struct Plan {
    PlanRequest request;
    Assumptions assumptions;
    Arch arch;
    std::string source_kind;
    Figure params, active_params;
    double matmul_active_params = 0;  // active, less an untied embedding's lookup
    std::vector<WeightBytes> by_quant;
    WeightBytes weights;  // of the chosen quantization
    MemoryPlan memory;    // one replica on one CPU device (no tensor parallelism)
    std::vector<DevicePlan> devices;
    std::vector<std::string> notes;  // e.g. a context beyond the trained one
};

// Validates the request (ctx, seqs, targets, names) and computes the plan.
Result<Plan> make_plan(const PlanRequest& request, const Assumptions& assumptions = {});

nlohmann::json plan_json(const Plan& plan);
std::string plan_table(const Plan& plan);
std::string presets_table();
std::string devices_table();

struct ReplicaResources {
    uint64_t memory_request_bytes = 0;
    uint64_t memory_limit_bytes = 0;
    double cpu_request = 0;
    int gpus = 0;
    std::string gpu_name;
    std::string formula;
    uint64_t kv_bytes = 0;  // the KV cache for ctx × seqs (serve --kv-mem)
};
// Resources for one `citadel serve` replica serving `model` (a GGUF path, a config.json path or a
// preset name) at `quant` ("" = as the GGUF file is), ctx × seqs, on `gpu` ("" = CPU).
Result<ReplicaResources> replica_resources(const std::string& model, const std::string& quant,
                                           int ctx, int seqs, const std::string& gpu);

}  // namespace citadel::plan
