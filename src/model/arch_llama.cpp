// llama: Llama 2/3, Mistral, SmolLM, TinyLlama. Pre-norm blocks, adjacent-pair RoPE (the
// GGUF converter permutes Q/K rows for it), optional rope_freqs (Llama 3.1 scaling), SwiGLU.
#include "model/architecture.h"
#include "model/blocks.h"
#include "model/loader.h"

namespace citadel {
namespace {

Status load_layer(const TensorLoader&, const HParams&, int, LayerWeights&) {
    return ok_status();
}

void forward_layer(LayerContext& ctx, const LayerWeights& l) {
    attention_block(ctx, l, AttentionOptions{});
    gated_ffn_block(ctx, l);
}

}  // namespace

const Architecture kArchLlama = {
    .name = "llama",
    .rope_mode = RopeMode::kNormal,
    .load_layer = load_layer,
    .forward_layer = forward_layer,
};

}  // namespace citadel
