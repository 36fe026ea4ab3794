// Microbenchmark of the K-quant gemm kernels (not part of ctest). Single thread; for each type
// and ISA: GOP/s (2 ops per multiply-add) of W[rows x n] times X[tokens x n], and at one token
// the rate the weights are streamed at (GB/s). Build by hand against a build's static libs:
//   g++ -std=c++20 -O2 -Isrc bench/kquant_bench.cpp build-kquant/libcitadel_tensor.a
//       build-kquant/libcitadel_core.a -o build-kquant/kquant_bench
// Usage: kquant_bench [scalar|avx2|avx512] [q2_K|q3_K|q4_K|q5_K|q6_K]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/kernels.h"

using namespace citadel;

namespace {

struct Shape {
    int64_t n;
    int rows;
};

double seconds_per_call(const GemmFn gemm, const Shape& s, const std::vector<uint8_t>& w,
                        size_t w_row_bytes, const std::vector<uint8_t>& x, size_t x_row_bytes,
                        int tokens, std::vector<float>& out) {
    // Tiles as the engine's matmul hands them out: up to 64 rows x 64 tokens.
    auto run = [&] {
        for (int r0 = 0; r0 < s.rows; r0 += 64) {
            for (int t0 = 0; t0 < tokens; t0 += 64) {
                gemm(s.n, w.data() + size_t(r0) * w_row_bytes, w_row_bytes,
                     std::min(64, s.rows - r0), x.data() + size_t(t0) * x_row_bytes, x_row_bytes,
                     std::min(64, tokens - t0),
                     out.data() + size_t(t0) * size_t(s.rows) + size_t(r0), size_t(s.rows));
            }
        }
    };
    run();
    int iters = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0.0;
    while (elapsed < 0.3) {
        run();
        ++iters;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    return elapsed / iters;
}

}  // namespace

int main(int argc, char** argv) {
    const DType types[] = {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};
    // n must be a multiple of 256: Qwen2.5-0.5B's ffn_down (n = 4864, 896 rows; its other
    // matrices have n = 896 and llama.cpp stores them in fallback types) and a 2048-wide
    // ffn_up / gate as in TinyLlama-1.1B.
    const Shape shapes[] = {{4864, 896}, {2048, 5632}};
    const int token_counts[] = {1, 64};
    // Optional filters: kquant_bench [isa] [type], e.g. kquant_bench avx512 q4_K
    const char* isa_filter = argc > 1 ? argv[1] : nullptr;
    const char* type_filter = argc > 2 ? argv[2] : nullptr;
    std::mt19937 rng(1);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
        if (!cpu_supports(isa) || (isa_filter && std::strcmp(isa_filter, isa_name(isa)) != 0))
            continue;
        const KernelTable& k = kernel_table(isa);
        for (DType type : types) {
            if (type_filter && std::strcmp(type_filter, dtype_name(type)) != 0) continue;
            for (const Shape& s : shapes) {
                const size_t w_row_bytes = row_bytes(type, s.n);
                const size_t x_row_bytes = row_bytes(DType::Q8_K, s.n);
                std::vector<float> row(size_t(s.n));
                std::vector<uint8_t> w(w_row_bytes * size_t(s.rows)), x(x_row_bytes * 64);
                for (int r = 0; r < s.rows; ++r) {
                    for (float& v : row) v = dist(rng);
                    k[type].quantize_row(row.data(), w.data() + size_t(r) * w_row_bytes, s.n);
                }
                for (int t = 0; t < 64; ++t) {
                    for (float& v : row) v = dist(rng);
                    k[DType::Q8_K].quantize_row(row.data(), x.data() + size_t(t) * x_row_bytes,
                                                s.n);
                }
                std::vector<float> out(size_t(s.rows) * 64);
                for (int tokens : token_counts) {
                    if (isa == Isa::kScalar && tokens > 1) continue;
                    const double sec = seconds_per_call(k[type].gemm, s, w, w_row_bytes, x,
                                                        x_row_bytes, tokens, out);
                    const double gops = 2.0 * double(s.n) * s.rows * tokens / sec * 1e-9;
                    std::printf("%-7s %-5s n=%-5lld rows=%-5d tokens=%-3d %8.1f GOP/s",
                                isa_name(isa), dtype_name(type), (long long)s.n, s.rows, tokens,
                                gops);
                    if (tokens == 1) std::printf("  %6.1f GB/s", double(w.size()) / sec * 1e-9);
                    std::printf("\n");
                }
            }
        }
    }
}
