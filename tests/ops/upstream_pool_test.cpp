// UpstreamPool: least-outstanding choice, passive ejection with back-off and probing, active
// health results, and the circuit breaker, on a fake clock.
#include "ops/upstream_pool.h"

#include <gtest/gtest.h>

namespace citadel::ops {
namespace {

struct Fixture {
    int64_t now = 1000;
    UpstreamPoolOptions options;
    Fixture() {
        options.eject_after_failures = 2;
        options.eject_base_ms = 100;
        options.eject_max_ms = 400;
        options.breaker_failures = 1000;  // off unless a test lowers it
        options.breaker_open_ms = 500;
    }
    UpstreamPool make(size_t n) {
        std::vector<std::string> urls;
        for (size_t i = 0; i < n; ++i)
            urls.push_back("http://10.0.0." + std::to_string(i) + ":8000");
        return UpstreamPool(urls, options, [this] { return now; });
    }
};

size_t must_pick(UpstreamPool& pool, uint64_t random = 0, std::vector<size_t> exclude = {}) {
    UpstreamPick p = pool.pick(exclude, random);
    EXPECT_TRUE(p.endpoint.has_value()) << p.why;
    return p.endpoint.value_or(999);
}

TEST(UpstreamPool, PicksTheEndpointWithFewestOutstandingRequests) {
    Fixture f;
    UpstreamPool pool = f.make(3);
    EXPECT_EQ(must_pick(pool, 0), 0u);
    EXPECT_EQ(must_pick(pool, 0), 1u);  // 0 is busy now
    EXPECT_EQ(must_pick(pool, 0), 2u);
    pool.finish(1, true);
    EXPECT_EQ(must_pick(pool, 5), 1u);  // the only one with none outstanding
    EXPECT_EQ(pool.snapshot()[1].outstanding, 1);
}

TEST(UpstreamPool, TiesAreBrokenByTheRandomNumber) {
    Fixture f;
    UpstreamPool pool = f.make(3);
    EXPECT_EQ(must_pick(pool, 2), 2u);
    pool.finish(2, true);
    EXPECT_EQ(must_pick(pool, 4), 1u);  // 4 mod 3
}

TEST(UpstreamPool, ExcludedEndpointsAreSkipped) {
    Fixture f;
    UpstreamPool pool = f.make(2);
    EXPECT_EQ(must_pick(pool, 0, {0}), 1u);
    UpstreamPick none = pool.pick({0, 1}, 0);
    EXPECT_FALSE(none.endpoint);
    EXPECT_NE(none.why.find("no other upstream endpoint"), std::string::npos);
}

TEST(UpstreamPool, ConsecutiveFailuresEjectThenOneProbeReturnsIt) {
    Fixture f;
    UpstreamPool pool = f.make(2);
    for (int i = 0; i < 2; ++i) {
        ASSERT_EQ(must_pick(pool, 0, {1}), 0u);
        pool.finish(0, false);
    }
    EXPECT_TRUE(pool.snapshot()[0].ejected);
    EXPECT_FALSE(pool.pick({1}, 0).endpoint);  // only 0 allowed, and it is out
    EXPECT_EQ(pool.pick({1}, 0).retry_after_ms, 100);
    f.now += 100;  // back-off over: one probe at a time
    EXPECT_EQ(must_pick(pool, 0, {1}), 0u);
    EXPECT_FALSE(pool.pick({1}, 0).endpoint);  // the probe is still out
    pool.finish(0, true);
    EXPECT_FALSE(pool.snapshot()[0].probing);
    EXPECT_EQ(must_pick(pool, 0, {1}), 0u);
    EXPECT_EQ(must_pick(pool, 0, {1}), 0u);  // back to normal: no one-at-a-time limit
}

TEST(UpstreamPool, AFailedProbeEjectsAgainForTwiceAsLongUpToTheMaximum) {
    Fixture f;
    UpstreamPool pool = f.make(1);
    for (int i = 0; i < 2; ++i) pool.finish(must_pick(pool), false);
    int64_t expected = 100;
    for (int round = 0; round < 4; ++round) {
        EXPECT_EQ(pool.pick({}, 0).retry_after_ms, expected) << round;
        f.now += expected;
        pool.finish(must_pick(pool), false);  // the probe fails
        expected = std::min<int64_t>(expected * 2, 400);
    }
}

TEST(UpstreamPool, HealthChecksTakeEndpointsOutAndBringThemBack) {
    Fixture f;
    UpstreamPool pool = f.make(2);
    pool.set_health(0, false);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(must_pick(pool, uint64_t(i)), 1u);
        pool.finish(1, true);
    }
    pool.set_health(1, false);
    EXPECT_FALSE(pool.pick({}, 0).endpoint);
    pool.set_health(0, true);
    EXPECT_EQ(must_pick(pool), 0u);
}

TEST(UpstreamPool, APassingHealthCheckEndsAnEjection) {
    Fixture f;
    UpstreamPool pool = f.make(1);
    for (int i = 0; i < 2; ++i) pool.finish(must_pick(pool), false);
    ASSERT_TRUE(pool.snapshot()[0].ejected);
    pool.set_health(0, true);
    EXPECT_FALSE(pool.snapshot()[0].ejected);
    EXPECT_EQ(must_pick(pool), 0u);
}

TEST(UpstreamPool, BreakerOpensFailsFastThenHalfOpensForOneProbe) {
    Fixture f;
    f.options.breaker_failures = 3;
    f.options.eject_after_failures = 100;
    UpstreamPool pool = f.make(2);
    for (int i = 0; i < 3; ++i) pool.finish(must_pick(pool), false);
    EXPECT_TRUE(pool.breaker_open());
    UpstreamPick p = pool.pick({}, 0);
    EXPECT_FALSE(p.endpoint);
    EXPECT_EQ(p.retry_after_ms, 500);
    EXPECT_NE(p.why.find("circuit breaker is open"), std::string::npos);
    f.now += 500;
    const size_t probe = must_pick(pool);
    EXPECT_FALSE(pool.pick({}, 0).endpoint);  // half-open: only the probe
    pool.finish(probe, false);                // it failed: open again
    EXPECT_TRUE(pool.breaker_open());
    f.now += 500;
    pool.finish(must_pick(pool), true);  // this probe succeeds: closed
    EXPECT_FALSE(pool.breaker_open());
    must_pick(pool);
    must_pick(pool);
}

TEST(UpstreamPool, ASuccessResetsTheBreakerCount) {
    Fixture f;
    f.options.breaker_failures = 3;
    f.options.eject_after_failures = 100;
    UpstreamPool pool = f.make(1);
    for (int round = 0; round < 5; ++round) {
        pool.finish(must_pick(pool), false);
        pool.finish(must_pick(pool), false);
        pool.finish(must_pick(pool), true);
    }
    EXPECT_FALSE(pool.breaker_open());
}

TEST(UpstreamPool, AnUncountedEndChangesOnlyTheOutstandingCount) {
    Fixture f;
    UpstreamPool pool = f.make(1);
    for (int i = 0; i < 5; ++i) pool.finish(must_pick(pool), false, /*counted=*/false);
    EXPECT_FALSE(pool.snapshot()[0].ejected);
    EXPECT_EQ(pool.snapshot()[0].outstanding, 0);
    EXPECT_EQ(pool.snapshot()[0].requests, 5u);
}

}  // namespace
}  // namespace citadel::ops
