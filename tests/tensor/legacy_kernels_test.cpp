// Tests of the legacy block kernels (Q4_0 Q4_1 Q5_0 Q5_1 Q8_0, Q8_1 activations): hand-built
// blocks, quantization error bounds, the scalar GEMM against float dots, every SIMD GEMM against
// the scalar one, and dequantization of llama.cpp-made files against the F32 original.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "gguf/gguf.h"
#include "tensor/blocks.h"
#include "tensor/kernels.h"

namespace citadel {
namespace {

constexpr DType kWeightTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0};

std::vector<float> random_floats(size_t count, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(count);
    for (float& f : v) f = dist(rng);
    return v;
}

std::vector<uint8_t> quantize(DType type, const std::vector<float>& x, int64_t n) {
    const KernelTable& k = kernel_table(Isa::kScalar);
    const int64_t rows = int64_t(x.size()) / n;
    std::vector<uint8_t> q(row_bytes(type, n) * rows + 64);
    for (int64_t r = 0; r < rows; ++r) {
        k[type].quantize_row(x.data() + r * n, q.data() + r * row_bytes(type, n), n);
    }
    q.resize(row_bytes(type, n) * rows);
    return q;
}

TEST(LegacyKernels, DequantizeHandBuiltBlocks) {
    const KernelTable& k = kernel_table(Isa::kScalar);
    float out[32];

    BlockQ4_0 q40{fp32_to_fp16(0.5f), {}};
    for (int j = 0; j < 16; ++j) q40.qs[j] = uint8_t(j | ((15 - j) << 4));
    k[DType::Q4_0].dequantize_row(&q40, out, 32);
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(out[j], (j - 8) * 0.5f);
        EXPECT_EQ(out[j + 16], (7 - j) * 0.5f);
    }

    BlockQ4_1 q41{fp32_to_fp16(2.0f), fp32_to_fp16(-1.0f), {}};
    for (int j = 0; j < 16; ++j) q41.qs[j] = uint8_t(j | (3 << 4));
    k[DType::Q4_1].dequantize_row(&q41, out, 32);
    for (int j = 0; j < 16; ++j) {
        EXPECT_EQ(out[j], j * 2.0f - 1.0f);
        EXPECT_EQ(out[j + 16], 5.0f);
    }

    BlockQ5_0 q50{fp32_to_fp16(0.25f), {0x01, 0x00, 0x00, 0x80}, {}};  // bits 0 and 31
    for (int j = 0; j < 16; ++j) q50.qs[j] = 0xF0;                     // lo 0, hi 15
    k[DType::Q5_0].dequantize_row(&q50, out, 32);
    EXPECT_EQ(out[0], (16 - 16) * 0.25f);
    EXPECT_EQ(out[1], -16 * 0.25f);
    EXPECT_EQ(out[16], (15 - 16) * 0.25f);
    EXPECT_EQ(out[31], (31 - 16) * 0.25f);

    BlockQ5_1 q51{fp32_to_fp16(1.0f), fp32_to_fp16(10.0f), {0x00, 0x00, 0x01, 0x00}, {}};
    for (int j = 0; j < 16; ++j) q51.qs[j] = uint8_t(j);
    k[DType::Q5_1].dequantize_row(&q51, out, 32);
    EXPECT_EQ(out[5], 15.0f);
    EXPECT_EQ(out[16], 26.0f);  // bit 16 set: 16 + 0
    EXPECT_EQ(out[17], 10.0f);

    BlockQ8_0 q80{fp32_to_fp16(-0.125f), {}};
    for (int j = 0; j < 32; ++j) q80.qs[j] = int8_t(j * 8 - 128);
    k[DType::Q8_0].dequantize_row(&q80, out, 32);
    for (int j = 0; j < 32; ++j) EXPECT_EQ(out[j], (j * 8 - 128) * -0.125f);
}

