// Synthetic models: random weights in the exact shape of a published model, written as GGUF
// that both Citadel and llama.cpp load. For benchmarks and tests without downloading weights.
// Weights are produced row by row while the file is written (and quantized on the fly), so
// even a 7B model needs memory for one tensor only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "quant/mix.h"
#include "quant/quantize.h"
#include "quant/tokenizer.h"

namespace citadel::quant {

// The architecture and hyper-parameters of a model (as in its config.json).
struct ModelShape {
    std::string preset;  // "qwen2.5-0.5b"
    std::string arch;    // GGUF architecture: "llama", "qwen2", "qwen3"
    std::string name;    // general.name
    int64_t n_vocab = 0;
    int64_t n_embd = 0;
    int64_t n_layer = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;
    int64_t head_dim = 0;  // per-head size of Q, K and V
    int64_t n_ff = 0;
    int64_t n_ctx = 0;  // trained context length
    float rope_base = 10000.0f;
    float rms_eps = 1e-5f;
    bool tied_embeddings = false;
    bool qkv_bias = false;  // qwen2
    bool qk_norm = false;   // qwen3
    // Llama 3 frequency-dependent RoPE scaling, stored as rope_freqs.weight; 0: none.
    float rope_scaling_factor = 0.0f;
    float rope_low_freq_factor = 1.0f;
    float rope_high_freq_factor = 4.0f;
    int64_t rope_original_ctx = 8192;
    std::string tokenizer_pre;  // tokenizer.ggml.pre of the real model
};

const std::vector<ModelShape>& presets();
const ModelShape* find_preset(const std::string& name);
std::string preset_names();

// How a tensor's values are made.
enum class Init { kNormal, kOnes, kRopeFactors };

struct SynthTensor {
    std::string name;
    std::vector<int64_t> dims;  // dims[0] is the row length
    Init init = Init::kNormal;
    int64_t n_elements() const;
};

// Every tensor of the model, in the order they are written.
std::vector<SynthTensor> synth_tensors(const ModelShape& shape);

// RoPE frequency factors of Llama 3 scaling: [head_dim / 2].
std::vector<float> llama3_rope_factors(const ModelShape& shape);

struct SynthOptions {
    std::string output;
    Mix mix;
    uint64_t seed = 0;
    int n_threads = 0;
    float weight_std = 0.02f;  // standard deviation of the weight matrices and biases
    const TokenizerData* tokenizer = nullptr;  // null: a synthetic vocabulary
};

struct SynthReport {
    TypeTallies types;
    uint64_t bytes = 0;  // tensor data
    int64_t parameters = 0;
};

// Writes the model. The tokenizer (padded to n_vocab) must not exceed the vocabulary.
Result<SynthReport> synth_model(const ModelShape& shape, const SynthOptions& options);

}  // namespace citadel::quant
