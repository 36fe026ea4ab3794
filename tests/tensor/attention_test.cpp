// The prompt-path attention tile of every ISA against a double-precision reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "core/fp16.h"
#include "tensor/kernels.h"

namespace citadel {
namespace {

struct Case {
    int64_t head_dim, head_dim_v, n_q, q_pos0, block_size;
};

// Pointers to the blocks of a paged K or V store, in a shuffled order.
std::vector<const uint16_t*> shuffled_blocks(const std::vector<uint16_t>& rows, int64_t n_blocks,
                                             int64_t rows_per_block, int64_t stride, size_t offset,
                                             std::mt19937& rng) {
    std::vector<int64_t> order(static_cast<size_t>(n_blocks));
    for (int64_t b = 0; b < n_blocks; ++b) order[size_t(b)] = b;
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<const uint16_t*> blocks;
    for (int64_t b : order) blocks.push_back(rows.data() + offset + b * rows_per_block * stride);
    return blocks;
}

void reference(const AttentionTile& a, std::vector<double>& out) {
    out.assign(size_t(a.n_q * a.head_dim_v), 0.0);
    for (int64_t i = 0; i < a.n_q; ++i) {
        const int64_t pos = a.q_pos0 + i;
        std::vector<double> s(size_t(pos + 1));
        double m = -INFINITY;
        for (int64_t j = 0; j <= pos; ++j) {
            double dot = 0;
            for (int64_t d = 0; d < a.head_dim; ++d) {
                dot += double(a.q[i * a.q_stride + d]) * fp16_to_fp32(a.key(j)[d]);
            }
            s[size_t(j)] = dot * a.scale;
            m = std::max(m, s[size_t(j)]);
        }
        double sum = 0;
        for (double& x : s) sum += (x = std::exp(x - m));
        for (int64_t j = 0; j <= pos; ++j) {
            for (int64_t d = 0; d < a.head_dim_v; ++d) {
                out[size_t(i * a.head_dim_v + d)] +=
                    s[size_t(j)] / sum * fp16_to_fp32(a.value(j)[d]);
            }
        }
    }
}

TEST(AttentionTile, EveryIsaMatchesReference) {
    std::mt19937 rng(7);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    const Case cases[] = {{64, 64, 16, 0, 16},    {64, 64, 16, 40, 16}, {128, 128, 7, 100, 16},
                          {16, 16, 1, 0, 16},     {8, 8, 5, 3, 16},     {64, 64, 13, 17, 5},
                          {128, 64, 16, 250, 32}, {64, 64, 16, 33, 1},  {24, 40, 11, 29, 8},
                          {12, 12, 6, 9, 4}};
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
        if (!cpu_supports(isa)) continue;
        for (const Case& c : cases) {
            // One query head, and two that share the keys (grouped-query attention).
            for (int64_t n_heads : {1, 2}) {
                const int64_t n_kv = c.q_pos0 + c.n_q, kv_stride = c.head_dim * 2 + 3;
                const int64_t n_blocks = (n_kv + c.block_size - 1) / c.block_size;
                std::vector<float> q(size_t(c.n_q * c.head_dim * 3));
                std::vector<uint16_t> k(size_t(n_blocks * c.block_size * kv_stride)),
                    v(size_t(n_blocks * c.block_size * kv_stride));
                for (float& x : q) x = dist(rng);
                for (uint16_t& x : k) x = fp32_to_fp16(dist(rng));
                for (uint16_t& x : v) x = fp32_to_fp16(dist(rng));
                const int64_t out_stride = c.head_dim_v * 3;
                std::vector<float> out(size_t(c.n_q * out_stride), NAN);
                std::vector<float> scratch(
                    attention_scratch_floats(c.head_dim, c.head_dim_v, n_heads) + 16);
                float* aligned = scratch.data() +
                                 (64 - reinterpret_cast<uintptr_t>(scratch.data()) % 64) % 64 / 4;
                const auto k_blocks = shuffled_blocks(k, n_blocks, c.block_size, kv_stride, 0, rng);
                const auto v_blocks = shuffled_blocks(v, n_blocks, c.block_size, kv_stride, 1, rng);
                const AttentionTile a{.q = q.data(),
                                      .q_stride = size_t(c.head_dim * 3),
                                      .n_q = c.n_q,
                                      .q_pos0 = c.q_pos0,
                                      .k_blocks = k_blocks.data(),
                                      .k_stride = size_t(kv_stride),
                                      .v_blocks = v_blocks.data(),
                                      .v_stride = size_t(kv_stride),
                                      .block_size = c.block_size,
                                      .head_dim = c.head_dim,
                                      .head_dim_v = c.head_dim_v,
                                      .n_heads = n_heads,
                                      .scale = 1.0f / std::sqrt(float(c.head_dim)),
                                      .out = out.data(),
                                      .out_stride = size_t(out_stride),
                                      .scratch = aligned};
                kernel_table(isa).attention_tile(a);
                for (int64_t g = 0; g < n_heads; ++g) {
                    AttentionTile head = a;
                    head.q = a.q + g * c.head_dim;
                    std::vector<double> want;
                    reference(head, want);
                    for (int64_t i = 0; i < c.n_q; ++i) {
                        for (int64_t d = 0; d < c.head_dim_v; ++d) {
                            ASSERT_NEAR(out[size_t(i * out_stride + g * c.head_dim_v + d)],
                                        want[size_t(i * c.head_dim_v + d)], 2e-5)
                                << isa_name(isa) << " hd " << c.head_dim << " head " << g << "/"
                                << n_heads << " i " << i << " d " << d;
                        }
                    }
                }
                for (int64_t i = 0; i < c.n_q; ++i) {
                    EXPECT_TRUE(std::isnan(out[size_t(i * out_stride + n_heads * c.head_dim_v)]))
                        << "wrote past the heads";
                }
            }
        }
    }
}

}  // namespace
}  // namespace citadel