TEST(LegacyKernels, QuantizeMatchesLlamaConventions) {
    // Q4_0: d = max / -8 with max the signed value of largest magnitude; that value maps to 0.
    std::vector<float> x(32, 0.0f);
    x[3] = -4.0f;
    x[7] = 1.0f;
    const auto q = quantize(DType::Q4_0, x, 32);
    BlockQ4_0 b;
    std::memcpy(&b, q.data(), sizeof b);
    EXPECT_EQ(fp16_to_fp32(b.d), 0.5f);
    EXPECT_EQ(b.qs[3] & 0x0F, 0);
    EXPECT_EQ(b.qs[7] & 0x0F, 10);
    EXPECT_EQ(b.qs[0] & 0x0F, 8);

    // Q8_1 stores s = d * sum(q).
    std::vector<float> y = random_floats(32, 7);
    const auto q1 = quantize(DType::Q8_1, y, 32);
    BlockQ8_1 b1;
    std::memcpy(&b1, q1.data(), sizeof b1);
    int sum = 0;
    for (int j = 0; j < 32; ++j) sum += b1.qs[j];
    EXPECT_EQ(b1.s, fp32_to_fp16(sum * fp16_to_fp32(b1.d)));
}

// Round-trip error of every element within half a step (plus fp16 rounding of d and m).
TEST(LegacyKernels, QuantizeDequantizeErrorWithinHalfStep) {
    const KernelTable& k = kernel_table(Isa::kScalar);
    const int64_t n = 32 * 64;
    const std::vector<float> x = random_floats(n, 1);
    for (DType type :
         {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q8_1}) {
        const auto q = quantize(type, x, n);
        std::vector<float> y(n);
        k[type].dequantize_row(q.data(), y.data(), n);
        const bool five = type == DType::Q5_0 || type == DType::Q5_1;
        const bool eight = type == DType::Q8_0 || type == DType::Q8_1;
        const bool min_type = type == DType::Q4_1 || type == DType::Q5_1;
        const float levels = eight ? 254.0f : (five ? 31.0f : 15.0f);
        for (int64_t b = 0; b < n / 32; ++b) {
            float lo = x[b * 32], hi = x[b * 32], amax = 0.0f;
            for (int j = 0; j < 32; ++j) {
                lo = std::min(lo, x[b * 32 + j]);
                hi = std::max(hi, x[b * 32 + j]);
                amax = std::max(amax, std::fabs(x[b * 32 + j]));
            }
            // Q4_0 / Q5_0: d = amax / 8 (16), and the side opposite the largest magnitude is
            // clamped one level short, so the error there reaches a full step. Q8: half a step.
            float bound;
            if (min_type) {
                bound = 0.5f * (hi - lo) / levels;
            } else if (eight) {
                bound = 0.5f * amax / 127;
            } else {
                bound = amax / (five ? 16 : 8);
            }
            bound = bound * 1.01f + 2e-3f * amax;  // + fp16 rounding of d and m
            for (int j = 0; j < 32; ++j) {
                ASSERT_NEAR(y[b * 32 + j], x[b * 32 + j], bound)
                    << dtype_name(type) << " block " << b << " elem " << j;
            }
        }
    }
}

// SIMD tables may override the activation quantizers; they must be bit-identical.
TEST(LegacyKernels, SimdQuantizersMatchScalar) {
    const int64_t n = 32 * 37;
    auto x = random_floats(n, 5, 3.0f);
    for (int j = 0; j < 32; ++j) x[64 + j] = 0.0f;               // an all-zero block
    for (int j = 0; j < 32; ++j) x[128 + j] = float(j) - 15.5f;  // exact halves
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
        if (!cpu_supports(isa)) continue;
        for (DType type :
             {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0, DType::Q8_1}) {
            std::vector<uint8_t> a(row_bytes(type, n)), b(row_bytes(type, n));
            kernel_table(Isa::kScalar)[type].quantize_row(x.data(), a.data(), n);
            kernel_table(isa)[type].quantize_row(x.data(), b.data(), n);
            EXPECT_EQ(a, b) << isa_name(isa) << " " << dtype_name(type);
        }
    }
}

struct GemmCase {
    int64_t n;
    int n_rows;
    int n_tokens;
};

// Runs table[type].gemm on row-major random data with padded strides.
std::vector<float> run_gemm(const KernelTable& k, DType type, const std::vector<uint8_t>& w,
                            size_t w_stride, const std::vector<uint8_t>& x, size_t x_stride,
                            const GemmCase& c) {
    const size_t out_stride = size_t(c.n_rows) + 3;
    std::vector<float> out(out_stride * c.n_tokens, NAN);
    k[type].gemm(c.n, w.data(), w_stride, c.n_rows, x.data(), x_stride, c.n_tokens, out.data(),
                 out_stride);
    std::vector<float> dense(size_t(c.n_rows) * c.n_tokens);
    for (int t = 0; t < c.n_tokens; ++t) {
        for (int r = 0; r < c.n_rows; ++r) dense[t * c.n_rows + r] = out[t * out_stride + r];
    }
    return dense;
}

