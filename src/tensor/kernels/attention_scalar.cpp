// Scalar reference of the prompt-sized attention tile: per query, scores against every
// visible key, a softmax, and the weighted sum of values, all in F32 (two passes over the
// keys, so no buffer grows with the context).
#include <algorithm>
#include <cmath>

#include "core/fp16.h"
#include "tensor/kernels.h"

namespace citadel {

namespace {

void one_head(const AttentionTile& a) {
    for (int64_t i = 0; i < a.n_q; ++i) {
        const float* q = a.q + i * a.q_stride;
        const int64_t pos = a.q_pos0 + i;
        float max_score = -INFINITY;
        for (int64_t j = 0; j <= pos; ++j) {
            const uint16_t* k = a.key(j);
            float s = 0.0f;
            for (int64_t d = 0; d < a.head_dim; ++d) s += q[d] * fp16_to_fp32(k[d]);
            max_score = std::max(max_score, s * a.scale);
        }
        float sum = 0.0f;
        float* out = a.out + i * a.out_stride;
        std::fill(out, out + a.head_dim_v, 0.0f);
        for (int64_t j = 0; j <= pos; ++j) {
            const uint16_t* k = a.key(j);
            float s = 0.0f;
            for (int64_t d = 0; d < a.head_dim; ++d) s += q[d] * fp16_to_fp32(k[d]);
            const float p = std::exp(s * a.scale - max_score);
            sum += p;
            const uint16_t* v = a.value(j);
            for (int64_t d = 0; d < a.head_dim_v; ++d) out[d] += p * fp16_to_fp32(v[d]);
        }
        for (int64_t d = 0; d < a.head_dim_v; ++d) out[d] /= sum;
    }
}

}  // namespace

void attention_tile_scalar(const AttentionTile& a) {
    for (int64_t g = 0; g < a.n_heads; ++g) {
        AttentionTile head = a;
        head.q = a.q + g * a.head_dim;
        head.out = a.out + g * a.head_dim_v;
        head.n_heads = 1;
        one_head(head);
    }
}

void register_attention_scalar(KernelTable& t) {
    t.attention_tile = attention_tile_scalar;
}

}  // namespace citadel
