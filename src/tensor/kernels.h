// Kernel table: for every computable weight type, how to dequantize it, how to quantize
// activations for it, and a GEMM tile kernel. One table per instruction set, filled once at
// start-up from CPUID (or CITADEL_ISA); variants live in kernels/<family>_<isa>.cpp with
// identical signatures, so every SIMD variant can be tested against the scalar reference.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace citadel {

enum class Isa { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };
constexpr int kIsaCount = 3;
const char* isa_name(Isa isa);

// dst[0..n) = values of the n elements in src (n a multiple of the block size).
using DequantizeRowFn = void (*)(const void* src, float* dst, int64_t n);
// dst = the n floats of src in this type (n a multiple of the block size).
using QuantizeRowFn = void (*)(const float* src, void* dst, int64_t n);

// Tile of a matrix product. W holds n_rows rows of n elements in the weight type, w_row_bytes
// apart; X holds n_tokens rows of n elements in the weight type's activation type (act_type),
// x_row_bytes apart. Writes out[t * out_stride + r] = dot(W row r, X row t).
using GemmFn = void (*)(int64_t n, const void* w, size_t w_row_bytes, int n_rows, const void* x,
                        size_t x_row_bytes, int n_tokens, float* out, size_t out_stride);

struct TypeKernels {
    DequantizeRowFn dequantize_row = nullptr;
    QuantizeRowFn quantize_row = nullptr;  // this type's reference quantizer (for weights)
    DType act_type = DType::F32;           // what X must be converted to before gemm
    GemmFn gemm = nullptr;
    // How activations are converted to this type at run time, when that differs from
    // quantize_row: llama.cpp's x86 runtime scales by 127/amax and rounds half to even, and
    // matching it makes our logits agree with its to ~1e-14 instead of ~1e-4.
    QuantizeRowFn quantize_act_row = nullptr;
};

// Small vector operations of the attention and of the KV cache (F16 keys and values).
struct VecOps {
    float (*dot_f16_f32)(int64_t n, const uint16_t* a, const float* b) = nullptr;
    float (*dot_f16_f16)(int64_t n, const uint16_t* a, const uint16_t* b) = nullptr;
    void (*axpy_f16_f32)(int64_t n, float alpha, const uint16_t* x,
                         float* y) = nullptr;  // y += a*x
    void (*f32_to_f16)(const float* src, uint16_t* dst, int64_t n) = nullptr;
    // F16 accumulators of the attention: y = f16(y * s) and y = f16(y + x * s) (fused).
    void (*scale_f16)(int64_t n, uint16_t* y, float s) = nullptr;
    void (*mad_f16)(int64_t n, uint16_t* y, const uint16_t* x, float s) = nullptr;
    // gate[i] = silu(gate[i]) * up[i], silu(g) = g / (1 + e^-g).
    void (*swiglu)(int64_t n, float* gate, const float* up) = nullptr;
};

// Causal attention of a tile of up to kAttentionTileQ query rows of n_heads query heads that
// share one key/value head (grouped-query attention; the kernel reads each key once for all of
// them): the queries sit at consecutive positions q_pos0, q_pos0 + 1, ... of one sequence and
// attend to that sequence's keys and values 0..their own position. Keys and values are paged: the
// F16 row of position j is row j % block_size of block j / block_size (rows stride elements apart).
// F32 arithmetic throughout (the prompt-sized path; decode uses VecOps for llama.cpp's
// rounding).
constexpr int kAttentionTileQ = 16;
struct AttentionTile {
    const float* q;  // [n_q][q_stride]; head g's query row starts at q + g * head_dim
    size_t q_stride;
    int64_t n_q;
    int64_t q_pos0;
    const uint16_t* const* k_blocks;  // key of position j: k_blocks[j / bs] + (j % bs) * k_stride
    size_t k_stride;
    const uint16_t* const* v_blocks;
    size_t v_stride;
    int64_t block_size;
    int64_t head_dim;
    int64_t head_dim_v;
    int64_t n_heads = 1;  // query heads, consecutive in the q and out rows
    float scale;
    float* out;  // [n_q][out_stride]; head g's output row starts at out + g * head_dim_v
    size_t out_stride;
    float* scratch;  // attention_scratch_floats(head_dim, head_dim_v, n_heads), 64-byte aligned

    const uint16_t* key(int64_t j) const {
        return k_blocks[j / block_size] + (j % block_size) * int64_t(k_stride);
    }
    const uint16_t* value(int64_t j) const {
        return v_blocks[j / block_size] + (j % block_size) * int64_t(v_stride);
    }
};
using AttentionTileFn = void (*)(const AttentionTile& a);
inline size_t attention_scratch_floats(int64_t head_dim, int64_t head_dim_v, int64_t n_heads) {
    return size_t(16 * head_dim + 16 * head_dim_v + n_heads * kAttentionTileQ * (head_dim_v + 2) +
                  128);
}

struct KernelTable {
    Isa isa = Isa::kScalar;
    TypeKernels types[40];  // indexed by GGUF type id
    VecOps vec;
    AttentionTileFn attention_tile = nullptr;

    const TypeKernels& operator[](DType t) const { return types[static_cast<uint32_t>(t)]; }
    TypeKernels& operator[](DType t) { return types[static_cast<uint32_t>(t)]; }
};

// The best ISA this CPU runs, unless CITADEL_ISA=scalar|avx2|avx512 forces one (an ISA the CPU
// lacks falls back to the best it has, with a warning on stderr).
Isa detect_isa();
bool cpu_supports(Isa isa);

// Table for a given ISA (tables are built once and never change). Entries an ISA does not
// accelerate are the scalar ones.
const KernelTable& kernel_table(Isa isa);
// Table for detect_isa(), chosen on first use.
const KernelTable& kernels();

// Each kernel family fills in its types. The scalar filler runs first for every ISA.
void register_vec_scalar(KernelTable& t);
void register_vec_avx2(KernelTable& t);
void register_vec_avx512(KernelTable& t);
void register_attention_scalar(KernelTable& t);
void register_attention_avx2(KernelTable& t);
void register_attention_avx512(KernelTable& t);
void register_float_scalar(KernelTable& t);
void register_float_avx2(KernelTable& t);
void register_float_avx512(KernelTable& t);
void register_legacy_scalar(KernelTable& t);  // Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q8_1
void register_legacy_avx2(KernelTable& t);
void register_legacy_avx512(KernelTable& t);
void register_q8_0_avx512(KernelTable& t);    // llama.cpp-exact Q8_0 (after legacy)
void register_kquant_scalar(KernelTable& t);  // Q2_K Q3_K Q4_K Q5_K Q6_K Q8_K
void register_kquant_avx2(KernelTable& t);
void register_kquant_avx512(KernelTable& t);

}  // namespace citadel