// Quantized rows laid out with a few spare bytes between rows (strides need not be tight).
std::vector<uint8_t> strided_rows(DType type, const std::vector<float>& v, int64_t n, int rows,
                                  size_t stride) {
    std::vector<uint8_t> buf(stride * rows);
    const auto q = quantize(type, v, n);
    const size_t rb = row_bytes(type, n);
    for (int r = 0; r < rows; ++r) std::memcpy(buf.data() + r * stride, q.data() + r * rb, rb);
    return buf;
}

void check_gemm_against_scalar(Isa isa, DType type, const GemmCase& c, uint32_t seed) {
    const KernelTable& ref = kernel_table(Isa::kScalar);
    const KernelTable& k = kernel_table(isa);
    const DType act = ref[type].act_type;
    ASSERT_EQ(k[type].act_type, act);
    const std::vector<float> wf = random_floats(size_t(c.n) * c.n_rows, seed);
    const std::vector<float> xf = random_floats(size_t(c.n) * c.n_tokens, seed + 1);
    const size_t w_stride = row_bytes(type, c.n) + 16;
    const size_t x_stride = row_bytes(act, c.n) + 40;
    const auto w = strided_rows(type, wf, c.n, c.n_rows, w_stride);
    const auto x = strided_rows(act, xf, c.n, c.n_tokens, x_stride);
    const auto expected = run_gemm(ref, type, w, w_stride, x, x_stride, c);
    const auto got = run_gemm(k, type, w, w_stride, x, x_stride, c);
    for (size_t i = 0; i < got.size(); ++i) {
        // Integer block sums are exact; only the float accumulation order differs.
        const float tol = 2e-5f * std::sqrt(float(c.n)) * 4.0f + 1e-4f;
        ASSERT_NEAR(got[i], expected[i], tol)
            << isa_name(isa) << " " << dtype_name(type) << " n=" << c.n << " rows=" << c.n_rows
            << " tokens=" << c.n_tokens << " at " << i;
    }
}

TEST(LegacyKernels, SimdGemmMatchesScalar) {
    const GemmCase cases[] = {{32, 1, 1},   {64, 3, 2},    {96, 5, 7},   {128, 4, 3},
                              {160, 7, 5},  {256, 13, 1},  {512, 17, 9}, {224, 70, 3},
                              {384, 1, 70}, {288, 64, 64}, {1024, 9, 2}, {640, 33, 17},
                              {32, 70, 70}, {1056, 6, 4},  {2048, 2, 1}, {4096, 5, 1}};
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
        if (!cpu_supports(isa)) continue;
        uint32_t seed = 100;
        for (DType type : kWeightTypes) {
            for (const GemmCase& c : cases) check_gemm_against_scalar(isa, type, c, seed++);
        }
    }
}

// A token alone gets the bits it gets among others in one call (decoding and prompt paths of
// every kernel), for row counts that are not multiples of the kernels' panels.
TEST(LegacyKernels, GemmTokenAloneEqualsTokenInACall) {
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
        if (!cpu_supports(isa)) continue;
        const KernelTable& k = kernel_table(isa);
        uint32_t seed = 500;
        for (DType type : kWeightTypes) {
            for (const GemmCase& c : {GemmCase{96, 13, 2}, GemmCase{288, 13, 3},
                                      GemmCase{1056, 11, 5}, GemmCase{4864, 9, 16}}) {
                const DType act = k[type].act_type;
                const std::vector<float> wf = random_floats(size_t(c.n) * c.n_rows, seed++);
                const std::vector<float> xf = random_floats(size_t(c.n) * c.n_tokens, seed++);
                const size_t w_stride = row_bytes(type, c.n), x_stride = row_bytes(act, c.n);
                const auto w = strided_rows(type, wf, c.n, c.n_rows, w_stride);
                const auto x = strided_rows(act, xf, c.n, c.n_tokens, x_stride);
                const auto all = run_gemm(k, type, w, w_stride, x, x_stride, c);
                for (int t = 0; t < c.n_tokens; ++t) {
                    const std::vector<uint8_t> one(x.begin() + t * x_stride,
                                                   x.begin() + (t + 1) * x_stride);
                    const auto alone =
                        run_gemm(k, type, w, w_stride, one, x_stride, {c.n, c.n_rows, 1});
                    ASSERT_EQ(0, std::memcmp(alone.data(), all.data() + t * c.n_rows,
                                             alone.size() * sizeof(float)))
                        << isa_name(isa) << " " << dtype_name(type) << " n=" << c.n
                        << " tokens=" << c.n_tokens << " token " << t;
                }
            }
        }
    }
}

