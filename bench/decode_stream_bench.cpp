// Decode streaming microbenchmark (not part of ctest): how close a one-token matmul comes to
// reading its weights at the speed of a plain sequential read, on 2 threads.
//
// A 256 MiB matrix of random weights (n = 896 columns, as Qwen2.5-0.5B) is multiplied by one
// token in 16 MiB slices (one `matmul` call per slice, like the matrices of a model), and the
// same bytes are read by a plain two-thread sequential sweep right after; the machine is noisy,
// so each pair gives a ratio and the median of 15 pairs is reported. A ratio near (or above) 1
// means the kernel streams as fast as memory allows; it was ~0.85 when the decode kernels
// walked 8 rows side by side and ~1.0 once they read rows one at a time in memory order.
//
// Build (from the repo root, after `make build`):
//   g++ -std=c++20 -O2 -march=native -Isrc bench/decode_stream_bench.cpp
//       build/libcitadel_tensor.a build/libcitadel_core.a -lpthread -o /tmp/decode_stream_bench
// Run: /tmp/decode_stream_bench [q8_0|q4_0|f16]   (KB=... sets the matrix size, NCOL the columns)
#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/kernels.h"
#include "tensor/matmul.h"
#include "tensor/thread_pool.h"

namespace {

using namespace citadel;

double now_s() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v ? std::atoi(v) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
    const char* type_name = argc > 1 ? argv[1] : "q8_0";
    const DType type = !std::strcmp(type_name, "q4_0")  ? DType::Q4_0
                       : !std::strcmp(type_name, "f16") ? DType::F16
                                                        : DType::Q8_0;
    const int64_t n = env_int("NCOL", 896);
    const size_t rb = row_bytes(type, n);
    const int64_t rows = (int64_t(env_int("KB", 256 * 1024)) << 10) / int64_t(rb) / 64 * 64;
    const size_t bytes = rb * size_t(rows);
    const size_t huge = size_t(2) << 20;
    auto* w = static_cast<uint8_t*>(std::aligned_alloc(huge, (bytes + huge - 1) / huge * huge));
    madvise(w, bytes, MADV_HUGEPAGE);
    std::mt19937 rng(1);
    for (size_t i = 0; i < bytes; ++i) w[i] = uint8_t(rng() & 0x3f);  // small, finite scales
    std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(rows));
    for (float& v : x) v = float(rng() % 100) / 100.0f - 0.5f;

    ThreadPool pool(2);
    MatmulScratch scratch;
    const int64_t slice = std::min<int64_t>(rows, (int64_t(16) << 20) / int64_t(rb));
    auto kernel = [&] {
        for (int64_t r0 = 0; r0 + slice <= rows; r0 += slice) {
            const WeightView v{type, w + size_t(r0) * rb, n, slice, rb};
            matmul(v, x.data(), 1, y.data() + r0, pool, scratch, kernels());
        }
    };
    long long sink[2] = {0, 0};
    auto sweep = [&] {
        pool.parallel_for(2, [&](int64_t t, int) {
            const uint8_t* p = w + bytes / 2 * size_t(t);
            __m512i a = _mm512_setzero_si512(), b = a;
            for (size_t i = 0; i + 128 <= bytes / 2; i += 128) {
                a = _mm512_xor_si512(a, _mm512_loadu_si512(p + i));
                b = _mm512_xor_si512(b, _mm512_loadu_si512(p + i + 64));
            }
            alignas(64) long long lanes[8];
            _mm512_store_si512(lanes, _mm512_xor_si512(a, b));
            sink[t] = lanes[0] ^ lanes[7];
        });
    };
    kernel();
    sweep();
    std::vector<double> k_gbs, s_gbs, ratio;
    for (int i = 0; i < 15; ++i) {
        const double t0 = now_s();
        kernel();
        const double t1 = now_s();
        sweep();
        const double t2 = now_s();
        k_gbs.push_back(double(bytes) / (t1 - t0) / 1e9);
        s_gbs.push_back(double(bytes) / (t2 - t1) / 1e9);
        ratio.push_back(k_gbs.back() / s_gbs.back());
    }
    std::printf("%s n=%lld: kernel %.1f GB/s, sequential read %.1f GB/s, ratio %.3f (medians)\n",
                type_name, static_cast<long long>(n), median(k_gbs), median(s_gbs), median(ratio));
    std::free(w);
    return sink[0] == 42 ? 1 : 0;  // keep the sweep's loads
}
