#include "model/hparams.h"

#include <cmath>

namespace citadel {
namespace {

Status missing(const gguf::File& f, const std::string& key) {
    return Status::error(f.path() + ": missing or invalid metadata key '" + key + "'");
}

// Reads a positive integer key; `fallback` < 0 means the key is required.
Status read_count(const gguf::File& f, const std::string& key, int64_t fallback, int64_t max,
                  int64_t* out) {
    const std::optional<int64_t> v = f.get_int(key);
    if (!v) {
        if (fallback < 0) return missing(f, key);
        *out = fallback;
        return ok_status();
    }
    if (*v <= 0 || *v > max) {
        return Status::error(f.path() + ": metadata '" + key + "' = " + std::to_string(*v) +
                             " is out of range (1.." + std::to_string(max) + ")");
    }
    *out = *v;
    return ok_status();
}

Status read_rope_scaling(const gguf::File& f, const std::string& a, HParams& hp) {
    const std::optional<std::string> type = f.get_string(a + ".rope.scaling.type");
    if (!type || *type == "none") return ok_status();
    if (*type != "linear") {
        return Status::error(f.path() + ": rope scaling '" + *type +
                             "' is not supported (supported: none, linear)");
    }
    const double factor = f.get_float(a + ".rope.scaling.factor").value_or(1.0);
    if (!(factor >= 1.0 && factor <= 1024.0)) {
        return Status::error(f.path() + ": rope scaling factor " + std::to_string(factor) +
                             " is out of range");
    }
    hp.rope_freq_scale = float(1.0 / factor);
    return ok_status();
}

}  // namespace

Result<HParams> read_hparams(const gguf::File& f, RopeMode rope_mode) {
    HParams hp;
    hp.arch = f.get_string("general.architecture").value_or("");
    hp.name = f.get_string("general.name").value_or("");
    hp.rope_mode = rope_mode;
    const std::string& a = hp.arch;
    constexpr int64_t kMaxDim = 1 << 20;
    CITADEL_TRY(read_count(f, a + ".embedding_length", -1, kMaxDim, &hp.n_embd));
    CITADEL_TRY(read_count(f, a + ".block_count", -1, 4096, &hp.n_layer));
    CITADEL_TRY(read_count(f, a + ".feed_forward_length", -1, kMaxDim, &hp.n_ff));
    CITADEL_TRY(read_count(f, a + ".attention.head_count", -1, 4096, &hp.n_head));
    CITADEL_TRY(read_count(f, a + ".attention.head_count_kv", hp.n_head, 4096, &hp.n_head_kv));
    CITADEL_TRY(read_count(f, a + ".context_length", 2048, int64_t(1) << 24, &hp.n_ctx_train));
    if (hp.n_embd % hp.n_head != 0 && !f.get_int(a + ".attention.key_length")) {
        return Status::error(f.path() +
                             ": embedding_length is not a multiple of head_count and "
                             "attention.key_length is not given");
    }
    CITADEL_TRY(
        read_count(f, a + ".attention.key_length", hp.n_embd / hp.n_head, 65536, &hp.head_dim));
    CITADEL_TRY(read_count(f, a + ".attention.value_length", hp.head_dim, 65536, &hp.head_dim_v));
    CITADEL_TRY(read_count(f, a + ".rope.dimension_count", hp.head_dim, hp.head_dim, &hp.n_rot));
    if (hp.n_head % hp.n_head_kv != 0) {
        return Status::error(f.path() + ": head_count " + std::to_string(hp.n_head) +
                             " is not a multiple of head_count_kv " + std::to_string(hp.n_head_kv));
    }
    if (hp.n_rot % 2 != 0) return Status::error(f.path() + ": rope.dimension_count is odd");
    hp.rms_eps = float(f.get_float(a + ".attention.layer_norm_rms_epsilon").value_or(1e-5));
    hp.rope_base = float(f.get_float(a + ".rope.freq_base").value_or(10000.0));
    if (!(hp.rms_eps > 0 && hp.rms_eps < 1) || !(hp.rope_base > 1 && std::isfinite(hp.rope_base))) {
        return Status::error(f.path() + ": rms epsilon or rope base out of range");
    }
    CITADEL_TRY(read_rope_scaling(f, a, hp));
    return hp;
}

}  // namespace citadel