// The scalar integer math equals the float dot of the dequantized rows.
TEST(LegacyKernels, ScalarGemmMatchesDequantizedDot) {
    const KernelTable& k = kernel_table(Isa::kScalar);
    const int64_t n = 512;
    const int rows = 5, tokens = 3;
    for (DType type : kWeightTypes) {
        const DType act = k[type].act_type;
        const auto wf = random_floats(n * rows, 11);
        const auto xf = random_floats(n * tokens, 12);
        const auto w = quantize(type, wf, n);
        const auto x = quantize(act, xf, n);
        std::vector<float> out(rows * tokens);
        k[type].gemm(n, w.data(), row_bytes(type, n), rows, x.data(), row_bytes(act, n), tokens,
                     out.data(), rows);
        std::vector<float> wd(n), xd(n);
        for (int t = 0; t < tokens; ++t) {
            k[act].dequantize_row(x.data() + t * row_bytes(act, n), xd.data(), n);
            for (int r = 0; r < rows; ++r) {
                k[type].dequantize_row(w.data() + r * row_bytes(type, n), wd.data(), n);
                double dot = 0.0, mag = 0.0;
                for (int64_t i = 0; i < n; ++i) {
                    dot += double(wd[i]) * xd[i];
                    mag += std::fabs(double(wd[i]) * xd[i]);
                }
                // Q8_1's s is stored as fp16: relative 2^-11 of |s| per block.
                EXPECT_NEAR(out[t * rows + r], dot, 1e-5 * mag + 2e-3 * std::sqrt(mag))
                    << dtype_name(type);
            }
        }
    }
}

// Dequantized tensors of the llama.cpp-made files match the F32 original within one step.
TEST(LegacyKernels, DequantizeMatchesLlamaCppFiles) {
    const std::string dir = std::string(CITADEL_SHARED_DIR) + "/reference/models/";
    auto f32 = gguf::File::open(dir + "syn-llama-f32.gguf");
    if (!f32.ok()) GTEST_SKIP() << "GGUF reader not available: " << f32.status().message();
    const char* tensor = "blk.0.ffn_up.weight";
    const gguf::TensorInfo* ref = (*f32)->find_tensor(tensor);
    ASSERT_NE(ref, nullptr);
    const int64_t n = ref->dims[0];
    const auto* ref_data = reinterpret_cast<const float*>(ref->data);
    const std::pair<const char*, DType> files[] = {{"q4_0", DType::Q4_0},
                                                   {"q4_1", DType::Q4_1},
                                                   {"q5_0", DType::Q5_0},
                                                   {"q5_1", DType::Q5_1},
                                                   {"q8_0", DType::Q8_0}};
    for (const auto& [suffix, type] : files) {
        auto file = gguf::File::open(dir + "syn-llama-" + suffix + ".gguf");
        ASSERT_TRUE(file.ok()) << suffix;
        const gguf::TensorInfo* info = (*file)->find_tensor(tensor);
        ASSERT_NE(info, nullptr);
        ASSERT_EQ(info->type, type);
        std::vector<float> y(n);
        for (int64_t r = 0; r < info->n_rows(); ++r) {
            kernel_table(Isa::kScalar)[type].dequantize_row(info->data + r * row_bytes(type, n),
                                                            y.data(), n);
            // Requantizing the original must give the file's bytes exactly.
            std::vector<float> orig(ref_data + r * n, ref_data + (r + 1) * n);
            const auto requant = quantize(type, orig, n);
            ASSERT_EQ(std::memcmp(requant.data(), info->data + r * row_bytes(type, n),
                                  row_bytes(type, n)),
                      0)
                << suffix << " row " << r;
            for (int64_t i = 0; i < n; i += 32) {
                float amax = 0.0f;
                for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(orig[i + j]));
                for (int j = 0; j < 32; ++j) {
                    ASSERT_NEAR(y[i + j], orig[i + j], amax / 7.0f + 1e-6f) << suffix;
                }
            }
        }
    }
}

}  // namespace
}  // namespace citadel
