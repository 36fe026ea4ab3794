// Single-thread microbenchmark of the GEMM kernels (not part of ctest).
//
// For each weight type and ISA: a 4864x896 and an 896x4864 weight matrix (rows x n, as in a
// Qwen2.5-0.5B FFN), called in the tiles the matmul uses (64 rows x 64 tokens; 16 rows for one
// token). Prompt rows report GFLOP/s with 64 tokens; decode rows report GFLOP/s and GB/s of
// weights read with one token, cycling over enough copies of the matrix (>= 256 MiB) that the
// weights come from DRAM, as in a real model.
//
// Build (from the repo root, after building build-legacy):
//   g++ -std=c++20 -O2 -Isrc bench/kernels_bench.cpp build-legacy/libcitadel_tensor.a
//       build-legacy/libcitadel_core.a -lpthread -o /tmp/kernels_bench
// Run: /tmp/kernels_bench [type ...]   (default: f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "tensor/kernels.h"

namespace {

using namespace citadel;

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

struct Shape {
    int64_t rows, n;
};

// Runs the matrix in the caller's tiles; returns seconds per full matmul.
double time_matmul(const TypeKernels& k, const std::vector<std::vector<uint8_t>>& copies,
                   size_t w_row_bytes, const Shape& s, const std::vector<uint8_t>& x,
                   size_t x_row_bytes, int n_tokens, std::vector<float>& out) {
    const int row_tile = n_tokens == 1 ? 16 : 64;
    const int token_tile = 64;
    auto one = [&](const std::vector<uint8_t>& w) {
        for (int64_t r0 = 0; r0 < s.rows; r0 += row_tile) {
            for (int t0 = 0; t0 < n_tokens; t0 += token_tile) {
                const int nr = int(std::min<int64_t>(row_tile, s.rows - r0));
                const int nt = std::min(token_tile, n_tokens - t0);
                k.gemm(s.n, w.data() + r0 * w_row_bytes, w_row_bytes, nr,
                       x.data() + t0 * x_row_bytes, x_row_bytes, nt, out.data() + t0 * s.rows + r0,
                       size_t(s.rows));
            }
        }
    };
    one(copies[0]);  // warm-up
    // The machine is shared: report the fastest call, not the mean.
    double best = 1e30;
    const double start = now_s();
    for (size_t i = 0; now_s() - start < 0.5; ++i) {
        const double t0 = now_s();
        one(copies[i % copies.size()]);
        best = std::min(best, now_s() - t0);
    }
    return best;
}

void bench_type(DType type, Isa isa, const Shape& s) {
    const KernelTable& table = kernel_table(isa);
    const TypeKernels& k = table[type];
    if (k.gemm == nullptr) return;
    std::mt19937 rng(42);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> wf(size_t(s.rows * s.n));
    for (float& f : wf) f = dist(rng);
    const size_t wrb = row_bytes(type, s.n);
    std::vector<uint8_t> w(wrb * s.rows);
    for (int64_t r = 0; r < s.rows; ++r) k.quantize_row(&wf[r * s.n], &w[r * wrb], s.n);
    const int max_tokens = 64;
    std::vector<float> xf(size_t(max_tokens * s.n));
    for (float& f : xf) f = dist(rng);
    const size_t xrb = row_bytes(k.act_type, s.n);
    std::vector<uint8_t> x(xrb * max_tokens);
    for (int t = 0; t < max_tokens; ++t) {
        table[k.act_type].quantize_row(&xf[t * s.n], &x[t * xrb], s.n);
    }
    std::vector<float> out(size_t(s.rows * max_tokens));

    const double gflop1 = 2.0 * double(s.rows) * double(s.n) * 1e-9;
    const size_t n_copies = std::max<size_t>(1, (size_t(256) << 20) / w.size());
    std::vector<std::vector<uint8_t>> decode_copies(n_copies, w);
    const double td = time_matmul(k, decode_copies, wrb, s, x, xrb, 1, out);
    std::vector<std::vector<uint8_t>> prompt_copies(1, w);
    const double tp = time_matmul(k, prompt_copies, wrb, s, x, xrb, max_tokens, out);
    std::printf(
        "%-6s %-6s %5lldx%-5lld  decode %7.2f GFLOP/s %6.2f GB/s   prompt(64) %7.2f GFLOP/s\n",
        isa_name(isa), dtype_name(type), (long long)s.rows, (long long)s.n, gflop1 / td,
        double(w.size()) / td * 1e-9, gflop1 * max_tokens / tp);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> names;
    for (int i = 1; i < argc; ++i) names.emplace_back(argv[i]);
    if (names.empty()) names = {"f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0"};
    const Shape shapes[] = {{4864, 896}, {896, 4864}};
    for (const std::string& name : names) {
        const auto type = dtype_from_name(name);
        if (!type) {
            std::fprintf(stderr, "unknown type %s\n", name.c_str());
            return 1;
        }
        for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
            if (!cpu_supports(isa)) continue;
            if (isa == Isa::kScalar && std::getenv("BENCH_SCALAR") == nullptr) continue;
            for (const Shape& s : shapes) bench_type(*type, isa, s);
        }
    }
    return 0;
}
