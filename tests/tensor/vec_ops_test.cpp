// The vector operations of every ISA against the scalar ones: the F16 attention helpers must
// agree bit for bit (they reproduce llama.cpp's rounding), SwiGLU to float precision.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "tensor/kernels.h"

namespace citadel {
namespace {

std::vector<uint16_t> random_f16(size_t n, std::mt19937& rng) {
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<uint16_t> v(n);
    for (uint16_t& x : v) x = fp32_to_fp16(dist(rng));
    return v;
}

TEST(VecOps, F16AttentionHelpersAreBitExactAcrossIsas) {
    std::mt19937 rng(3);
    const VecOps& ref = kernel_table(Isa::kScalar).vec;
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
        if (!cpu_supports(isa)) continue;
        const VecOps& v = kernel_table(isa).vec;
        for (int64_t n : {8, 16, 64, 72, 128, 200}) {
            const std::vector<uint16_t> a = random_f16(size_t(n), rng),
                                        b = random_f16(size_t(n), rng);
            EXPECT_EQ(v.dot_f16_f16(n, a.data(), b.data()), ref.dot_f16_f16(n, a.data(), b.data()))
                << isa_name(isa) << " n=" << n;
            std::vector<uint16_t> y1 = random_f16(size_t(n), rng), y2 = y1;
            v.mad_f16(n, y1.data(), a.data(), 0.37f);
            ref.mad_f16(n, y2.data(), a.data(), 0.37f);
            EXPECT_EQ(y1, y2) << isa_name(isa) << " n=" << n;
            v.scale_f16(n, y1.data(), 0.61f);
            ref.scale_f16(n, y2.data(), 0.61f);
            EXPECT_EQ(y1, y2) << isa_name(isa) << " n=" << n;
        }
    }
}

TEST(VecOps, SwigluMatchesDoublePrecision) {
    std::mt19937 rng(5);
    std::normal_distribution<float> dist(0.0f, 4.0f);
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
        if (!cpu_supports(isa)) continue;
        const int64_t n = 1000;
        std::vector<float> g(static_cast<size_t>(n)), u(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) g[size_t(i)] = dist(rng), u[size_t(i)] = dist(rng);
        g[0] = -100.0f, g[1] = 100.0f, g[2] = 0.0f;
        std::vector<float> out = g;
        kernel_table(isa).vec.swiglu(n, out.data(), u.data());
        for (int64_t i = 0; i < n; ++i) {
            const double x = g[size_t(i)];
            const double want = x / (1.0 + std::exp(-x)) * u[size_t(i)];
            ASSERT_NEAR(out[size_t(i)], want, 1e-6 * (std::fabs(want) + 1e-3))
                << isa_name(isa) << " x=" << x;
        }
    }
}

}  // namespace
}  // namespace citadel
