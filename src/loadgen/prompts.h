// The prompts a run sends: a built-in synthetic set, or a dataset file. Parsed at the edge into
// plain structs; a bad line is an error naming the file and the line.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace citadel::loadgen {

struct Prompt {
    std::string text;
    int max_tokens = 0;  // output tokens asked for
};

struct SyntheticSpec {
    int count = 0;
    int input_len = 0;   // words (about one token each for common English words)
    double spread = 0;   // input lengths uniform in input_len * [1 - spread, 1 + spread]
    int output_len = 0;  // max_tokens of every prompt
    uint64_t seed = 0;
};

// Deterministic from spec.seed: the same spec gives the same prompts on every machine. Each
// prompt starts with a distinct number so no two share a cached prefix beyond a few tokens.
std::vector<Prompt> synthetic_prompts(const SyntheticSpec& spec);

// A dataset: JSON Lines, one object per line, either ShareGPT-style
//   {"conversations": [{"from": "human", "value": ...}, {"from": "gpt", "value": ...}, ...]}
// (the first human turn is the prompt; max_tokens is estimated from the first gpt answer at
// 4 characters a token, or default_max_tokens without one), or
//   {"prompt": "...", "max_tokens": N}   (max_tokens optional: default_max_tokens).
// A file whose first non-blank character is '[' is read as one JSON array of such objects.
// override_max_tokens > 0 replaces every max_tokens. Conversations without a human turn are
// skipped and counted in *skipped.
Result<std::vector<Prompt>> parse_dataset(const std::string& text, const std::string& name,
                                          int default_max_tokens, int override_max_tokens,
                                          int* skipped);

Result<std::vector<Prompt>> load_dataset(const std::string& path, int default_max_tokens,
                                         int override_max_tokens, int* skipped);

}  // namespace citadel::loadgen
