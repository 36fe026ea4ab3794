// The planner's formulas, one function each (used by make_plan and by the tests).
#pragma once

#include "plan/plan.h"

namespace citadel::plan {

// memory.cpp
Figure kv_bytes_per_token(const Arch& arch, double kv_type_bytes);
Figure activation_bytes(const Arch& arch, int64_t ubatch, int64_t seqs);
int64_t ffn_width(const Arch& arch);
MemoryPlan memory_plan(const Plan& plan, double kv_type_bytes);

// device_plan.cpp
// Seconds of one decode step of `n` sequences, each at `context` tokens, on `tp` devices.
double decode_step_seconds(const Plan& plan, const Device& device, int tp, double n,
                           double context);
DevicePlan device_plan(const Plan& plan, const Device& device);

}  // namespace citadel::plan
