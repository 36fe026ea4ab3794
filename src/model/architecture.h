// The architectures Citadel runs. Each lives in its own file (arch_<name>.cpp), registers
// itself in the table below, and is built from the shared blocks in blocks.h.
#pragma once

#include <string_view>

#include "core/status.h"
#include "model/hparams.h"

namespace citadel {

struct LayerWeights;
class TensorLoader;
struct LayerContext;

struct Architecture {
    const char* name;  // general.architecture
    RopeMode rope_mode;
    // Loads the tensors of layer `il` (beyond the common ones) into `layer`.
    Status (*load_layer)(const TensorLoader& loader, const HParams& hp, int il,
                         LayerWeights& layer);
    // Runs one transformer layer over the batch in `ctx` (residual stream updated in place).
    void (*forward_layer)(LayerContext& ctx, const LayerWeights& layer);
};

const Architecture* find_architecture(std::string_view name);
std::string supported_architectures();  // "llama, qwen2, qwen3"

extern const Architecture kArchLlama;
extern const Architecture kArchQwen2;
extern const Architecture kArchQwen3;

}  // namespace citadel
