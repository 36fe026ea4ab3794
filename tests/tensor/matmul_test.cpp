// matmul_group: one job for several matrices gives exactly what matmul gives for each, for
// decoding (one token) and prompts, with the matrices' own types (mixed input types fall
// back to one product at a time).
#include "tensor/matmul.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace citadel {
namespace {

struct Matrix {
    std::vector<uint8_t> bytes;
    WeightView view;
};

Matrix random_matrix(DType type, int64_t n_rows, int64_t n_cols, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> row(static_cast<size_t>(n_cols));
    Matrix m;
    const size_t rb = row_bytes(type, n_cols);
    m.bytes.resize(rb * size_t(n_rows));
    for (int64_t r = 0; r < n_rows; ++r) {
        for (float& v : row) v = dist(rng);
        kernels()[type].quantize_row(row.data(), m.bytes.data() + size_t(r) * rb, n_cols);
    }
    m.view = WeightView{type, m.bytes.data(), n_cols, n_rows, rb};
    return m;
}

std::vector<float> random_input(int64_t n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = dist(rng);
    return x;
}

void expect_group_equals_singles(const std::vector<DType>& types, int64_t n_tokens) {
    const int64_t n_cols = 256;
    const int64_t rows[] = {96, 16, 48};
    std::vector<Matrix> ms;
    for (size_t i = 0; i < types.size(); ++i)
        ms.push_back(random_matrix(types[i], rows[i], n_cols, uint32_t(7 + i)));
    const std::vector<float> x = random_input(n_tokens * n_cols, 99);

    ThreadPool pool(2);
    MatmulScratch scratch;
    std::vector<std::vector<float>> single(ms.size()), grouped(ms.size());
    std::vector<MatmulOut> outs;
    for (size_t i = 0; i < ms.size(); ++i) {
        single[i].assign(size_t(n_tokens * ms[i].view.n_rows), 0.0f);
        grouped[i].assign(single[i].size(), -1.0f);
        matmul(ms[i].view, x.data(), n_tokens, single[i].data(), pool, scratch, kernels());
        outs.push_back(MatmulOut{&ms[i].view, grouped[i].data()});
    }
    matmul_group(outs, x.data(), n_tokens, pool, scratch, kernels());
    for (size_t i = 0; i < ms.size(); ++i) {
        ASSERT_EQ(0, std::memcmp(single[i].data(), grouped[i].data(), single[i].size() * 4))
            << "matrix " << i << " (" << dtype_name(types[i]) << "), " << n_tokens << " tokens";
    }
}

TEST(MatmulGroup, SameResultsAsOneProductAtATime) {
    for (int64_t tokens : {1, 3, 70}) {
        expect_group_equals_singles({DType::Q4_0, DType::Q4_0, DType::Q4_0}, tokens);
        expect_group_equals_singles({DType::Q8_0, DType::Q8_0}, tokens);
        expect_group_equals_singles({DType::F16, DType::F16, DType::F16}, tokens);
        // Different input types (Q8_0 activations for Q4_0, F16 for F16): one at a time.
        expect_group_equals_singles({DType::Q4_0, DType::F16, DType::Q6_K}, tokens);
    }
}

// matmul_pair: both products as matmul gives them, and the epilogue sees every (row, token)
// exactly once, after both products of its tile (rows in multiples of 16 but the last).
TEST(MatmulPair, BothProductsThenTheEpilogueOnEveryTile) {
    const int64_t n_cols = 256, n_rows = 200;
    ThreadPool pool(2);
    MatmulScratch scratch;
    for (DType type : {DType::Q4_0, DType::F16}) {
        for (int64_t n_tokens : {1, 5, 70}) {
            const Matrix a = random_matrix(type, n_rows, n_cols, 3);
            const Matrix b = random_matrix(type, n_rows, n_cols, 4);
            const std::vector<float> x = random_input(n_tokens * n_cols, 8);
            const size_t n_out = size_t(n_tokens * n_rows);
            std::vector<float> ya(n_out), yb(n_out), ref_a(n_out), ref_b(n_out);
            matmul(a.view, x.data(), n_tokens, ref_a.data(), pool, scratch, kernels());
            matmul(b.view, x.data(), n_tokens, ref_b.data(), pool, scratch, kernels());
            std::vector<int> seen(n_out, 0);
            matmul_pair(
                {&a.view, ya.data()}, {&b.view, yb.data()}, x.data(), n_tokens,
                [&](int64_t r0, int64_t rows, int64_t t0, int64_t n_tok) {
                    EXPECT_TRUE(r0 % 16 == 0);
                    for (int64_t t = t0; t < t0 + n_tok; ++t) {
                        for (int64_t r = r0; r < r0 + rows; ++r) {
                            const size_t i = size_t(t * n_rows + r);
                            EXPECT_EQ(ya[i], ref_a[i]);
                            EXPECT_EQ(yb[i], ref_b[i]);
                            ++seen[i];  // tiles are disjoint: no two tasks write one entry
                        }
                    }
                },
                pool, scratch, kernels());
            for (size_t i = 0; i < n_out; ++i) ASSERT_EQ(seen[i], 1) << i;
        }
    }
}

// A token's products are the same alone (decoding) and inside a batch of 16 (the serving
// engine batches sequences): bit for bit, for every type.
// A token decoded alone gets the bits it gets inside a batch, for every type and kernel table.
// Two shapes: a short row, and a long one (an FFN down projection) with a full 64-token tile,
// which the float kernels cut into chunks of the row.
void expect_alone_equals_batch(int64_t n_cols, int64_t n_rows, int64_t n_tokens) {
    const std::vector<float> x = random_input(n_tokens * n_cols, 5);
    ThreadPool pool(2);
    MatmulScratch scratch;
    for (DType type :
         {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
          DType::Q5_1, DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K}) {
        const Matrix m = random_matrix(type, n_rows, n_cols, 11);
        std::vector<float> batch(static_cast<size_t>(n_tokens * n_rows));
        std::vector<float> alone(static_cast<size_t>(n_rows));
        for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
            if (!cpu_supports(isa)) continue;
            const KernelTable& k = kernel_table(isa);
            matmul(m.view, x.data(), n_tokens, batch.data(), pool, scratch, k);
            for (int64_t t : {int64_t(0), int64_t(7), n_tokens - 1}) {
                matmul(m.view, x.data() + t * n_cols, 1, alone.data(), pool, scratch, k);
                EXPECT_EQ(0, std::memcmp(alone.data(), batch.data() + t * n_rows, alone.size() * 4))
                    << isa_name(isa) << " " << dtype_name(type) << " n " << n_cols << " token "
                    << t;
            }
        }
    }
}

TEST(Matmul, TokenAloneEqualsTokenInABatch) {
    expect_alone_equals_batch(896, 70, 16);
}

TEST(Matmul, TokenAloneEqualsTokenInABatchOnLongRows) {
    expect_alone_equals_batch(4864, 22, 64);
}

}  // namespace
}  // namespace citadel
