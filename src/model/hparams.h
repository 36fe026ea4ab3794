// Hyper-parameters of a decoder-only transformer, read from GGUF metadata.
#pragma once

#include <cstdint>
#include <string>

#include "core/status.h"
#include "gguf/gguf.h"

namespace citadel {

enum class RopeMode {
    kNormal,  // rotates adjacent pairs (x[2i], x[2i+1]) — llama
    kNeox,    // rotates halves (x[i], x[i + n_rot/2]) — qwen2, qwen3
};

struct HParams {
    std::string arch;  // general.architecture
    std::string name;  // general.name, if any
    int64_t n_vocab = 0;
    int64_t n_embd = 0;  // model width
    int64_t n_layer = 0;
    int64_t n_head = 0;       // query heads
    int64_t n_head_kv = 0;    // key/value heads (GQA when < n_head)
    int64_t head_dim = 0;     // per-head size of Q and K (attention.key_length)
    int64_t head_dim_v = 0;   // per-head size of V (attention.value_length)
    int64_t n_ff = 0;         // feed-forward width
    int64_t n_ctx_train = 0;  // context length the model was trained for
    int64_t n_rot = 0;        // dimensions RoPE rotates (rope.dimension_count)
    float rms_eps = 1e-5f;
    float rope_base = 10000.0f;
    float rope_freq_scale = 1.0f;  // 1 / linear scaling factor
    RopeMode rope_mode = RopeMode::kNormal;

    int64_t q_dim() const { return n_head * head_dim; }
    int64_t kv_dim() const { return n_head_kv * head_dim; }
    int64_t v_dim() const { return n_head_kv * head_dim_v; }
};

// Reads the `<arch>.*` keys. Errors name the file and the missing or invalid key.
Result<HParams> read_hparams(const gguf::File& file, RopeMode rope_mode);

}  // namespace citadel
