#include "cli/generate.h"

#include <algorithm>
#include <chrono>

#include "cli/common.h"

namespace citadel::cli {

Result<double> process_prompt(const Model& model, ForwardState& state,
                              const std::vector<int32_t>& prompt, int n_ubatch, int start_pos) {
    const auto t0 = std::chrono::steady_clock::now();
    Batch batch;
    for (size_t i = 0; i < prompt.size(); i += size_t(n_ubatch)) {
        batch.clear();
        const size_t end = std::min(prompt.size(), i + size_t(n_ubatch));
        for (size_t j = i; j < end; ++j) {
            batch.add(prompt[j], int32_t(start_pos + j), 0, j + 1 == prompt.size());
        }
        CITADEL_TRY(forward(model, batch, state));
    }
    return seconds_since(t0);
}

Result<GenerateResult> generate(const Model& model, ForwardState& state,
                                const std::vector<int32_t>& prompt, const GenerateOptions& opt,
                                const std::vector<int32_t>& stop_tokens,
                                const std::function<void(int32_t)>& on_token) {
    if (prompt.empty()) return Status::error("the prompt is empty");
    const int64_t needed = opt.start_pos + int64_t(prompt.size()) + opt.n_predict;
    if (needed > state.slot_ctx) {
        return Status::error("prompt (" + std::to_string(opt.start_pos + int64_t(prompt.size())) +
                             " tokens) plus " + std::to_string(opt.n_predict) +
                             " to generate exceeds the context of " +
                             std::to_string(state.slot_ctx) + " tokens");
    }
    GenerateResult r;
    Result<double> pp = process_prompt(model, state, prompt, opt.n_ubatch, opt.start_pos);
    if (!pp) return pp.status();
    r.prompt_seconds = *pp;
    Sampler sampler(opt.sampling);
    const auto t0 = std::chrono::steady_clock::now();
    Batch batch;
    for (int i = 0; i < opt.n_predict; ++i) {
        const int32_t token = sampler.sample(state.logits.data(), model.hp.n_vocab);
        const bool stop =
            std::find(stop_tokens.begin(), stop_tokens.end(), token) != stop_tokens.end();
        if (stop && !opt.ignore_eos) break;
        r.tokens.push_back(token);
        if (on_token) on_token(token);
        if (i + 1 == opt.n_predict) break;
        batch.clear();
        batch.add(token, int32_t(size_t(opt.start_pos) + prompt.size() + size_t(i)), 0, true);
        CITADEL_TRY(forward(model, batch, state));
    }
    r.generate_seconds = seconds_since(t0);
    return r;
}

}  // namespace citadel::cli
