#include "tensor/matmul.h"

#include <algorithm>
#include <span>

#include "core/status.h"

namespace citadel {
namespace {

// Tile sizes: a tile of W (rows x n_cols) and of X (tokens x n_cols) stay in L2 while the
// kernel reuses them. Decode (one token) uses short row tiles so both threads get work.
constexpr int64_t kRowTile = 192;
constexpr int64_t kRowTileDecodeMin = 16;
constexpr int64_t kRowTileDecodeMax = 512;
constexpr int64_t kDecodeTasksPerThread = 4;
constexpr int64_t kTokenTile = 64;
constexpr int64_t kRowTileBatchMin = 32;
constexpr int64_t kBatchTasksPerThread = 6;

// Converts the activations to the kernel's input type, one row per task.
const uint8_t* prepare_activations(const TypeKernels& wk, const float* x, int64_t n_tokens,
                                   int64_t n_cols, size_t* x_row_bytes, ThreadPool& pool,
                                   MatmulScratch& scratch, const KernelTable& kernels) {
    if (wk.act_type == DType::F32) {
        *x_row_bytes = size_t(n_cols) * sizeof(float);
        return reinterpret_cast<const uint8_t*>(x);
    }
    const TypeKernels& ak = kernels[wk.act_type];
    const QuantizeRowFn quantize = ak.quantize_act_row ? ak.quantize_act_row : ak.quantize_row;
    CITADEL_CHECK(quantize != nullptr);
    const size_t rb = row_bytes(wk.act_type, n_cols);
    *x_row_bytes = rb;
    if (scratch.act.size() < rb * size_t(n_tokens)) scratch.act.resize(rb * size_t(n_tokens));
    uint8_t* act = scratch.act.data();
    pool.parallel_for(
        n_tokens, [&](int64_t t, int) { quantize(x + t * n_cols, act + size_t(t) * rb, n_cols); });
    return act;
}

// Decoding streams each weight once: long contiguous runs of rows per task keep the
// hardware prefetchers busy, while about 8 tasks per thread still balance the load.
int64_t decode_row_tile(int64_t n_rows, int n_threads) {
    const int64_t per_task = n_rows / (int64_t(n_threads) * kDecodeTasksPerThread);
    return std::clamp<int64_t>(per_task / 16 * 16, kRowTileDecodeMin, kRowTileDecodeMax);
}

// Batches of a few tokens: rows tiles small enough that every thread gets several tasks
// (a full 192-row tile would leave a 128-row matrix to one thread), but no smaller than 32 rows,
// since each task converts its tokens' activations again.
int64_t batch_row_tile(int64_t n_rows, int64_t n_token_tiles, int n_threads) {
    const int64_t want_tasks = int64_t(n_threads) * kBatchTasksPerThread;
    int64_t tile = kRowTile;
    while (tile > kRowTileBatchMin && (n_rows + tile - 1) / tile * n_token_tiles < want_tasks) {
        tile = std::max(kRowTileBatchMin, tile / 2 / 16 * 16);  // multiples of 16 rows
    }
    return tile;
}

}  // namespace

void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, ThreadPool& pool,
            MatmulScratch& scratch, const KernelTable& kernels) {
    const MatmulOut out{&w, y};
    matmul_group(std::span<const MatmulOut>(&out, 1), x, n_tokens, pool, scratch, kernels);
}

// The activations of every matrix of a group are converted the same way.
static bool same_input(std::span<const MatmulOut> outs, const KernelTable& kernels) {
    const TypeKernels& first = kernels[outs.front().w->type];
    for (const MatmulOut& o : outs) {
        const TypeKernels& k = kernels[o.w->type];
        if (k.act_type != first.act_type || k.quantize_act_row != first.quantize_act_row ||
            o.w->n_cols != outs.front().w->n_cols) {
            return false;
        }
    }
    return true;
}

