// Weight memory of a model at a quantization: every tensor gets the type Citadel's own mix
// rules (src/quant/mix.cpp, as `citadel quantize` applies them) give it, and its bytes follow
// from the type's block layout (q4_K: 144 bytes per 256 weights = 4.5 bits per weight).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "plan/sources.h"

namespace citadel::plan {

struct WeightBytes {
    std::string quant;           // "q4_k_m", or the file's mix ("as file")
    double total = 0;            // bytes of every tensor
    double routed_experts = 0;   // bytes of the routed-expert tensors (MoE), part of total
    double lookup_table = 0;     // bytes of an untied token embedding, part of total
    double per_token_read = 0;   // bytes one decode token reads: dense + used experts + 1 row
    double bits_per_weight = 0;  // 8 × total / parameters
    std::string types;           // "q4_K 168, q6_K 29, f32 121" (tensors per type)
    std::string formula;
};

// quant "" (or "file"): the GGUF file's own types; an error for other sources.
Result<WeightBytes> weight_bytes(const ModelSource& source, const std::string& quant);

// The quantizations the planner tabulates: f32 f16 bf16 q8_0 q6_k q5_k_m q4_k_m q4_0 q3_k_m q2_k.
std::vector<std::string> table_quants();

// Bytes per value of a KV cache type: f16 2, f32 4, q8_0 34/32 (a scale per 32 values).
Result<double> kv_type_bytes(const std::string& kv_type);

}  // namespace citadel::plan
