// Matrix products of weight matrices (any computable type) with a batch of activations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "tensor/dtype.h"
#include "tensor/kernels.h"
#include "tensor/thread_pool.h"

namespace citadel {

// A weight matrix in its stored type: n_rows rows of n_cols elements, row_bytes apart.
// In GGUF terms dims = {n_cols, n_rows}; y = W x maps n_cols inputs to n_rows outputs.
struct WeightView {
    DType type = DType::F32;
    const void* data = nullptr;
    int64_t n_cols = 0;
    int64_t n_rows = 0;
    size_t row_bytes = 0;

    bool empty() const { return data == nullptr; }
    const uint8_t* row(int64_t r) const {
        return static_cast<const uint8_t*>(data) + r * row_bytes;
    }
};

// Reusable buffers of the product (activations converted to the kernel's input type).
struct MatmulScratch {
    std::vector<uint8_t> act;
};

// y[t][r] = sum_c W[r][c] * x[t][c] for t < n_tokens (x rows n_cols floats apart, y rows
// n_rows floats apart). The hot loop of the forward pass: parallel over tiles of rows and
// tokens, each tile one call of the type's GEMM kernel.
void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            MatmulScratch& scratch, const KernelTable& kernels);

// One product of a group: y = w x.
struct MatmulOut {
    const WeightView* w;
    float* y;
};
constexpr size_t kMaxGroup = 4;

// Several matrices with the same n_cols times the same activations (Q, K and V; gate and
// up): the activations are converted once and one parallel job covers every matrix, so the
// threads meet once instead of once per matrix. Same results as matmul() on each.
void matmul_group(std::span<const MatmulOut> outs, const float* x, int64_t n_tokens,
                  ThreadPool& pool, MatmulScratch& scratch, const KernelTable& kernels);

// Called for each tile of a pair's rows [r0, r0 + n_rows) and tokens [t0, t0 + n_tok).
using TileEpilogue = std::function<void(int64_t r0, int64_t n_rows, int64_t t0, int64_t n_tok)>;

// Two matrices of the same type and shape times the same activations (gate and up), each
// task computing the same tile of both and then `then` on it (SwiGLU), so the epilogue runs
// in parallel and needs no meeting of the threads of its own. Row tiles are multiples of 16
// rows. Matrices that differ fall back to matmul_group and one `then` over everything.
void matmul_pair(const MatmulOut& a, const MatmulOut& b, const float* x, int64_t n_tokens,
                 const TileEpilogue& then, ThreadPool& pool, MatmulScratch& scratch,
                 const KernelTable& kernels);

// dst[0..n_cols) = row r of w as floats.
void dequantize_row(const WeightView& w, int64_t r, float* dst, const KernelTable& kernels);

}  // namespace citadel
