#include "model/blocks.h"

#include <algorithm>
#include <cmath>

namespace citadel {
namespace {

// Rotates n_heads heads of size head_dim in place by the token's cos/sin table.
void apply_rope(float* heads, int64_t n_heads, int64_t head_dim, int64_t n_rot, RopeMode mode,
                const float* cos_t, const float* sin_t) {
    const int64_t half = n_rot / 2;
    for (int64_t h = 0; h < n_heads; ++h) {
        float* x = heads + h * head_dim;
        for (int64_t i = 0; i < half; ++i) {
            const int64_t a = mode == RopeMode::kNormal ? 2 * i : i;
            const int64_t b = mode == RopeMode::kNormal ? 2 * i + 1 : i + half;
            const float x0 = x[a], x1 = x[b];
            // The fused forms llama.cpp's build produces (FP contraction), to the bit.
            x[a] = std::fma(x0, cos_t[i], -(x1 * sin_t[i]));
            x[b] = std::fma(x0, sin_t[i], x1 * cos_t[i]);
        }
    }
}

void add_bias(float* rows, int64_t n_rows, const std::vector<float>& bias) {
    const int64_t n = int64_t(bias.size());
    for (int64_t t = 0; t < n_rows; ++t) {
        for (int64_t i = 0; i < n; ++i) rows[t * n + i] += bias[size_t(i)];
    }
}

// Writes this batch's K and V rows into the cache.
void store_kv(LayerContext& ctx) {
    const HParams& hp = ctx.model.hp;
    ForwardState& st = ctx.st;
    const int64_t bs = st.kv.block_size();
    for (int64_t t = 0; t < ctx.n_tokens; ++t) {
        const int64_t pos = ctx.batch.positions[size_t(t)];
        const int32_t block = ctx.table(t)[size_t(pos / bs)];
        st.kv.store(ctx.layer, block, pos % bs, &st.k[size_t(t * hp.kv_dim())],
                    &st.v[size_t(t * hp.v_dim())], st.kernels);
    }
}

void project_qkv(LayerContext& ctx, const LayerWeights& l, const AttentionOptions& opt) {
    const HParams& hp = ctx.model.hp;
    ForwardState& st = ctx.st;
    const int64_t T = ctx.n_tokens;
    rms_norm_rows(st.x.data(), T, hp.n_embd, l.attn_norm.data(), hp.rms_eps, st.xn.data());
    const MatmulOut qkv[] = {{&l.wq, st.q.data()}, {&l.wk, st.k.data()}, {&l.wv, st.v.data()}};
    matmul_group(qkv, st.xn.data(), T, st.pool, st.matmul_scratch, st.kernels);
    if (opt.qkv_bias) {
        add_bias(st.q.data(), T, l.bq);
        add_bias(st.k.data(), T, l.bk);
        add_bias(st.v.data(), T, l.bv);
    }
    if (opt.qk_norm) {
        rms_norm_rows(st.q.data(), T * hp.n_head, hp.head_dim, l.q_norm.data(), hp.rms_eps,
                      st.q.data());
        rms_norm_rows(st.k.data(), T * hp.n_head_kv, hp.head_dim, l.k_norm.data(), hp.rms_eps,
                      st.k.data());
    }
    const int64_t half = hp.n_rot / 2;
    for (int64_t t = 0; t < T; ++t) {
        const float* c = &st.rope_cos[size_t(t * half)];
        const float* s = &st.rope_sin[size_t(t * half)];
        apply_rope(&st.q[size_t(t * hp.q_dim())], hp.n_head, hp.head_dim, hp.n_rot, hp.rope_mode, c,
                   s);
        apply_rope(&st.k[size_t(t * hp.kv_dim())], hp.n_head_kv, hp.head_dim, hp.n_rot,
                   hp.rope_mode, c, s);
    }
}

// gate = silu(gate) * up for rows [r0, r0 + n) of tokens [t0, t0 + n_tok): the prompt
// arithmetic uses the vector kernel (its own exp); the decode arithmetic keeps libm's expf,
// which reproduces llama.cpp's decode results more often. Tiles start at multiples of 16
// rows, so the vector kernel's tail falls where it does over the whole row.
void swiglu_tile(LayerContext& ctx, int64_t r0, int64_t n, int64_t t0, int64_t n_tok) {
    ForwardState& st = ctx.st;
    const int64_t n_ff = ctx.model.hp.n_ff;
    for (int64_t t = t0; t < t0 + n_tok; ++t) {
        float* g = &st.gate[size_t(t * n_ff + r0)];
        const float* u = &st.up[size_t(t * n_ff + r0)];
        if (st.prompt_arithmetic[size_t(t)]) {
            st.kernels.vec.swiglu(n, g, u);
            continue;
        }
        for (int64_t i = 0; i < n; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
    }
}

void add_rows(float* x, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace

void rms_norm_rows(const float* x, int64_t n_rows, int64_t n, const float* w, float eps,
                   float* out) {
    // Same rounding steps as llama.cpp (float squares summed in double, float mean and
    // scale), so the activations that are then quantized match it bit for bit.
    for (int64_t r = 0; r < n_rows; ++r) {
        const float* xr = x + r * n;
        double sum = 0.0;
        for (int64_t i = 0; i < n; ++i) sum += double(xr[i] * xr[i]);
        const float mean = float(sum / double(n));
        const float scale = 1.0f / std::sqrt(mean + eps);
        float* o = out + r * n;
        for (int64_t i = 0; i < n; ++i) o[i] = (xr[i] * scale) * w[i];
    }
}

void prepare_rope(const Model& model, const Batch& batch, ForwardState& st) {
    const HParams& hp = model.hp;
    const int64_t half = hp.n_rot / 2;
    st.rope_cos.resize(batch.size() * size_t(half));
    st.rope_sin.resize(batch.size() * size_t(half));
    // theta_i = pos * base^(-2i/n_rot), built by repeated float multiplication as llama.cpp
    // does, so Q and K round the same way before they meet in the F16 attention.
    const float theta_scale = std::pow(hp.rope_base, -2.0f / float(hp.n_rot));
    for (size_t t = 0; t < batch.size(); ++t) {
        float theta = float(batch.positions[t]);
        for (int64_t i = 0; i < half; ++i) {
            const float ff =
                model.rope_freq_factors.empty() ? 1.0f : model.rope_freq_factors[size_t(i)];
            const float angle = hp.rope_freq_scale * (theta / ff);
            st.rope_cos[t * size_t(half) + size_t(i)] = std::cos(angle);
            st.rope_sin[t * size_t(half) + size_t(i)] = std::sin(angle);
            theta *= theta_scale;
        }
    }
}

void attention_block(LayerContext& ctx, const LayerWeights& l, const AttentionOptions& opt) {
    const HParams& hp = ctx.model.hp;
    ForwardState& st = ctx.st;
    const int64_t T = ctx.n_tokens;
    project_qkv(ctx, l, opt);
    store_kv(ctx);
    attend(ctx);
    matmul(l.wo, st.attn.data(), T, st.xn.data(), st.pool, st.matmul_scratch, st.kernels);
    add_rows(st.x.data(), st.xn.data(), T * hp.n_embd);
}

void gated_ffn_block(LayerContext& ctx, const LayerWeights& l) {
    const HParams& hp = ctx.model.hp;
    ForwardState& st = ctx.st;
    const int64_t T = ctx.n_tokens;
    rms_norm_rows(st.x.data(), T, hp.n_embd, l.ffn_norm.data(), hp.rms_eps, st.xn.data());
    matmul_pair(
        {&l.w_gate, st.gate.data()}, {&l.w_up, st.up.data()}, st.xn.data(), T,
        [&](int64_t r0, int64_t n, int64_t t0, int64_t n_tok) {
            swiglu_tile(ctx, r0, n, t0, n_tok);
        },
        st.pool, st.matmul_scratch, st.kernels);
    matmul(l.w_down, st.gate.data(), T, st.xn.data(), st.pool, st.matmul_scratch, st.kernels);
    add_rows(st.x.data(), st.xn.data(), T * hp.n_embd);
}

}  // namespace citadel
