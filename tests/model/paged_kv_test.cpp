// The paged KV cache: any block table gives the same logits as contiguous slots, several
// sequences share one pass, and Q8_0 rows stay close to F16.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "model/forward.h"
#include "test_paths.h"

namespace citadel {
namespace {

std::shared_ptr<const Model> load(const std::string& name) {
    auto m = load_model(test::reference_model(name));
    EXPECT_TRUE(m.ok()) << m.error();
    return *m;
}

std::vector<int32_t> tokens_of(int n, uint64_t seed, int64_t n_vocab) {
    std::mt19937_64 rng(seed);
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (int32_t& x : t) x = int32_t(rng() % uint64_t(n_vocab));
    return t;
}

// Logits of every position of `tokens` fed in chunks through sequence `seq`.
std::vector<float> run_chunks(const Model& m, ForwardState& st, const std::vector<int32_t>& tokens,
                              const std::vector<std::vector<int32_t>>& tables, int seq,
                              size_t chunk) {
    std::vector<float> all;
    for (size_t p0 = 0; p0 < tokens.size(); p0 += chunk) {
        Batch b;
        for (size_t p = p0; p < std::min(tokens.size(), p0 + chunk); ++p) {
            b.add(tokens[p], int32_t(p), seq, true);
        }
        b.block_tables = tables;
        EXPECT_TRUE(forward(m, b, st).ok());
        all.insert(all.end(), st.logits.begin(),
                   st.logits.begin() + long(st.n_logits * m.hp.n_vocab));
    }
    return all;
}

TEST(PagedKv, ShuffledBlocksGiveTheLogitsOfContiguousSlots) {
    for (const char* name : {"stories260K.gguf", "syn-qwen2-q8_0.gguf", "syn-qwen3-q8_0.gguf"}) {
        auto m = load(name);
        const std::vector<int32_t> tokens = tokens_of(100, 3, m->hp.n_vocab);
        ForwardState fixed(*m, ForwardOptions{.n_threads = 2, .n_seq = 1, .n_ctx = 128});
        const std::vector<float> want = run_chunks(*m, fixed, tokens, {}, 0, 100);
        ForwardState paged(*m, ForwardOptions{.n_threads = 2, .kv_blocks = 40, .block_size = 16});
        std::vector<int32_t> table(40);
        std::iota(table.begin(), table.end(), 0);
        std::shuffle(table.begin(), table.end(), std::mt19937(5));
        table.resize(7);
        // Sequence 1 of two, so the table lookup is by sequence id.
        const std::vector<float> got = run_chunks(*m, paged, tokens, {{}, table}, 1, 100);
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], want[i]) << name << " " << i;
    }
}

TEST(PagedKv, DecodeStepsOfSeveralSequencesShareOnePass) {
    auto m = load("stories260K.gguf");
    const int64_t V = m->hp.n_vocab;
    std::vector<std::vector<int32_t>> prompts = {tokens_of(20, 1, V), tokens_of(35, 2, V),
                                                 tokens_of(9, 3, V)};
    // Alone: each sequence on its own state, one token at a time.
    std::vector<std::vector<float>> want;
    for (const auto& p : prompts) {
        ForwardState st(*m, ForwardOptions{.n_threads = 2, .n_seq = 1, .n_ctx = 64});
        want.push_back(run_chunks(*m, st, p, {}, 0, 1));
    }
    // Together: one batch per position, each sequence with its own blocks.
    ForwardState st(*m, ForwardOptions{.n_threads = 2, .kv_blocks = 12, .block_size = 8});
    const std::vector<std::vector<int32_t>> tables = {{0, 5, 6}, {1, 2, 3, 4, 7}, {11, 10}};
    std::vector<std::vector<float>> got(3);
    for (size_t p = 0; p < 35; ++p) {
        Batch b;
        std::vector<int> seqs;
        for (int s = 0; s < 3; ++s) {
            if (p >= prompts[size_t(s)].size()) continue;
            b.add(prompts[size_t(s)][p], int32_t(p), s, true);
            seqs.push_back(s);
        }
        b.block_tables = tables;
        ASSERT_TRUE(forward(*m, b, st).ok());
        for (size_t r = 0; r < seqs.size(); ++r) {
            auto row = st.logits.begin() + long(r * size_t(V));
            got[size_t(seqs[r])].insert(got[size_t(seqs[r])].end(), row, row + V);
        }
    }
    for (int s = 0; s < 3; ++s) EXPECT_EQ(got[size_t(s)], want[size_t(s)]) << "sequence " << s;
}

TEST(PagedKv, Q8RowsStayCloseToF16) {
    auto m = load("syn-qwen2-q8_0.gguf");
    ASSERT_TRUE(KvCache::check(m->hp, KvType::kQ8_0).ok());
    const std::vector<int32_t> tokens = tokens_of(90, 4, m->hp.n_vocab);
    std::vector<std::vector<int32_t>> tables = {{0, 1, 2, 3, 4, 5}};
    ForwardState f16(*m, ForwardOptions{.n_threads = 2, .kv_blocks = 6, .block_size = 16});
    ForwardState q8(
        *m,
        ForwardOptions{.n_threads = 2, .kv_blocks = 6, .block_size = 16, .kv_type = KvType::kQ8_0});
    for (size_t chunk : {size_t(90), size_t(1)}) {
        const std::vector<float> a = run_chunks(*m, f16, tokens, tables, 0, chunk);
        const std::vector<float> b = run_chunks(*m, q8, tokens, tables, 0, chunk);
        double err = 0, norm = 0;
        for (size_t i = 0; i < a.size(); ++i) {
            err += (a[i] - b[i]) * (a[i] - b[i]);
            norm += a[i] * a[i];
        }
        EXPECT_LT(std::sqrt(err / norm), 0.05) << "chunk " << chunk;
    }
}

TEST(PagedKv, BadTablesAreErrors) {
    auto m = load("stories260K.gguf");
    ForwardState st(*m, ForwardOptions{.n_threads = 1, .kv_blocks = 4, .block_size = 16});
    Batch b;
    b.add(1, 0, 0, true);
    EXPECT_FALSE(forward(*m, b, st).ok()) << "a paged cache needs tables";
    b.block_tables = {{7}};
    EXPECT_NE(forward(*m, b, st).message().find("KV block 7"), std::string::npos);
    b.block_tables = {{0}};
    b.positions[0] = 16;
    EXPECT_NE(forward(*m, b, st).message().find("beyond its 1 KV blocks"), std::string::npos);
    b.positions[0] = 0;
    b.seq_ids[0] = 1;
    EXPECT_FALSE(forward(*m, b, st).ok());
}

}  // namespace
}  // namespace citadel