void matmul_group(std::span<const MatmulOut> outs, const float* x, int64_t n_tokens,
                  ThreadPool& pool, MatmulScratch& scratch, const KernelTable& kernels) {
    CITADEL_CHECK(!outs.empty() && outs.size() <= kMaxGroup);
    if (!same_input(outs, kernels)) {
        for (const MatmulOut& o : outs) matmul(*o.w, x, n_tokens, o.y, pool, scratch, kernels);
        return;
    }
    const int64_t n_cols = outs.front().w->n_cols;
    size_t x_row_bytes = 0;
    const uint8_t* act = prepare_activations(kernels[outs.front().w->type], x, n_tokens, n_cols,
                                             &x_row_bytes, pool, scratch, kernels);
    const int64_t n_token_tiles = (n_tokens + kTokenTile - 1) / kTokenTile;
    int64_t total_rows = 0;
    for (const MatmulOut& o : outs) total_rows += o.w->n_rows;
    // Tiles per matrix, sized from the whole group's rows so small matrices (K, V) do not
    // become many tiny tasks; tasks numbered matrix after matrix.
    int64_t row_tile[kMaxGroup], first_task[kMaxGroup + 1];
    first_task[0] = 0;
    for (size_t m = 0; m < outs.size(); ++m) {
        const int64_t rows = outs[m].w->n_rows;
        row_tile[m] = n_tokens == 1 ? std::min(decode_row_tile(total_rows, pool.size()), rows)
                                    : batch_row_tile(rows, n_token_tiles, pool.size());
        first_task[m + 1] = first_task[m] + (rows + row_tile[m] - 1) / row_tile[m] * n_token_tiles;
    }
    // Consecutive tasks share a row tile, so a thread reuses the weights it just loaded.
    pool.parallel_for(first_task[outs.size()], [&](int64_t task, int) {
        size_t m = 0;
        while (task >= first_task[m + 1]) ++m;
        const WeightView& w = *outs[m].w;
        const int64_t local = task - first_task[m];
        const int64_t r0 = (local / n_token_tiles) * row_tile[m];
        const int64_t t0 = (local % n_token_tiles) * kTokenTile;
        const int n_rows = int(std::min(row_tile[m], w.n_rows - r0));
        const int n_tok = int(std::min(kTokenTile, n_tokens - t0));
        kernels[w.type].gemm(w.n_cols, w.row(r0), w.row_bytes, n_rows,
                             act + size_t(t0) * x_row_bytes, x_row_bytes, n_tok,
                             outs[m].y + t0 * w.n_rows + r0, size_t(w.n_rows));
    });
}

void matmul_pair(const MatmulOut& a, const MatmulOut& b, const float* x, int64_t n_tokens,
                 const TileEpilogue& then, ThreadPool& pool, MatmulScratch& scratch,
                 const KernelTable& kernels) {
    const MatmulOut both[] = {a, b};
    const WeightView& wa = *a.w;
    const WeightView& wb = *b.w;
    if (wa.type != wb.type || wa.n_rows != wb.n_rows || !same_input(both, kernels)) {
        matmul_group(both, x, n_tokens, pool, scratch, kernels);
        then(0, wa.n_rows, 0, n_tokens);
        return;
    }
    size_t x_row_bytes = 0;
    const uint8_t* act = prepare_activations(kernels[wa.type], x, n_tokens, wa.n_cols, &x_row_bytes,
                                             pool, scratch, kernels);
    const int64_t n_token_tiles = (n_tokens + kTokenTile - 1) / kTokenTile;
    const int64_t row_tile = n_tokens == 1
                                 ? std::min(decode_row_tile(2 * wa.n_rows, pool.size()), wa.n_rows)
                                 : batch_row_tile(wa.n_rows, n_token_tiles, pool.size());
    const int64_t n_row_tiles = (wa.n_rows + row_tile - 1) / row_tile;
    const GemmFn gemm = kernels[wa.type].gemm;
    pool.parallel_for(n_row_tiles * n_token_tiles, [&](int64_t task, int) {
        const int64_t r0 = (task / n_token_tiles) * row_tile;
        const int64_t t0 = (task % n_token_tiles) * kTokenTile;
        const int rows = int(std::min(row_tile, wa.n_rows - r0));
        const int n_tok = int(std::min(kTokenTile, n_tokens - t0));
        const uint8_t* xt = act + size_t(t0) * x_row_bytes;
        for (const MatmulOut& o : both) {
            gemm(wa.n_cols, o.w->row(r0), o.w->row_bytes, rows, xt, x_row_bytes, n_tok,
                 o.y + t0 * wa.n_rows + r0, size_t(wa.n_rows));
        }
        then(r0, rows, t0, n_tok);
    });
}

void dequantize_row(const WeightView& w, int64_t r, float* dst, const KernelTable& kernels) {
    const TypeKernels& wk = kernels[w.type];
    CITADEL_CHECK(wk.dequantize_row != nullptr);
    wk.dequantize_row(w.row(r), dst, w.n_cols);
}

}  // namespace citadel
