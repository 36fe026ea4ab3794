// Tests of the float kernels (F32 F16 BF16): conversions, every SIMD GEMM against the scalar
// one, and the F16 / BF16 files made by llama.cpp against the F32 original.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "gguf/gguf.h"
#include "tensor/kernels.h"

namespace citadel {
namespace {

constexpr DType kFloatTypes[] = {DType::F32, DType::F16, DType::BF16};

std::vector<float> random_floats(size_t count, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> v(count);
    for (float& f : v) f = dist(rng);
    return v;
}

TEST(FloatKernels, ActivationsAreF32InEveryTable) {
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
        for (DType type : kFloatTypes) {
            EXPECT_EQ(kernel_table(isa)[type].act_type, DType::F32) << isa_name(isa);
            EXPECT_NE(kernel_table(isa)[type].gemm, nullptr);
        }
    }
}

TEST(FloatKernels, ConversionsRoundToNearestEven) {
    const KernelTable& k = kernel_table(Isa::kScalar);
    const float x[4] = {1.0f, 1.0f + 1.0f / 2048, -2.5f, 65520.0f};
    uint16_t h[4];
    k[DType::F16].quantize_row(x, h, 4);
    EXPECT_EQ(h[0], 0x3c00);
    EXPECT_EQ(h[1], 0x3c00);
    EXPECT_EQ(h[3], 0x7c00);
    float y[4];
    k[DType::F16].dequantize_row(h, y, 4);
    EXPECT_EQ(y[2], -2.5f);
    k[DType::BF16].quantize_row(x, h, 4);
    EXPECT_EQ(h[0], 0x3f80);
    k[DType::BF16].dequantize_row(h, y, 4);
    EXPECT_EQ(y[2], -2.5f);
    EXPECT_EQ(y[1], 1.0f);
}

struct GemmCase {
    int64_t n;
    int n_rows;
    int n_tokens;
};

std::vector<uint8_t> convert_rows(DType type, const std::vector<float>& v, int64_t n, int rows,
                                  size_t stride) {
    std::vector<uint8_t> buf(stride * rows);
    for (int r = 0; r < rows; ++r) {
        kernel_table(Isa::kScalar)[type].quantize_row(v.data() + r * n, buf.data() + r * stride, n);
    }
    return buf;
}

std::vector<float> run_gemm(const KernelTable& k, DType type, const std::vector<uint8_t>& w,
                            size_t w_stride, const std::vector<uint8_t>& x, size_t x_stride,
                            const GemmCase& c) {
    const size_t out_stride = size_t(c.n_rows) + 5;
    std::vector<float> out(out_stride * c.n_tokens, NAN);
    k[type].gemm(c.n, w.data(), w_stride, c.n_rows, x.data(), x_stride, c.n_tokens, out.data(),
                 out_stride);
    std::vector<float> dense(size_t(c.n_rows) * c.n_tokens);
    for (int t = 0; t < c.n_tokens; ++t) {
        for (int r = 0; r < c.n_rows; ++r) dense[t * c.n_rows + r] = out[t * out_stride + r];
    }
    return dense;
}

TEST(FloatKernels, SimdGemmMatchesScalar) {
    const GemmCase cases[] = {{32, 1, 1},
                              {64, 3, 2},
                              {96, 5, 7},
                              {128, 4, 3},
                              {160, 7, 5},
                              {256, 13, 1},
                              {512, 17, 9},
                              {224, 70, 3},
                              {384, 1, 70},
                              {288, 64, 64},
                              {1024, 9, 2},
                              {640, 33, 17},
                              {32, 70, 70},
                              {1056, 6, 4},
                              {2080, 2, 1},
                              {4096, 5, 1},
                              // float rows need not be a multiple of 16 (or of 8)
                              {1, 2, 2},
                              {13, 5, 3},
                              {37, 7, 8},
                              {1001, 9, 7}};
    const KernelTable& ref = kernel_table(Isa::kScalar);
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
        if (!cpu_supports(isa)) continue;
        uint32_t seed = 1;
        for (DType type : kFloatTypes) {
            for (const GemmCase& c : cases) {
                const auto wf = random_floats(size_t(c.n) * c.n_rows, seed++);
                const auto xf = random_floats(size_t(c.n) * c.n_tokens, seed++);
                const size_t w_stride = row_bytes(type, c.n) + 8;
                const size_t x_stride = size_t(c.n) * 4 + 12;
                const auto w = convert_rows(type, wf, c.n, c.n_rows, w_stride);
                const auto x = convert_rows(DType::F32, xf, c.n, c.n_tokens, x_stride);
                const auto expected = run_gemm(ref, type, w, w_stride, x, x_stride, c);
                const auto got = run_gemm(kernel_table(isa), type, w, w_stride, x, x_stride, c);
                // Summation order differs: error ~ eps * sqrt(n) * |w||x| with unit normals.
                const float tol = 4e-6f * float(c.n) + 1e-5f;
                for (size_t i = 0; i < got.size(); ++i) {
                    ASSERT_NEAR(got[i], expected[i], tol)
                        << isa_name(isa) << " " << dtype_name(type) << " n=" << c.n
                        << " rows=" << c.n_rows << " tokens=" << c.n_tokens << " at " << i;
                }
            }
        }
    }
}

// The F16 / BF16 files made by llama.cpp hold the F32 original rounded to nearest even.
TEST(FloatKernels, DequantizeMatchesLlamaCppFiles) {
    const std::string dir = std::string(CITADEL_SHARED_DIR) + "/reference/models/";
    auto f32 = gguf::File::open(dir + "syn-llama-f32.gguf");
    if (!f32.ok()) GTEST_SKIP() << "GGUF reader not available: " << f32.status().message();
    const char* tensor = "blk.0.ffn_up.weight";
    const gguf::TensorInfo* ref = (*f32)->find_tensor(tensor);
    ASSERT_NE(ref, nullptr);
    const int64_t count = ref->n_elements();
    const auto* orig = reinterpret_cast<const float*>(ref->data);
    for (const auto& [suffix, type] :
         {std::pair{"f16", DType::F16}, std::pair{"bf16", DType::BF16}}) {
        auto file = gguf::File::open(dir + "syn-llama-" + suffix + ".gguf");
        ASSERT_TRUE(file.ok()) << suffix;
        const gguf::TensorInfo* info = (*file)->find_tensor(tensor);
        ASSERT_NE(info, nullptr);
        ASSERT_EQ(info->type, type);
        std::vector<uint16_t> expected(count);
        kernel_table(Isa::kScalar)[type].quantize_row(orig, expected.data(), count);
        ASSERT_EQ(std::memcmp(expected.data(), info->data, count * 2), 0) << suffix;
        std::vector<float> y(count);
        kernel_table(Isa::kScalar)[type].dequantize_row(info->data, y.data(), count);
        const float rel = type == DType::F16 ? 1.0f / 2048 : 1.0f / 256;
        for (int64_t i = 0; i < count; ++i) {
            ASSERT_NEAR(y[i], orig[i], std::fabs(orig[i]) * rel + 1e-7f) << suffix << " " << i;
        }
    }
}

}  // namespace
}  // namespace citadel
