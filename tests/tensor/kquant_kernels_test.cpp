// K-quant kernels: bit layouts, quantizer quality, and every ISA's gemm against the scalar one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/fp16.h"
#include "gguf/gguf.h"
#include "tensor/blocks.h"
#include "tensor/kernels.h"

namespace citadel {
namespace {

const DType kWeightTypes[] = {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};

std::vector<float> random_floats(size_t n, uint32_t seed, float sigma = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, sigma);
    std::vector<float> v(n);
    for (float& x : v) x = dist(rng);
    return v;
}

std::vector<float> dequantize(DType type, const std::vector<uint8_t>& q, int64_t n) {
    std::vector<float> out(static_cast<size_t>(n));
    kernel_table(Isa::kScalar)[type].dequantize_row(q.data(), out.data(), n);
    return out;
}

std::vector<uint8_t> quantize(DType type, const std::vector<float>& x) {
    std::vector<uint8_t> q(row_bytes(type, int64_t(x.size())));
    kernel_table(Isa::kScalar)[type].quantize_row(x.data(), q.data(), int64_t(x.size()));
    return q;
}

double rms_error(const std::vector<float>& a, const std::vector<float>& b) {
    double sum = 0.0;
    for (size_t i = 0; i < a.size(); ++i) sum += double(a[i] - b[i]) * double(a[i] - b[i]);
    return std::sqrt(sum / double(a.size()));
}

// ---- hand-built blocks -------------------------------------------------------------------

TEST(KquantDequant, Q4KHandBuilt) {
    BlockQ4_K b{};
    b.d = fp32_to_fp16(0.5f);
    b.dmin = fp32_to_fp16(0.25f);
    // sub-block 1: scale 3, min 5 (low form); sub-block 5: scale 37 = 0b100101, min 50 = 0b110010
    b.scales[1] = 3;
    b.scales[5] = 5;
    b.scales[9] = uint8_t((37 & 0xF) | ((50 & 0xF) << 4));
    b.scales[1] |= uint8_t((37 >> 4) << 6);
    b.scales[5] |= uint8_t((50 >> 4) << 6);
    b.qs[0] = 0x7A;   // element 0 = 10, element 32 (sub-block 1) = 7
    b.qs[64] = 0x90;  // element 128 + 32 = 160 (sub-block 5) = 9
    std::vector<float> out(256);
    kernel_table(Isa::kScalar)[DType::Q4_K].dequantize_row(&b, out.data(), 256);
    EXPECT_FLOAT_EQ(out[0], 0.0f);  // scale 0 and min 0 in sub-block 0
    EXPECT_FLOAT_EQ(out[32], 0.5f * 3 * 7 - 0.25f * 5);
    EXPECT_FLOAT_EQ(out[33], -0.25f * 5);
    EXPECT_FLOAT_EQ(out[160], 0.5f * 37 * 9 - 0.25f * 50);
}

TEST(KquantDequant, Q3KInvertedHighBitAndSignedScales) {
    BlockQ3_K b{};
    b.d = fp32_to_fp16(2.0f);
    // scale of sub-block 0 = (low 4 bits 1, high 2 bits 0) - 32 = -31; sub-block 9: 40 - 32 = 8
    b.scales[0] = 1;
    b.scales[1] = uint8_t(40 & 0xF) << 4;       // j = 9 -> low bits in scales[1] >> 4
    b.scales[8 + 1] = uint8_t((40 >> 4) << 4);  // j = 9 -> scales[9] bits 4..5
    b.qs[0] = 3;                                // element 0: low bits 3
    b.hmask[0] = 1;                             // element 0: high bit set -> q = 3
    b.qs[1] = 2;                                // element 1: low 2, high bit clear -> -2
    // element 144 = 128 + 16: h = 1, k = 0, l = 16 -> qs[48] bits 0..1, hmask[16] bit 4
    b.qs[48] = 1;
    std::vector<float> out(256);
    kernel_table(Isa::kScalar)[DType::Q3_K].dequantize_row(&b, out.data(), 256);
    EXPECT_FLOAT_EQ(out[0], 2.0f * -31 * 3);
    EXPECT_FLOAT_EQ(out[1], 2.0f * -31 * -2);
    EXPECT_FLOAT_EQ(out[2], 2.0f * -31 * -4);
    EXPECT_FLOAT_EQ(out[144], 2.0f * 8 * (1 - 4));
}

TEST(KquantDequant, Q2KQ5KQ6KHandBuilt) {
    BlockQ2_K b2{};
    b2.d = fp32_to_fp16(1.0f);
    b2.dmin = fp32_to_fp16(0.5f);
    b2.scales[2] = uint8_t(6 | (3 << 4));  // sub-block 2 = elements 32..47
    b2.qs[0] = uint8_t(2 << 2);            // element 32: h 0, k 1, l 0
    std::vector<float> out(256);
    kernel_table(Isa::kScalar)[DType::Q2_K].dequantize_row(&b2, out.data(), 256);
    EXPECT_FLOAT_EQ(out[32], 6.0f * 2 - 0.5f * 3);
    EXPECT_FLOAT_EQ(out[33], -0.5f * 3);

    BlockQ5_K b5{};
    b5.d = fp32_to_fp16(1.0f);
    b5.scales[0] = 2;
    b5.qs[3] = 0x05;
    b5.qh[3] = 1;  // element 3 gets +16
    kernel_table(Isa::kScalar)[DType::Q5_K].dequantize_row(&b5, out.data(), 256);
    EXPECT_FLOAT_EQ(out[3], 2.0f * 21);

    BlockQ6_K b6{};
    b6.d = fp32_to_fp16(0.5f);
    for (int j = 0; j < 16; ++j) b6.scales[j] = int8_t(j - 4);
    // element 200 = 128 + 64 + 8: h 1, k 2, l 8 -> high nibble of ql[64 + 8], qh[40] bits 4..5
    b6.ql[72] = 0xB0;
    b6.qh[40] = uint8_t(2 << 4);
    kernel_table(Isa::kScalar)[DType::Q6_K].dequantize_row(&b6, out.data(), 256);
    EXPECT_FLOAT_EQ(out[200], 0.5f * (200 / 16 - 4) * ((0xB | (2 << 4)) - 32));
    EXPECT_FLOAT_EQ(out[0], 0.5f * -4 * -32);
}

// ---- quantizers ----------------------------------------------------------------------------

TEST(KquantQuantize, Q8KValuesAndSums) {
    const auto x = random_floats(512, 7);
    const auto q = quantize(DType::Q8_K, x);
    const auto* blocks = reinterpret_cast<const BlockQ8_K*>(q.data());
    for (int b = 0; b < 2; ++b) {
        for (int j = 0; j < 16; ++j) {
            int sum = 0;
            for (int i = 0; i < 16; ++i) sum += blocks[b].qs[16 * j + i];
            EXPECT_EQ(sum, blocks[b].bsums[j]);
        }
        for (int i = 0; i < 256; ++i) {
            EXPECT_LE(std::fabs(blocks[b].d * blocks[b].qs[i] - x[256 * b + i]),
                      0.5f * std::fabs(blocks[b].d) * 1.0001f);
        }
    }
}

// A naive Q4_K / Q5_K / Q6_K quantizer: min/max (or max-magnitude) scales, no search.
std::vector<float> naive_round_trip(DType type, const std::vector<float>& x) {
    const int nmax = type == DType::Q4_K ? 15 : type == DType::Q5_K ? 31 : 0;
    std::vector<float> out(x.size());
    for (size_t s = 0; s < x.size(); s += (nmax ? 32 : 16)) {
        const size_t len = nmax ? 32 : 16;
        const auto [lo_it, hi_it] =
            std::minmax_element(x.begin() + long(s), x.begin() + long(s + len));
        float lo = std::min(*lo_it, 0.0f), hi = *hi_it;
        if (nmax) {
            const float scale = (hi - lo) / nmax;
            for (size_t i = s; i < s + len; ++i)
                out[i] = scale * std::round((x[i] - lo) / scale) + lo;
        } else {
            const float amax = std::max(std::fabs(*lo_it), std::fabs(hi));
            const float scale = amax / 31.5f;
            for (size_t i = s; i < s + len; ++i)
                out[i] = scale * std::clamp(std::round(x[i] / scale), -32.0f, 31.0f);
        }
    }
    return out;
}

TEST(KquantQuantize, RoundTripError) {
    const int64_t n = 256 * 64;
    const auto x = random_floats(size_t(n), 11);
    const struct {
        DType type;
        double max_rel_rms;
    } cases[] = {{DType::Q2_K, 0.45},
                 {DType::Q3_K, 0.25},
                 {DType::Q4_K, 0.12},
                 {DType::Q5_K, 0.06},
                 {DType::Q6_K, 0.03}};
    for (const auto& c : cases) {
        const double err = rms_error(x, dequantize(c.type, quantize(c.type, x), n));
        EXPECT_LT(err, c.max_rel_rms) << dtype_name(c.type);
        if (c.type == DType::Q4_K || c.type == DType::Q5_K || c.type == DType::Q6_K) {
            // The naive baseline even keeps float scales; ours stores 6/8-bit ones and wins.
            EXPECT_LT(err, rms_error(x, naive_round_trip(c.type, x))) << dtype_name(c.type);
        }
    }
}

TEST(KquantQuantize, ZerosAndConstantsRoundTrip) {
    for (DType type : kWeightTypes) {
        std::vector<float> zeros(256, 0.0f), ones(256, 1.5f);
        for (float v : dequantize(type, quantize(type, zeros), 256)) EXPECT_EQ(v, 0.0f);
        for (float v : dequantize(type, quantize(type, ones), 256))
            EXPECT_NEAR(v, 1.5f, 0.05f) << dtype_name(type);
    }
}

// ---- gemm -------------------------------------------------------------------------------

struct GemmCase {
    int64_t n;
    int n_rows;
    int n_tokens;
};

struct Operands {
    std::vector<uint8_t> w, x;
    size_t w_row_bytes, x_row_bytes;
};

// Rows are padded by a few bytes so that kernels cannot assume packed strides.
Operands make_operands(DType type, const GemmCase& c, uint32_t seed) {
    Operands o;
    o.w_row_bytes = row_bytes(type, c.n) + 8;
    o.x_row_bytes = row_bytes(DType::Q8_K, c.n) + 4;
    o.w.assign(o.w_row_bytes * size_t(c.n_rows), 0);
    o.x.assign(o.x_row_bytes * size_t(c.n_tokens), 0);
    for (int r = 0; r < c.n_rows; ++r) {
        const auto row = quantize(type, random_floats(size_t(c.n), seed + uint32_t(r)));
        std::memcpy(o.w.data() + size_t(r) * o.w_row_bytes, row.data(), row.size());
    }
    for (int t = 0; t < c.n_tokens; ++t) {
        const auto row =
            quantize(DType::Q8_K, random_floats(size_t(c.n), seed + 1000u + uint32_t(t)));
        std::memcpy(o.x.data() + size_t(t) * o.x_row_bytes, row.data(), row.size());
    }
    return o;
}

std::vector<float> run_gemm(Isa isa, DType type, const GemmCase& c, const Operands& o) {
    const size_t out_stride = size_t(c.n_rows) + 3;
    std::vector<float> out(out_stride * size_t(c.n_tokens), -7.0f);
    kernel_table(isa)[type].gemm(c.n, o.w.data(), o.w_row_bytes, c.n_rows, o.x.data(),
                                 o.x_row_bytes, c.n_tokens, out.data(), out_stride);
    for (int t = 0; t < c.n_tokens; ++t)
        for (size_t r = size_t(c.n_rows); r < out_stride; ++r)
            EXPECT_EQ(out[size_t(t) * out_stride + r], -7.0f) << "wrote outside the tile";
    return out;
}

TEST(KquantGemm, ScalarMatchesFloatDot) {
    for (DType type : kWeightTypes) {
        const GemmCase c{512, 5, 3};
        const Operands o = make_operands(type, c, 3);
        const auto out = run_gemm(Isa::kScalar, type, c, o);
        const auto& k = kernel_table(Isa::kScalar);
        std::vector<float> w(512), x(512);
        for (int r = 0; r < c.n_rows; ++r) {
            k[type].dequantize_row(o.w.data() + size_t(r) * o.w_row_bytes, w.data(), c.n);
            for (int t = 0; t < c.n_tokens; ++t) {
                k[DType::Q8_K].dequantize_row(o.x.data() + size_t(t) * o.x_row_bytes, x.data(),
                                              c.n);
                double dot = 0.0, mag = 0.0;
                for (int i = 0; i < 512; ++i) {
                    dot += double(w[size_t(i)]) * x[size_t(i)];
                    mag += std::fabs(double(w[size_t(i)]) * x[size_t(i)]);
                }
                EXPECT_NEAR(out[size_t(t) * (size_t(c.n_rows) + 3) + size_t(r)], dot, 1e-5 * mag)
                    << dtype_name(type);
            }
        }
    }
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
    float scale = 1e-3f;
    for (float v : want) scale = std::max(scale, std::fabs(v));
    int bad = 0;
    for (size_t i = 0; i < got.size() && bad < 5; ++i) {
        if (std::fabs(got[i] - want[i]) > 2e-5f * scale) {
            ADD_FAILURE() << what << " at " << i << ": " << got[i] << " vs " << want[i];
            ++bad;
        }
    }
}

TEST(KquantGemm, EveryIsaMatchesScalar) {
    std::vector<GemmCase> cases = {{256, 1, 1},  {512, 16, 1}, {512, 17, 2}, {256, 70, 70},
                                   {768, 33, 9}, {256, 5, 64}, {512, 64, 5}, {1024, 3, 3}};
    std::mt19937 rng(5);
    for (int i = 0; i < 12; ++i) {
        cases.push_back({256 * int64_t(1 + rng() % 3), int(1 + rng() % 70), int(1 + rng() % 70)});
    }
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
        if (!cpu_supports(isa)) continue;
        for (DType type : kWeightTypes) {
            for (size_t i = 0; i < cases.size(); ++i) {
                const GemmCase& c = cases[i];
                const Operands o = make_operands(type, c, uint32_t(i));
                const std::string what = std::string(isa_name(isa)) + " " + dtype_name(type) +
                                         " n=" + std::to_string(c.n) +
                                         " rows=" + std::to_string(c.n_rows) +
                                         " tokens=" + std::to_string(c.n_tokens);
                expect_close(run_gemm(isa, type, c, o), run_gemm(Isa::kScalar, type, c, o),
                             what.c_str());
            }
        }
    }
}

