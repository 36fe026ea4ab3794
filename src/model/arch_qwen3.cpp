// qwen3: no projection biases; instead each Q and K head is RMS-normalised (learned weight
// of head size) before RoPE. The head size is given explicitly and may differ from
// n_embd / n_head. NeoX RoPE, tied embeddings in the small models.
#include "model/architecture.h"
#include "model/blocks.h"
#include "model/loader.h"
#include "model/model.h"

namespace citadel {
namespace {

Status load_layer(const TensorLoader& ld, const HParams& hp, int il, LayerWeights& l) {
    CITADEL_TRY(
        ld.vector(TensorLoader::layer_name(il, "attn_q_norm.weight"), hp.head_dim, l.q_norm));
    CITADEL_TRY(
        ld.vector(TensorLoader::layer_name(il, "attn_k_norm.weight"), hp.head_dim, l.k_norm));
    return ok_status();
}

void forward_layer(LayerContext& ctx, const LayerWeights& l) {
    attention_block(ctx, l, AttentionOptions{.qk_norm = true});
    gated_ffn_block(ctx, l);
}

}  // namespace

const Architecture kArchQwen3 = {
    .name = "qwen3",
    .rope_mode = RopeMode::kNeox,
    .load_layer = load_layer,
    .forward_layer = forward_layer,
};

}  // namespace citadel
