// Tests of the float kernels (F32 F16 BF16): conversions (the activation converters bit for
// bit), the scalar GEMM against double precision, every SIMD GEMM against the scalar one, and
// the F16 / BF16 files made by llama.cpp against the F32 original.
#include <gtest/gtest.h>

#include <algorithm>
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

constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512};

// As in llama.cpp, F16 weights take F16 activations and BF16 weights BF16 ones.
TEST(FloatKernels, ActivationsTakeTheWeightType) {
    for (Isa isa : kAllIsas) {
        for (DType type : kFloatTypes) {
            EXPECT_EQ(kernel_table(isa)[type].act_type, type) << isa_name(isa);
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

// Floats with every kind of bit pattern: random bits (all exponents, NaNs with payloads,
// subnormals), values near the F16 limits and rounding ties, and normal activations.
std::vector<float> conversion_inputs() {
    std::vector<float> v;
    const uint32_t special[] = {0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000,
                                0xffc00000, 0x7f800001, 0xffffffff, 0x7fbfffff, 0x00000001,
                                0x807fffff, 0x33000000, 0x33000001, 0x387fe000, 0x38800000,
                                0x477fe000, 0x477fefff, 0x477ff000, 0xc77ff000, 0x3f808000,
                                0x3f818000, 0x3f807fff, 0x7f7fffff, 0x7f7f8000, 0x00008000};
    for (uint32_t bits : special) v.push_back(fp32_from_bits(bits));
    std::mt19937 rng(7);
    for (int i = 0; i < 20000; ++i) v.push_back(fp32_from_bits(uint32_t(rng())));
    for (int i = 0; i < 20000; ++i) {  // round-off bits that tie or nearly tie
        const uint32_t base = uint32_t(rng()) & 0xffff0000u;
        const uint32_t low[] = {0x8000, 0x7fff, 0x8001, 0x1000, 0x0fff, 0x1001};
        v.push_back(fp32_from_bits(base | low[i % 6]));
    }
    const auto normal = random_floats(20000, 8);
    v.insert(v.end(), normal.begin(), normal.end());
    return v;
}

// The activation converters of every table give fp32_to_fp16 / fp32_to_bf16 bit for bit, for
// every length (SIMD tails included) and start.
TEST(FloatKernels, ActivationConversionIsBitExact) {
    const auto in = conversion_inputs();
    for (Isa isa : kAllIsas) {
        if (!cpu_supports(isa)) continue;
        for (DType type : {DType::F16, DType::BF16}) {
            const TypeKernels& k = kernel_table(isa)[type];
            const QuantizeRowFn convert = k.quantize_act_row ? k.quantize_act_row : k.quantize_row;
            auto expect = [&](float f) {
                return type == DType::F16 ? fp32_to_fp16(f) : fp32_to_bf16(f);
            };
            std::vector<uint16_t> got(in.size() + 1, 0xabcd);
            convert(in.data(), got.data(), int64_t(in.size()));
            for (size_t i = 0; i < in.size(); ++i) {
                ASSERT_EQ(got[i], expect(in[i]))
                    << isa_name(isa) << " " << dtype_name(type) << " input bits 0x" << std::hex
                    << fp32_to_bits(in[i]);
            }
            for (int start = 0; start < 3; ++start) {
                for (int len = 0; len <= 70; ++len) {
                    std::fill(got.begin(), got.end(), 0xabcd);
                    convert(in.data() + start, got.data(), len);
                    for (int i = 0; i < len; ++i) ASSERT_EQ(got[i], expect(in[start + i]));
                    ASSERT_EQ(got[len], 0xabcd) << "wrote past the end, len " << len;
                }
            }
        }
    }
}

// Unit-normal weights and activations, rows of n elements stored with padded strides in the
// weight type and its activation type (as the scalar quantizers round them).
struct GemmOperands {
    int64_t n;
    int n_rows, n_tokens;
    size_t w_stride, x_stride;
    std::vector<uint8_t> w, x;
};

std::vector<uint8_t> convert_rows(DType type, const std::vector<float>& v, int64_t n, int rows,
                                  size_t stride) {
    std::vector<uint8_t> buf(stride * rows);
    for (int r = 0; r < rows; ++r) {
        kernel_table(Isa::kScalar)[type].quantize_row(v.data() + r * n, buf.data() + r * stride, n);
    }
    return buf;
}

GemmOperands make_operands(DType type, int64_t n, int n_rows, int n_tokens, uint32_t seed) {
    const DType act = kernel_table(Isa::kScalar)[type].act_type;
    GemmOperands o{n, n_rows, n_tokens, row_bytes(type, n) + 8, row_bytes(act, n) + 12, {}, {}};
    o.w = convert_rows(type, random_floats(size_t(n) * n_rows, seed), n, n_rows, o.w_stride);
    o.x = convert_rows(act, random_floats(size_t(n) * n_tokens, seed + 1), n, n_tokens, o.x_stride);
    return o;
}

// out[t][r] (dense, rows x tokens) of the first n_rows rows and n_tokens tokens of o.
std::vector<float> run_gemm(const KernelTable& k, DType type, const GemmOperands& o, int n_rows,
                            int n_tokens) {
    const size_t out_stride = size_t(n_rows) + 5;
    std::vector<float> out(out_stride * n_tokens, NAN);
    k[type].gemm(o.n, o.w.data(), o.w_stride, n_rows, o.x.data(), o.x_stride, n_tokens, out.data(),
                 out_stride);
    std::vector<float> dense(size_t(n_rows) * n_tokens);
    for (int t = 0; t < n_tokens; ++t) {
        for (int r = 0; r < n_rows; ++r) dense[t * n_rows + r] = out[t * out_stride + r];
    }
    return dense;
}

// Summation order differs: error ~ eps * sqrt(n) * |w||x| with unit normals.
float tolerance(int64_t n) {
    return 4e-6f * float(n) + 1e-5f;
}

// The scalar GEMM against a double-precision dot product of the same F16 / BF16 / F32 values.
TEST(FloatKernels, ScalarGemmMatchesDoubleDot) {
    const KernelTable& ref = kernel_table(Isa::kScalar);
    uint32_t seed = 100;
    for (DType type : kFloatTypes) {
        for (int64_t n : {1, 7, 64, 333, 4099}) {
            const GemmOperands o = make_operands(type, n, 9, 5, seed += 2);
            const auto got = run_gemm(ref, type, o, o.n_rows, o.n_tokens);
            std::vector<float> w(n), x(n);
            for (int t = 0; t < o.n_tokens; ++t) {
                ref[type].dequantize_row(o.x.data() + t * o.x_stride, x.data(), n);
                for (int r = 0; r < o.n_rows; ++r) {
                    ref[type].dequantize_row(o.w.data() + r * o.w_stride, w.data(), n);
                    double dot = 0.0;
                    for (int64_t i = 0; i < n; ++i) dot += double(w[i]) * double(x[i]);
                    ASSERT_NEAR(got[t * o.n_rows + r], dot, tolerance(n))
                        << dtype_name(type) << " n=" << n << " row " << r << " token " << t;
                }
            }
        }
    }
}

void expect_simd_matches_scalar(DType type, const GemmOperands& o, int n_rows, int n_tokens,
                                const std::vector<float>& full_ref) {
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
        if (!cpu_supports(isa)) continue;
        const auto got = run_gemm(kernel_table(isa), type, o, n_rows, n_tokens);
        for (int t = 0; t < n_tokens; ++t) {
            for (int r = 0; r < n_rows; ++r) {
                ASSERT_NEAR(got[t * n_rows + r], full_ref[t * o.n_rows + r], tolerance(o.n))
                    << isa_name(isa) << " " << dtype_name(type) << " n=" << o.n
                    << " rows=" << n_rows << " tokens=" << n_tokens << " at row " << r << " token "
                    << t;
            }
        }
    }
}

// Every SIMD GEMM against the scalar one, for every tile shape of 1..70 rows x 1..70 tokens
// (short rows) and for long rows that the AVX-512 kernel cuts into chunks.
TEST(FloatKernels, SimdGemmMatchesScalar) {
    const KernelTable& ref = kernel_table(Isa::kScalar);
    uint32_t seed = 1;
    for (DType type : kFloatTypes) {
        for (int64_t n : {1, 13, 32, 67}) {
            const GemmOperands o = make_operands(type, n, 70, 70, seed += 2);
            const auto full = run_gemm(ref, type, o, 70, 70);
            for (int rows = 1; rows <= 70; ++rows) {
                for (int tokens = 1; tokens <= 70; ++tokens) {
                    expect_simd_matches_scalar(type, o, rows, tokens, full);
                }
            }
        }
        for (int64_t n : {255, 1001, 4099, 9001}) {
            const GemmOperands o = make_operands(type, n, 70, 70, seed += 2);
            const auto full = run_gemm(ref, type, o, 70, 70);
            for (int rows : {1, 3, 5, 16, 70}) {
                for (int tokens : {1, 2, 7, 64, 70}) {
                    expect_simd_matches_scalar(type, o, rows, tokens, full);
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
