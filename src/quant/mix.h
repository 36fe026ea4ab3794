// Quantization mixes: which type each tensor of a model gets, following the rules users know
// from llama.cpp's file-type names (q4_k_m, q5_k_s, ...). A mix has a base type; sensitive
// tensors (the output projection, attention V, FFN down on some layers) get more bits, and a
// tensor whose row length does not fit the chosen type's block falls back to a legacy type.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tensor/dtype.h"

namespace citadel::quant {

enum class MixKind {
    kF32,
    kF16,
    kBF16,
    kQ8_0,
    kQ4_0,
    kQ4_1,
    kQ5_0,
    kQ5_1,
    kQ2_K,
    kQ3_K_M,
    kQ4_K_S,
    kQ4_K_M,
    kQ5_K_S,
    kQ5_K_M,
    kQ6_K,
};

struct Mix {
    MixKind kind;
    const char* name;    // lower case, as the user types it: "q4_k_m"
    uint32_t file_type;  // llama.cpp's LLAMA_FTYPE value, stored as general.file_type
    DType base;          // type of the tensors no rule singles out
};

// Case-insensitive lookup; nullopt for names that are not a mix.
std::optional<Mix> find_mix(std::string_view name);
// "q8_0, q4_0, ..." for error messages and help.
std::string mix_names();

// What the rules need to know about one tensor and its model.
struct TensorRole {
    std::string_view name;  // GGUF tensor name, e.g. "blk.3.attn_v.weight"
    int n_dims = 2;
    int64_t row_length = 0;  // dims[0]
    int64_t n_layer = 1;
    int64_t n_gqa = 1;  // n_head / n_head_kv
    bool tied_embeddings = false;
};

// The type this tensor gets in the mix. 1-D tensors (norms, biases) and anything that is not
// a weight matrix stay F32.
DType tensor_type(const Mix& mix, const TensorRole& role);

// Layer of a "blk.N...." name, or -1.
int64_t layer_of(std::string_view name);

}  // namespace citadel::quant
