#include "engine/kv/kv_manager.h"

#include <gtest/gtest.h>

#include "engine/kv_test_util.h"

#include <numeric>

namespace citadel {
namespace {

using test::kv_config;
using test::tokens;

// Gives seq blocks for all its tokens and marks them computed, as a finished prefill would.
void prefill(KvManager& kv, uint64_t seq, const std::vector<int32_t>& t,
             const std::string& salt = {}) {
    kv.attach_cached_prefix(seq, t, salt);
    ASSERT_TRUE(kv.allocate(seq, int64_t(t.size())));
    kv.cache_computed(seq, t, int64_t(t.size()), salt);
}

TEST(KvManager, AllocateIsAllOrNothing) {
    KvManager kv(kv_config(4, 4));
    EXPECT_EQ(kv.blocks_needed(1, 10), 3);
    ASSERT_TRUE(kv.allocate(1, 10));
    EXPECT_EQ(kv.table(1).size(), 3u);
    EXPECT_EQ(kv.blocks_needed(1, 12), 0);
    EXPECT_EQ(kv.blocks_needed(1, 13), 1);
    EXPECT_FALSE(kv.allocate(2, 8));  // needs 2, 1 free
    EXPECT_TRUE(kv.table(2).empty());
    EXPECT_EQ(kv.num_free_blocks(), 1);
    EXPECT_TRUE(kv.allocate(2, 4));
    EXPECT_EQ(kv.num_free_blocks(), 0);
    EXPECT_DOUBLE_EQ(kv.usage(), 1.0);
}

TEST(KvManager, FreeReturnsEveryBlockTailFirst) {
    KvManager kv(kv_config(3, 4));
    ASSERT_TRUE(kv.allocate(1, 12));
    EXPECT_EQ(kv.table(1), (std::vector<int32_t>{0, 1, 2}));
    kv.free(1);
    EXPECT_EQ(kv.num_free_blocks(), 3);
    EXPECT_TRUE(kv.table(1).empty());
    ASSERT_TRUE(kv.allocate(2, 4));
    EXPECT_EQ(kv.table(2), (std::vector<int32_t>{2}));  // the old tail is reused first
    kv.free(2);
    kv.free(3);  // unknown: nothing to do
    EXPECT_EQ(kv.num_free_blocks(), 3);
}

TEST(KvManager, SecondSequenceReusesTheComputedPrefix) {
    KvManager kv(kv_config(8));
    const std::vector<int32_t> a = tokens(40);
    prefill(kv, 1, a);
    std::vector<int32_t> b(a.begin(), a.begin() + 32);
    b.insert(b.end(), {900, 901, 902});
    EXPECT_EQ(kv.attach_cached_prefix(2, b, ""), 32);
    EXPECT_EQ(kv.table(2), (std::vector<int32_t>(kv.table(1).begin(), kv.table(1).begin() + 2)));
    EXPECT_EQ(kv.pool().ref_count(kv.table(1)[0]), 2);
    ASSERT_TRUE(kv.allocate(2, int64_t(b.size())));
    EXPECT_EQ(kv.table(2).size(), 3u);
    EXPECT_EQ(kv.prefix_query_tokens(), 40 + 35);
    EXPECT_EQ(kv.prefix_hit_tokens(), 32);

    kv.free(1);
    kv.free(2);
    EXPECT_EQ(kv.num_free_blocks(), 8);
    // Freed blocks stay cached until reused.
    EXPECT_EQ(kv.attach_cached_prefix(3, a, ""), 32);
    kv.free(3);
}

TEST(KvManager, AttachNeverCoversTheLastToken) {
    KvManager kv(kv_config(8));
    const std::vector<int32_t> a = tokens(48);
    prefill(kv, 1, a);
    const std::vector<int32_t> exact(a.begin(), a.begin() + 32);
    EXPECT_EQ(kv.attach_cached_prefix(2, exact, ""), 16);  // 32 cached, 1 token must remain
    const std::vector<int32_t> one_more(a.begin(), a.begin() + 33);
    EXPECT_EQ(kv.attach_cached_prefix(3, one_more, ""), 32);
    EXPECT_EQ(kv.attach_cached_prefix(4, std::vector<int32_t>{1}, ""), 0);
}

TEST(KvManager, SaltsIsolateCaches) {
    KvManager kv(kv_config(8));
    const std::vector<int32_t> a = tokens(40);
    prefill(kv, 1, a, "tenant-a");
    EXPECT_EQ(kv.attach_cached_prefix(2, a, "tenant-b"), 0);
    EXPECT_EQ(kv.attach_cached_prefix(3, a, ""), 0);
    EXPECT_EQ(kv.attach_cached_prefix(4, a, "tenant-a"), 32);
}

TEST(KvManager, CachesIncrementallyAndChainsOnThePrefix) {
    KvManager kv(kv_config(8));
    const std::vector<int32_t> a = tokens(48);
    ASSERT_TRUE(kv.allocate(1, 48));
    kv.cache_computed(1, a, 10, "");  // no full block computed yet
    EXPECT_EQ(kv.attach_cached_prefix(2, a, ""), 0);
    kv.free(2);
    kv.cache_computed(1, a, 20, "");
    EXPECT_EQ(kv.attach_cached_prefix(2, a, ""), 16);
    kv.free(2);
    kv.cache_computed(1, a, 48, "");
    EXPECT_EQ(kv.attach_cached_prefix(2, a, ""), 32);  // 47 attachable: 2 blocks

    // Same second block after a different first one: the chain hash differs, no hit.
    std::vector<int32_t> c = a;
    c[0] = 777;
    EXPECT_EQ(kv.attach_cached_prefix(3, c, ""), 0);
}

TEST(KvManager, DisabledPrefixCacheAllocatesEverything) {
    KvManagerConfig cfg = kv_config(8);
    cfg.enable_prefix_cache = false;
    KvManager kv(cfg);
    const std::vector<int32_t> a = tokens(40);
    prefill(kv, 1, a);
    EXPECT_EQ(kv.attach_cached_prefix(2, a, ""), 0);
    EXPECT_DOUBLE_EQ(kv.prefix_hit_rate(), 0.0);
}

}  // namespace
}  // namespace citadel
