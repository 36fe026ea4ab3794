#include "quant/mix.h"

#include <array>
#include <cctype>

namespace citadel::quant {
namespace {

constexpr std::array<Mix, 15> kMixes = {{
    {MixKind::kQ8_0, "q8_0", 7, DType::Q8_0},
    {MixKind::kQ4_0, "q4_0", 2, DType::Q4_0},
    {MixKind::kQ4_1, "q4_1", 3, DType::Q4_1},
    {MixKind::kQ5_0, "q5_0", 8, DType::Q5_0},
    {MixKind::kQ5_1, "q5_1", 9, DType::Q5_1},
    {MixKind::kQ4_K_M, "q4_k_m", 15, DType::Q4_K},
    {MixKind::kQ4_K_S, "q4_k_s", 14, DType::Q4_K},
    {MixKind::kQ5_K_M, "q5_k_m", 17, DType::Q5_K},
    {MixKind::kQ5_K_S, "q5_k_s", 16, DType::Q5_K},
    {MixKind::kQ6_K, "q6_k", 18, DType::Q6_K},
    {MixKind::kQ3_K_M, "q3_k_m", 12, DType::Q3_K},
    {MixKind::kQ2_K, "q2_k", 10, DType::Q2_K},
    {MixKind::kF16, "f16", 1, DType::F16},
    {MixKind::kBF16, "bf16", 32, DType::BF16},
    {MixKind::kF32, "f32", 0, DType::F32},
}};

enum class Category { kOutput, kTokenEmbd, kAttnV, kAttnOutput, kFfnDown, kOther };

bool contains(std::string_view s, std::string_view part) {
    return s.find(part) != std::string_view::npos;
}

Category category_of(std::string_view name) {
    if (name == "output.weight") return Category::kOutput;
    if (name == "token_embd.weight") return Category::kTokenEmbd;
    // A fused QKV projection is as sensitive as V alone.
    if (contains(name, "attn_v.weight") || contains(name, "attn_qkv.weight")) {
        return Category::kAttnV;
    }
    if (contains(name, "attn_output.weight")) return Category::kAttnOutput;
    if (contains(name, "ffn_down")) return Category::kFfnDown;
    return Category::kOther;
}

bool is_quantized(DType t) {
    return dtype_info(t).block_elems > 1;
}

// Weight matrices are quantized; norms, biases and other vectors are not.
bool allows_quantization(const TensorRole& r) {
    if (r.n_dims < 2) return false;
    if (r.name.size() < 6 || r.name.substr(r.name.size() - 6) != "weight") return false;
    return !contains(r.name, "_norm.weight");
}

// The first and last eighth of the layers, and every third layer in between.
bool use_more_bits(int64_t layer, int64_t n_layer) {
    return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

DType output_type(const Mix& mix, const TensorRole& r) {
    if (r.row_length % dtype_info(mix.base).block_elems != 0) return DType::Q8_0;
    return mix.base == DType::Q8_0 ? DType::Q8_0 : DType::Q6_K;
}

DType attn_v_type(const Mix& mix, const TensorRole& r, int64_t layer) {
    switch (mix.kind) {
        case MixKind::kQ2_K:
            return r.n_gqa >= 4 ? DType::Q4_K : DType::Q3_K;
        case MixKind::kQ3_K_M:
            return layer < 2 ? DType::Q5_K : DType::Q4_K;
        case MixKind::kQ4_K_M:
        case MixKind::kQ5_K_M:
            return use_more_bits(layer, r.n_layer) ? DType::Q6_K : mix.base;
        case MixKind::kQ4_K_S:
            return layer < 4 ? DType::Q5_K : mix.base;
        default:
            return mix.base;
    }
}

DType ffn_down_type(const Mix& mix, const TensorRole& r, int64_t layer) {
    switch (mix.kind) {
        case MixKind::kQ2_K:
            return DType::Q3_K;
        case MixKind::kQ3_K_M:
            return layer < r.n_layer / 16 ? DType::Q5_K : DType::Q4_K;
        case MixKind::kQ4_K_M:
        case MixKind::kQ5_K_M:
            return use_more_bits(layer, r.n_layer) ? DType::Q6_K : mix.base;
        case MixKind::kQ4_K_S:
            return layer < r.n_layer / 8 ? DType::Q5_K : mix.base;
        default:
            return mix.base;
    }
}

DType attn_output_type(const Mix& mix) {
    if (mix.kind == MixKind::kQ2_K) return DType::Q3_K;
    if (mix.kind == MixKind::kQ3_K_M) return DType::Q4_K;
    return mix.base;
}

// A row length the type's blocks do not divide: the legacy type of about as many bits
// (block 32), or F16 when even that does not fit.
DType fallback(DType t, int64_t row_length) {
    if (row_length % dtype_info(t).block_elems == 0) return t;
    DType f = DType::F16;
    switch (t) {
        case DType::Q2_K:
        case DType::Q3_K:
            f = DType::Q4_0;
            break;
        case DType::Q4_K:
            f = DType::Q5_0;
            break;
        case DType::Q5_K:
            f = DType::Q5_1;
            break;
        case DType::Q6_K:
            f = DType::Q8_0;
            break;
        default:
            break;
    }
    return row_length % dtype_info(f).block_elems == 0 ? f : DType::F16;
}

}  // namespace

std::optional<Mix> find_mix(std::string_view name) {
    std::string lower(name);
    for (char& c : lower) c = char(std::tolower(static_cast<unsigned char>(c)));
    for (const Mix& m : kMixes) {
        if (lower == m.name) return m;
    }
    return std::nullopt;
}

std::string mix_names() {
    std::string s;
    for (const Mix& m : kMixes) s += (s.empty() ? "" : ", ") + std::string(m.name);
    return s;
}

int64_t layer_of(std::string_view name) {
    if (name.substr(0, 4) != "blk.") return -1;
    int64_t layer = 0;
    size_t i = 4;
    for (; i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])); ++i) {
        layer = layer * 10 + (name[i] - '0');
    }
    return i > 4 && i < name.size() && name[i] == '.' ? layer : -1;
}

DType tensor_type(const Mix& mix, const TensorRole& r) {
    if (!allows_quantization(r)) return DType::F32;
    if (!is_quantized(mix.base)) return mix.base;
    const Category cat = category_of(r.name);
    const int64_t layer = layer_of(r.name);
    DType t = mix.base;
    if (cat == Category::kOutput || (cat == Category::kTokenEmbd && r.tied_embeddings)) {
        t = output_type(mix, r);
    } else if (cat == Category::kAttnV) {
        t = attn_v_type(mix, r, layer);
    } else if (cat == Category::kFfnDown) {
        t = ffn_down_type(mix, r, layer);
    } else if (cat == Category::kAttnOutput) {
        t = attn_output_type(mix);
    }
    return fallback(t, r.row_length);
}

}  // namespace citadel::quant
