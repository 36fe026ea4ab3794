// qwen2: Qwen2 / Qwen2.5. As llama, plus biases on the Q, K and V projections, rotate-half
// (NeoX) RoPE, and usually tied input/output embeddings.
#include "model/architecture.h"
#include "model/blocks.h"
#include "model/loader.h"
#include "model/model.h"

namespace citadel {
namespace {

// The biases' sizes follow from the projections already loaded into `l`.
Status load_layer(const TensorLoader& ld, const HParams&, int il, LayerWeights& l) {
    CITADEL_TRY(ld.vector(TensorLoader::layer_name(il, "attn_q.bias"), l.wq.n_rows, l.bq));
    CITADEL_TRY(ld.vector(TensorLoader::layer_name(il, "attn_k.bias"), l.wk.n_rows, l.bk));
    CITADEL_TRY(ld.vector(TensorLoader::layer_name(il, "attn_v.bias"), l.wv.n_rows, l.bv));
    return ok_status();
}

void forward_layer(LayerContext& ctx, const LayerWeights& l) {
    attention_block(ctx, l, AttentionOptions{.qkv_bias = true});
    gated_ffn_block(ctx, l);
}

}  // namespace

const Architecture kArchQwen2 = {
    .name = "qwen2",
    .rope_mode = RopeMode::kNeox,
    .load_layer = load_layer,
    .forward_layer = forward_layer,
};

}  // namespace citadel
