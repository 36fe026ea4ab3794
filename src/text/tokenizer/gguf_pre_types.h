// The pre-tokenizers named by tokenizer.ggml.pre: for each name, the split patterns applied
// in turn (each within the pieces the previous one made) and whether whole-word tokens
// skip the merges. These are the conventions of the GGUF converter.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace citadel::text {

struct GgufPreType {
    std::vector<std::string> patterns;
    bool ignore_merges = false;
};

// nullptr-like empty optional when the name is unknown.
const GgufPreType* find_gguf_pre_type(std::string_view name);
std::string known_gguf_pre_types();

}  // namespace citadel::text
