#include "quant/synth.h"

#include <cmath>
#include <numbers>

#include "tensor/thread_pool.h"

namespace citadel::quant {
namespace {

ModelShape qwen25(std::string preset, std::string name, int64_t n_embd, int64_t n_layer,
                  int64_t n_head, int64_t n_head_kv, int64_t n_ff, int64_t n_vocab, bool tied) {
    return ModelShape{.preset = std::move(preset),
                      .arch = "qwen2",
                      .name = std::move(name),
                      .n_vocab = n_vocab,
                      .n_embd = n_embd,
                      .n_layer = n_layer,
                      .n_head = n_head,
                      .n_head_kv = n_head_kv,
                      .head_dim = n_embd / n_head,
                      .n_ff = n_ff,
                      .n_ctx = 32768,
                      .rope_base = 1e6f,
                      .rms_eps = 1e-6f,
                      .tied_embeddings = tied,
                      .qkv_bias = true,
                      .tokenizer_pre = "qwen2"};
}

ModelShape llama3(std::string preset, std::string name, int64_t n_embd, int64_t n_layer,
                  int64_t n_ff, bool tied, float rope_scaling_factor) {
    return ModelShape{.preset = std::move(preset),
                      .arch = "llama",
                      .name = std::move(name),
                      .n_vocab = 128256,
                      .n_embd = n_embd,
                      .n_layer = n_layer,
                      .n_head = 32,
                      .n_head_kv = 8,
                      .head_dim = n_embd / 32,
                      .n_ff = n_ff,
                      .n_ctx = 131072,
                      .rope_base = 500000.0f,
                      .rms_eps = 1e-5f,
                      .tied_embeddings = tied,
                      .rope_scaling_factor = rope_scaling_factor,
                      .tokenizer_pre = "llama-bpe"};
}

std::vector<ModelShape> make_presets() {
    std::vector<ModelShape> p;
    p.push_back(
        qwen25("qwen2.5-0.5b", "Qwen2.5 0.5B (synthetic)", 896, 24, 14, 2, 4864, 151936, true));
    p.push_back(
        qwen25("qwen2.5-1.5b", "Qwen2.5 1.5B (synthetic)", 1536, 28, 12, 2, 8960, 151936, true));
    p.push_back(
        qwen25("qwen2.5-7b", "Qwen2.5 7B (synthetic)", 3584, 28, 28, 4, 18944, 152064, false));
    p.push_back(ModelShape{.preset = "qwen3-0.6b",
                           .arch = "qwen3",
                           .name = "Qwen3 0.6B (synthetic)",
                           .n_vocab = 151936,
                           .n_embd = 1024,
                           .n_layer = 28,
                           .n_head = 16,
                           .n_head_kv = 8,
                           .head_dim = 128,
                           .n_ff = 3072,
                           .n_ctx = 40960,
                           .rope_base = 1e6f,
                           .rms_eps = 1e-6f,
                           .tied_embeddings = true,
                           .qk_norm = true,
                           .tokenizer_pre = "qwen2"});
    // A few MiB: the demo model of `make run` and the end-to-end tests (Qwen3's shape, small).
    p.push_back(ModelShape{.preset = "tiny-qwen3",
                           .arch = "qwen3",
                           .name = "Tiny Qwen3 (synthetic, random weights)",
                           .n_vocab = 151936,
                           .n_embd = 64,
                           .n_layer = 2,
                           .n_head = 4,
                           .n_head_kv = 2,
                           .head_dim = 32,
                           .n_ff = 192,
                           .n_ctx = 4096,
                           .rope_base = 1e6f,
                           .rms_eps = 1e-6f,
                           .tied_embeddings = true,
                           .qk_norm = true,
                           .tokenizer_pre = "qwen2"});
    p.push_back(llama3("llama-3.2-1b", "Llama 3.2 1B (synthetic)", 2048, 16, 8192, true, 32.0f));
    p.push_back(llama3("llama-3.1-8b", "Llama 3.1 8B (synthetic)", 4096, 32, 14336, false, 8.0f));
    return p;
}

void add_layer_tensors(const ModelShape& s, int64_t il, std::vector<SynthTensor>& out) {
    const std::string b = "blk." + std::to_string(il) + ".";
    const int64_t q_dim = s.n_head * s.head_dim;
    const int64_t kv_dim = s.n_head_kv * s.head_dim;
    out.push_back({b + "attn_norm.weight", {s.n_embd}, Init::kOnes});
    out.push_back({b + "attn_q.weight", {s.n_embd, q_dim}});
    if (s.qkv_bias) out.push_back({b + "attn_q.bias", {q_dim}});
    out.push_back({b + "attn_k.weight", {s.n_embd, kv_dim}});
    if (s.qkv_bias) out.push_back({b + "attn_k.bias", {kv_dim}});
    out.push_back({b + "attn_v.weight", {s.n_embd, kv_dim}});
    if (s.qkv_bias) out.push_back({b + "attn_v.bias", {kv_dim}});
    out.push_back({b + "attn_output.weight", {q_dim, s.n_embd}});
    if (s.qk_norm) {
        out.push_back({b + "attn_q_norm.weight", {s.head_dim}, Init::kOnes});
        out.push_back({b + "attn_k_norm.weight", {s.head_dim}, Init::kOnes});
    }
    out.push_back({b + "ffn_norm.weight", {s.n_embd}, Init::kOnes});
    out.push_back({b + "ffn_gate.weight", {s.n_embd, s.n_ff}});
    out.push_back({b + "ffn_up.weight", {s.n_embd, s.n_ff}});
    out.push_back({b + "ffn_down.weight", {s.n_ff, s.n_embd}});
}

void add_model_metadata(gguf::Writer& w, const ModelShape& s, const Mix& mix) {
    using gguf::Value;
    const std::string& a = s.arch;
    w.set("general.architecture", Value::string(a));
    w.set("general.name", Value::string(s.name));
    w.set("general.file_type", Value::u32(mix.file_type));
    w.set("general.quantization_version", Value::u32(2));
    w.set(a + ".context_length", Value::u32(uint32_t(s.n_ctx)));
    w.set(a + ".embedding_length", Value::u32(uint32_t(s.n_embd)));
    w.set(a + ".block_count", Value::u32(uint32_t(s.n_layer)));
    w.set(a + ".feed_forward_length", Value::u32(uint32_t(s.n_ff)));
    w.set(a + ".attention.head_count", Value::u32(uint32_t(s.n_head)));
    w.set(a + ".attention.head_count_kv", Value::u32(uint32_t(s.n_head_kv)));
    w.set(a + ".rope.freq_base", Value::f32(s.rope_base));
    w.set(a + ".attention.layer_norm_rms_epsilon", Value::f32(s.rms_eps));
    if (s.head_dim * s.n_head != s.n_embd || s.qk_norm) {
        w.set(a + ".attention.key_length", Value::u32(uint32_t(s.head_dim)));
        w.set(a + ".attention.value_length", Value::u32(uint32_t(s.head_dim)));
    }
    w.set(a + ".rope.dimension_count", Value::u32(uint32_t(s.head_dim)));
    w.set(a + ".vocab_size", Value::u32(uint32_t(s.n_vocab)));
}

uint64_t splitmix64(uint64_t& state) {
    uint64_t z = (state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// One row of N(0, std²)-like values, a pure function of (seed, tensor, row): the sum of four
// 16-bit uniforms (Irwin-Hall), centred and scaled to unit variance.
void normal_row(uint64_t seed, uint64_t tensor, int64_t row, float std_dev, float* out, int64_t n) {
    uint64_t state = seed ^ (tensor << 40) ^ (uint64_t(row) * 0xD1B54A32D192ED03ull);
    splitmix64(state);
    const float scale = std_dev * std::sqrt(3.0f) / 65536.0f;
    for (int64_t i = 0; i < n; ++i) {
        const uint64_t r = splitmix64(state);
        const uint32_t sum = uint32_t(r & 0xFFFF) + uint32_t((r >> 16) & 0xFFFF) +
                             uint32_t((r >> 32) & 0xFFFF) + uint32_t(r >> 48);
        out[i] = (float(sum) - 2.0f * 65536.0f) * scale;
    }
}

// The writer's source for one tensor: values made row by row, converted to `type`.
gguf::Writer::FillFn synth_fill(const SynthTensor& t, uint64_t index, DType type,
                                const ModelShape& shape, const SynthOptions& o, ThreadPool& pool) {
    return [&t, index, type, &shape, &o, &pool](uint8_t* dst, size_t) {
        const int64_t n_cols = t.dims[0];
        const int64_t n_rows = t.n_elements() / n_cols;
        std::vector<float> factors;
        if (t.init == Init::kRopeFactors) factors = llama3_rope_factors(shape);
        const RowSource source = [&](int64_t row, float* out) {
            if (t.init == Init::kNormal) {
                normal_row(o.seed, index, row, o.weight_std, out, n_cols);
            } else if (t.init == Init::kOnes) {
                std::fill(out, out + n_cols, 1.0f);
            } else {
                std::copy(factors.begin(), factors.end(), out);
            }
        };
        quantize_rows(pool, source, type, n_rows, n_cols, dst);
    };
}

Status check_shape(const ModelShape& s) {
    const bool ok = s.n_vocab > 0 && s.n_embd > 0 && s.n_layer > 0 && s.n_head > 0 &&
                    s.n_head_kv > 0 && s.n_head % s.n_head_kv == 0 && s.head_dim > 0 &&
                    s.head_dim % 2 == 0 && s.n_ff > 0 && s.n_ctx > 0;
    if (!ok) return Status::error("model shape '" + s.preset + "' is inconsistent");
    return ok_status();
}

}  // namespace

const std::vector<ModelShape>& presets() {
    static const std::vector<ModelShape> p = make_presets();
    return p;
}

const ModelShape* find_preset(const std::string& name) {
    for (const ModelShape& s : presets()) {
        if (s.preset == name) return &s;
    }
    return nullptr;
}

std::string preset_names() {
    std::string s;
    for (const ModelShape& p : presets()) s += (s.empty() ? "" : ", ") + p.preset;
    return s;
}

int64_t SynthTensor::n_elements() const {
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
}

std::vector<SynthTensor> synth_tensors(const ModelShape& s) {
    std::vector<SynthTensor> out;
    out.push_back({"token_embd.weight", {s.n_embd, s.n_vocab}});
    out.push_back({"output_norm.weight", {s.n_embd}, Init::kOnes});
    if (!s.tied_embeddings) out.push_back({"output.weight", {s.n_embd, s.n_vocab}});
    if (s.rope_scaling_factor > 0) {
        out.push_back({"rope_freqs.weight", {s.head_dim / 2}, Init::kRopeFactors});
    }
    for (int64_t il = 0; il < s.n_layer; ++il) add_layer_tensors(s, il, out);
    return out;
}

std::vector<float> llama3_rope_factors(const ModelShape& s) {
    // Wavelengths shorter than original_ctx / high_freq_factor keep their frequency, longer
    // than original_ctx / low_freq_factor are slowed down by the full factor, and the band
    // between is interpolated smoothly.
    const double factor = s.rope_scaling_factor;
    const double low = s.rope_low_freq_factor, high = s.rope_high_freq_factor;
    const double old_ctx = double(s.rope_original_ctx);
    std::vector<float> out;
    for (int64_t i = 0; i < s.head_dim / 2; ++i) {
        const double freq = std::pow(double(s.rope_base), -2.0 * double(i) / double(s.head_dim));
        const double wavelen = 2.0 * std::numbers::pi / freq;
        double f = 1.0;
        if (wavelen > old_ctx / low) {
            f = factor;
        } else if (wavelen >= old_ctx / high) {
            const double smooth = (old_ctx / wavelen - low) / (high - low);
            f = 1.0 / ((1.0 - smooth) / factor + smooth);
        }
        out.push_back(float(f));
    }
    return out;
}

Result<SynthReport> synth_model(const ModelShape& shape, const SynthOptions& o) {
    CITADEL_TRY(check_shape(shape));
    TokenizerData tok =
        o.tokenizer ? *o.tokenizer : synthetic_tokenizer(shape.n_vocab, shape.tokenizer_pre);
    CITADEL_TRY(pad_vocab(tok, shape.n_vocab));

    gguf::Writer w;
    add_model_metadata(w, shape, o.mix);
    add_tokenizer_metadata(w, tok);

    const std::vector<SynthTensor> tensors = synth_tensors(shape);
    ThreadPool pool(o.n_threads);
    SynthReport report;
    for (size_t i = 0; i < tensors.size(); ++i) {
        const SynthTensor& t = tensors[i];
        const DType type = tensor_type(o.mix, TensorRole{.name = t.name,
                                                         .n_dims = int(t.dims.size()),
                                                         .row_length = t.dims[0],
                                                         .n_layer = shape.n_layer,
                                                         .n_gqa = shape.n_head / shape.n_head_kv,
                                                         .tied_embeddings = shape.tied_embeddings});
        const uint64_t bytes = row_bytes(type, t.dims[0]) * uint64_t(t.n_elements() / t.dims[0]);
        tally(report.types, type, t.n_elements(), bytes);
        report.bytes += bytes;
        report.parameters += t.n_elements();
        w.add_tensor(t.name, t.dims, type, synth_fill(t, uint64_t(i), type, shape, o, pool));
    }
    if (Status s = w.write(o.output); !s) return s;
    return report;
}

}  // namespace citadel::quant