TEST(KquantGemm, EveryIsaQuantizesAndDequantizesLikeScalar) {
    const auto x = random_floats(1024, 21, 3.0f);
    for (Isa isa : {Isa::kAvx2, Isa::kAvx512}) {
        if (!cpu_supports(isa)) continue;
        for (DType type :
             {DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K}) {
            const auto& k = kernel_table(isa)[type];
            std::vector<uint8_t> q(row_bytes(type, 1024));
            k.quantize_row(x.data(), q.data(), 1024);
            EXPECT_EQ(q, quantize(type, x)) << isa_name(isa) << " " << dtype_name(type);
            std::vector<float> out(1024);
            k.dequantize_row(q.data(), out.data(), 1024);
            EXPECT_EQ(out, dequantize(type, q, 1024)) << isa_name(isa) << " " << dtype_name(type);
        }
    }
}

// ---- llama.cpp-made files -------------------------------------------------------------------

// Every K-quant tensor of the llama.cpp-quantized syn-llama files must dequantize to its f32
// original within the file type's quantization error, and our own quantizer must do at least
// about as well as llama.cpp's on the same data.
TEST(KquantReference, LlamaCppFilesDequantizeToF32) {
    const std::string dir = std::string(CITADEL_SHARED_DIR) + "/reference/models/";
    auto f32 = gguf::File::open(dir + "syn-llama-f32.gguf");
    if (!f32.ok()) GTEST_SKIP() << f32.error();
    const char* names[] = {"q2_k", "q3_k_m", "q4_k_m", "q5_k_m", "q6_k"};
    int checked = 0;
    for (const char* name : names) {
        auto q = gguf::File::open(dir + "syn-llama-" + name + ".gguf");
        ASSERT_TRUE(q.ok()) << q.error();
        for (const gguf::TensorInfo& t : (*q)->tensors()) {
            const auto& info = dtype_info(t.type);
            if (t.type < DType::Q2_K || t.type > DType::Q6_K) continue;
            const gguf::TensorInfo* ref = (*f32)->find_tensor(t.name);
            ASSERT_NE(ref, nullptr) << t.name;
            ASSERT_EQ(ref->type, DType::F32);
            const int64_t n = t.n_elements();
            std::vector<float> want(reinterpret_cast<const float*>(ref->data),
                                    reinterpret_cast<const float*>(ref->data) + n);
            std::vector<float> got(static_cast<size_t>(n));
            kernel_table(Isa::kScalar)[t.type].dequantize_row(t.data, got.data(), n);
            double rms = 0.0;
            for (float v : want) rms += double(v) * v;
            rms = std::sqrt(rms / double(n));
            const double err = rms_error(got, want);
            const double ours = rms_error(want, dequantize(t.type, quantize(t.type, want), n));
            const double bound = t.type == DType::Q2_K ? 0.5 : t.type == DType::Q3_K ? 0.3 : 0.15;
            EXPECT_LT(err, bound * rms) << name << " " << t.name << " " << info.name;
            EXPECT_LT(ours, err * 1.03 + 1e-9) << name << " " << t.name << " " << info.name;
            ++checked;
        }
    }
    EXPECT_GT(checked, 10);
}

}  // namespace
}  // namespace citadel
