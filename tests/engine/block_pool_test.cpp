#include "engine/kv/block_pool.h"

#include <gtest/gtest.h>

#include <numeric>

namespace citadel {
namespace {

std::vector<int32_t> tokens(int n, int32_t first) {
    std::vector<int32_t> t(static_cast<size_t>(n));
    std::iota(t.begin(), t.end(), first);
    return t;
}

BlockKey key_for(int32_t first, uint64_t parent = block_chain_seed("model", "")) {
    return make_block_key(parent, tokens(16, first));
}

TEST(BlockPool, AllocatesInOrderAndFreedBlocksGoToTheTail) {
    BlockPool pool(4, true);
    for (int32_t b = 0; b < 4; ++b) EXPECT_EQ(pool.allocate(), b);
    EXPECT_EQ(pool.allocate(), std::nullopt);
    EXPECT_EQ(pool.num_free(), 0);
    pool.unref(2);
    pool.unref(0);
    EXPECT_EQ(pool.num_free(), 2);
    EXPECT_EQ(pool.num_used(), 2);
    EXPECT_EQ(pool.allocate(), 2);
    EXPECT_EQ(pool.allocate(), 0);
}

TEST(BlockPool, RefCountsKeepABlockUntilTheLastUnref) {
    BlockPool pool(2, true);
    const int32_t b = *pool.allocate();
    pool.ref(b);
    EXPECT_EQ(pool.ref_count(b), 2);
    pool.unref(b);
    EXPECT_EQ(pool.num_free(), 1);
    pool.unref(b);
    EXPECT_EQ(pool.ref_count(b), 0);
    EXPECT_EQ(pool.num_free(), 2);
    EXPECT_DEATH(pool.unref(b), "ref > 0");
}

TEST(BlockPool, EvictsCachedBlocksLeastRecentlyReleasedFirst) {
    BlockPool pool(3, true);
    const BlockKey ka = key_for(0), kb = key_for(100), kc = key_for(200);
    const int32_t a = *pool.allocate(), b = *pool.allocate(), c = *pool.allocate();
    pool.cache(a, ka);
    pool.cache(b, kb);
    pool.cache(c, kc);
    pool.unref(b);
    pool.unref(a);
    pool.unref(c);  // free list: b, a, c; all still cached
    EXPECT_EQ(pool.num_free(), 3);

    EXPECT_EQ(pool.allocate(), b);  // evicts kb
    EXPECT_FALSE(pool.is_cached(b));
    EXPECT_EQ(pool.lookup(kb), std::nullopt);
    EXPECT_EQ(pool.lookup(ka), a);  // touched: a leaves the free list...
    EXPECT_EQ(pool.num_free(), 1);
    pool.unref(a);                  // ...and comes back behind c
    EXPECT_EQ(pool.allocate(), c);  // evicts kc, keeps ka
    EXPECT_EQ(pool.lookup(kc), std::nullopt);
    EXPECT_EQ(pool.lookup(ka), a);
}

TEST(BlockPool, HitReturnsTheSameBlockAndVerifiesTheKeyExactly) {
    BlockPool pool(2, true);
    const BlockKey key = key_for(5);
    const int32_t b = *pool.allocate();
    pool.cache(b, key);
    EXPECT_EQ(pool.lookup(key), b);
    EXPECT_EQ(pool.ref_count(b), 2);

    // Same 64-bit hash, different tokens or parent: a collision must miss, not alias.
    BlockKey other_tokens = key;
    other_tokens.tokens[15] += 1;
    BlockKey other_parent = key;
    other_parent.parent_hash += 1;
    EXPECT_EQ(pool.lookup(other_tokens), std::nullopt);
    EXPECT_EQ(pool.lookup(other_parent), std::nullopt);
    EXPECT_EQ(pool.queries(), 3);
    EXPECT_EQ(pool.hits(), 1);
    EXPECT_DOUBLE_EQ(pool.hit_rate(), 1.0 / 3.0);

    // The forged keys can be cached next to the real one.
    const int32_t c = *pool.allocate();
    pool.cache(c, other_tokens);
    EXPECT_EQ(pool.lookup(other_tokens), c);
    EXPECT_EQ(pool.lookup(key), b);
}

TEST(BlockPool, AnIdenticalKeyKeepsTheBlockCachedFirst) {
    BlockPool pool(2, true);
    const int32_t a = *pool.allocate(), b = *pool.allocate();
    pool.cache(a, key_for(1));
    pool.cache(b, key_for(1));
    EXPECT_FALSE(pool.is_cached(b));
    EXPECT_EQ(pool.lookup(key_for(1)), a);
}

TEST(BlockPool, DisabledPrefixCacheNeverHits) {
    BlockPool pool(2, false);
    const int32_t a = *pool.allocate();
    pool.cache(a, key_for(1));
    EXPECT_FALSE(pool.is_cached(a));
    EXPECT_EQ(pool.lookup(key_for(1)), std::nullopt);
    EXPECT_EQ(pool.queries(), 1);
    EXPECT_EQ(pool.hits(), 0);
}

TEST(BlockPool, HashesChainOnTheParentAndTheSalts) {
    const uint64_t seed = block_chain_seed("model", "");
    EXPECT_NE(seed, block_chain_seed("model", "tenant"));
    EXPECT_NE(seed, block_chain_seed("other-model", ""));
    EXPECT_NE(block_chain_seed("ab", "c"), block_chain_seed("a", "bc"));
    EXPECT_EQ(key_for(1, seed).hash, key_for(1, seed).hash);
    EXPECT_NE(key_for(1, seed).hash, key_for(1, seed + 1).hash);
    EXPECT_NE(key_for(1, seed).hash, key_for(2, seed).hash);
    EXPECT_EQ(key_for(1, seed).parent_hash, seed);
}

}  // namespace
}  // namespace citadel
