// Where an architecture comes from: a GGUF file (its metadata and exact tensor list), a
// Hugging Face config.json, or a preset of a published model.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "plan/arch.h"
#include "tensor/dtype.h"

namespace citadel::plan {

struct ModelSource {
    Arch arch;
    std::string kind;  // "gguf", "config.json" or "preset"
    std::string spec;  // the path or preset name the user gave
    std::vector<WeightTensor> tensors;
    // GGUF only: each tensor's type and bytes in the file, and the file's mix ("q4_k_m").
    std::vector<DType> file_types;
    std::vector<uint64_t> file_bytes;
    std::string file_quant;
    std::string source_dtype;  // config.json: torch_dtype
};

// Reads a model from a path ending in .gguf, a path to a JSON file, or a preset name.
Result<ModelSource> open_source(const std::string& spec);

Result<ModelSource> source_from_gguf(const std::string& path);
Result<ModelSource> source_from_config(const std::string& path);
// The text of a config.json; `where` names it in errors.
Result<ModelSource> source_from_config_text(const std::string& text, const std::string& where);
Result<ModelSource> source_from_preset(const std::string& name);

Result<Arch> arch_from_preset(const std::string& name);
std::vector<std::string> preset_names();

}  // namespace citadel::plan
