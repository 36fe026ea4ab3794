// Prompt processing and token-by-token generation on one sequence (used by run and bench).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/status.h"
#include "engine/sampler.h"
#include "model/forward.h"

namespace citadel::cli {

struct GenerateOptions {
    int n_predict = 32;
    bool ignore_eos = false;
    int n_ubatch = 512;  // prompt tokens per forward pass
    int start_pos = 0;   // the prompt continues a sequence already in the KV cache up to here
    SamplingParams sampling;
};

struct GenerateResult {
    std::vector<int32_t> tokens;  // generated, without the prompt
    double prompt_seconds = 0;
    double generate_seconds = 0;  // for the tokens after the first
};

// Feeds `prompt` to sequence 0 from position opt.start_pos, then samples up to n_predict tokens,
// stopping at end-of-generation tokens in `stop_tokens` unless ignore_eos.
Result<GenerateResult> generate(const Model& model, ForwardState& state,
                                const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                                const std::vector<int32_t>& stop_tokens,
                                const std::function<void(int32_t)>& on_token = nullptr);

// Runs the prompt in chunks of n_ubatch; logits of the last token only. Returns seconds.
Result<double> process_prompt(const Model& model, ForwardState& state,
                              const std::vector<int32_t>& prompt, int n_ubatch, int start_pos = 0);

}  // namespace citadel::cli
