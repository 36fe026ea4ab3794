// The limiter semantics of limiter.h, run against both backends (in-process and a real
// redis-server), then what only the Redis backend has: replicas sharing counts, Redis going
// away and coming back, passwords, URLs, leases and key expiry.
#include "gateway/limiter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "gateway/local_limiter.h"
#include "gateway/redis_client.h"
#include "gateway/redis_test_util.h"

namespace citadel::gateway {
namespace {

using testing::RedisTestServer;

constexpr int64_t kT0 = 1'700'000'000'000;  // 2023-11-14T22:13:20Z, on a whole second
const std::string kId = "key:test";

KeyLimits make_limits(int64_t rpm, int64_t tpm, int64_t max_concurrent, int64_t daily_tokens) {
    KeyLimits limits;
    limits.rpm = rpm;
    limits.tpm = tpm;
    limits.max_concurrent = max_concurrent;
    limits.daily_tokens = daily_tokens;
    return limits;
}

std::string header(const Admission& admission, const std::string& name) {
    for (const auto& [key, value] : admission.headers) {
        if (key == name) return value;
    }
    return "<missing>";
}

// One redis-server for the whole binary; every test keeps to its own key prefix.
RedisTestServer& shared_redis() {
    static RedisTestServer server;
    static const Status started = server.start();
    EXPECT_TRUE(started.ok()) << started.message();
    return server;
}

std::string unique_prefix() {
    static std::atomic<int> next{0};
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    return std::string("test:") + test->test_suite_name() + "." + test->name() + ":" +
           std::to_string(next++) + ":";
}

RedisLimiterOptions redis_options(const std::string& url, const std::string& prefix) {
    RedisLimiterOptions options;
    options.url = url;
    options.key_prefix = prefix;
    options.timeout_ms = 2000;  // generous: sanitizer builds on a busy machine
    return options;
}

std::unique_ptr<Limiter> must(Result<std::unique_ptr<Limiter>> made) {
    EXPECT_TRUE(made.ok()) << made.error();
    return made.ok() ? std::move(*made) : nullptr;
}

class LimiterTest : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        if (GetParam() == "local") {
            limiter_ = make_local_limiter();
        } else {
            limiter_ =
                must(make_redis_limiter(redis_options(shared_redis().url(), unique_prefix())));
        }
        ASSERT_NE(limiter_, nullptr);
    }
    Admission admit(const KeyLimits& limits, int64_t now_ms, const std::string& id = kId) {
        return limiter_->admit(id, limits, now_ms);
    }
    std::unique_ptr<Limiter> limiter_;
};

TEST_P(LimiterTest, RpmIsExactAtTheWindowEdge) {
    const KeyLimits limits = make_limits(3, 0, 0, 0);
    EXPECT_TRUE(admit(limits, kT0).ok());
    EXPECT_TRUE(admit(limits, kT0 + 10'000).ok());
    EXPECT_TRUE(admit(limits, kT0 + 20'000).ok());
    const Admission refused = admit(limits, kT0 + 59'999);
    EXPECT_EQ(refused.status, 429);
    EXPECT_EQ(refused.limit, "requests per minute");
    EXPECT_EQ(refused.retry_after_s, 1);
    EXPECT_TRUE(admit(limits, kT0 + 60'000).ok());  // the first has left the window
    const Admission again = admit(limits, kT0 + 60'001);
    EXPECT_EQ(again.status, 429);
    EXPECT_EQ(again.retry_after_s, 10);  // the one at +10 s leaves at +70 s
}

TEST_P(LimiterTest, RpmNeverAllowsTwiceTheLimitAcrossAMinuteBoundary) {
    const KeyLimits limits = make_limits(10, 0, 0, 0);
    const int64_t boundary = (kT0 / 60'000 + 1) * 60'000;  // a fixed window would reset here
    for (int i = 0; i < 10; ++i) EXPECT_TRUE(admit(limits, boundary - 10 + i).ok());
    for (int64_t t = boundary; t < boundary + 1000; t += 100) EXPECT_FALSE(admit(limits, t).ok());
    // A client asking every 250 ms for three minutes: never more than 10 in any 60 s.
    std::vector<int64_t> admitted;
    for (int64_t t = boundary + 60'000; t < boundary + 240'000; t += 250) {
        if (admit(limits, t, "key:steady").ok()) admitted.push_back(t);
    }
    ASSERT_EQ(admitted.size(), 30u);  // three full minutes' worth, no more and no less
    for (size_t i = 0; i + 10 < admitted.size(); ++i) {
        EXPECT_GE(admitted[i + 10] - admitted[i], 60'000) << "11 admissions within a minute";
    }
}

TEST_P(LimiterTest, RefusedRequestsAreNotCounted) {
    const KeyLimits limits = make_limits(2, 0, 5, 0);
    EXPECT_TRUE(admit(limits, kT0).ok());
    EXPECT_TRUE(admit(limits, kT0).ok());
    for (int i = 0; i < 50; ++i) EXPECT_EQ(admit(limits, kT0 + 1000 + i).status, 429);
    // Had the refusals counted, the log would be full and 5 slots taken.
    EXPECT_TRUE(admit(limits, kT0 + 60'000).ok());
    EXPECT_TRUE(admit(limits, kT0 + 60'000).ok());
}

TEST_P(LimiterTest, TpmAdmitsUntilUsedUpThenAgainOnceTheMinutePasses) {
    const KeyLimits limits = make_limits(0, 100, 0, 0);
    ASSERT_TRUE(admit(limits, kT0).ok());
    limiter_->charge(kId, limits, 60, kT0);
    ASSERT_TRUE(admit(limits, kT0 + 10'000).ok());    // 60 < 100
    limiter_->charge(kId, limits, 50, kT0 + 10'000);  // the request in progress runs over: 110
    const Admission refused = admit(limits, kT0 + 20'000);
    EXPECT_EQ(refused.status, 429);
    EXPECT_EQ(refused.limit, "tokens per minute");
    // The 60 charged at T0 stop counting at T0 + 61 s (1 s buckets), leaving 50 < 100.
    EXPECT_EQ(refused.retry_after_s, 41);
    EXPECT_EQ(header(refused, "x-ratelimit-remaining-tokens"), "0");
    EXPECT_EQ(admit(limits, kT0 + 60'999).status, 429);
    const Admission later = admit(limits, kT0 + 61'000);
    EXPECT_TRUE(later.ok());
    EXPECT_EQ(header(later, "x-ratelimit-remaining-tokens"), "50");
}

TEST_P(LimiterTest, DailyQuotaRefusesUntilMidnightUtc) {
    const int64_t midnight = (kT0 / kDayMs + 1) * kDayMs;
    const KeyLimits limits = make_limits(0, 0, 0, 1000);
    ASSERT_TRUE(admit(limits, midnight - 90'000).ok());
    limiter_->charge(kId, limits, 999, midnight - 90'000);
    ASSERT_TRUE(admit(limits, midnight - 90'000).ok());  // 999 < 1000
    limiter_->charge(kId, limits, 1, midnight - 90'000);
    const Admission refused = admit(limits, midnight - 90'000);
    EXPECT_EQ(refused.status, 429);
    EXPECT_EQ(refused.limit, "daily token quota");
    EXPECT_EQ(refused.retry_after_s, 90);
    // Without a tpm the token headers describe the daily quota.
    EXPECT_EQ(header(refused, "x-ratelimit-limit-tokens"), "1000");
    EXPECT_EQ(header(refused, "x-ratelimit-remaining-tokens"), "0");
    EXPECT_EQ(header(refused, "x-ratelimit-reset-tokens"), "1m30s");
    EXPECT_EQ(admit(limits, midnight - 1).retry_after_s, 1);
    const Admission next_day = admit(limits, midnight);
    EXPECT_TRUE(next_day.ok());
    EXPECT_EQ(header(next_day, "x-ratelimit-remaining-tokens"), "1000");
}

TEST_P(LimiterTest, ConcurrencySlotsAreHeldUntilReleased) {
    const KeyLimits limits = make_limits(0, 0, 2, 0);
    EXPECT_TRUE(admit(limits, kT0).ok());
    EXPECT_TRUE(admit(limits, kT0).ok());
    const Admission refused = admit(limits, kT0);
    EXPECT_EQ(refused.status, 429);
    EXPECT_EQ(refused.limit, "concurrent requests");
    EXPECT_EQ(refused.retry_after_s, 1);
    EXPECT_TRUE(refused.headers.empty());  // OpenAI has no header for concurrency
    limiter_->release(kId);
    EXPECT_TRUE(admit(limits, kT0 + 1).ok());
    EXPECT_FALSE(admit(limits, kT0 + 2).ok());
    for (int i = 0; i < 5; ++i) limiter_->release(kId);  // extra releases change nothing
    EXPECT_TRUE(admit(limits, kT0 + 3).ok());
    EXPECT_TRUE(admit(limits, kT0 + 3).ok());
    EXPECT_FALSE(admit(limits, kT0 + 3).ok());
}

TEST_P(LimiterTest, SeveralLimitsReportTheLongestWait) {
    const KeyLimits limits = make_limits(1, 100, 1, 0);
    ASSERT_TRUE(admit(limits, kT0).ok());
    EXPECT_EQ(admit(limits, kT0 + 1000).limit, "requests per minute");  // 59 s beats 1 s
    limiter_->release(kId);
    limiter_->charge(kId, limits, 100, kT0 + 1000);  // frees at T0 + 62 s
    const Admission both = admit(limits, kT0 + 2000);
    EXPECT_EQ(both.limit, "tokens per minute");
    EXPECT_EQ(both.retry_after_s, 60);

    // rpm is the longer wait: 60 tokens early, the request later, the rest after it.
    ASSERT_TRUE((limiter_->charge("key:b", limits, 60, kT0), true));
    ASSERT_TRUE(admit(limits, kT0 + 30'000, "key:b").ok());
    limiter_->release("key:b");
    limiter_->charge("key:b", limits, 40, kT0 + 30'000);
    const Admission rpm_longer = admit(limits, kT0 + 40'000, "key:b");
    EXPECT_EQ(rpm_longer.limit, "requests per minute");
    EXPECT_EQ(rpm_longer.retry_after_s, 50);

    // Equal waits: rpm (0.5 s, rounded up to 1) is named before concurrency (1 s).
    ASSERT_TRUE(admit(limits, kT0, "key:c").ok());
    const Admission tie = admit(limits, kT0 + 59'500, "key:c");
    EXPECT_EQ(tie.limit, "requests per minute");
    EXPECT_EQ(tie.retry_after_s, 1);

    // The daily quota, exhausted 90 s before midnight, outlasts a minute of rpm.
    const int64_t midnight = (kT0 / kDayMs + 1) * kDayMs;
    const KeyLimits daily = make_limits(1, 0, 0, 100);
    ASSERT_TRUE(admit(daily, midnight - 90'000, "key:d").ok());
    limiter_->charge("key:d", daily, 100, midnight - 90'000);
    const Admission day = admit(daily, midnight - 89'000, "key:d");
    EXPECT_EQ(day.limit, "daily token quota");
    EXPECT_EQ(day.retry_after_s, 89);
}

TEST_P(LimiterTest, HeadersFollowOpenAi) {
    const KeyLimits limits = make_limits(5, 1000, 0, 0);
    const Admission first = admit(limits, kT0);
    ASSERT_TRUE(first.ok());
    EXPECT_EQ(header(first, "x-ratelimit-limit-requests"), "5");
    EXPECT_EQ(header(first, "x-ratelimit-remaining-requests"), "4");
    EXPECT_EQ(header(first, "x-ratelimit-reset-requests"), "1m0s");
    EXPECT_EQ(header(first, "x-ratelimit-limit-tokens"), "1000");
    EXPECT_EQ(header(first, "x-ratelimit-remaining-tokens"), "1000");
    EXPECT_EQ(header(first, "x-ratelimit-reset-tokens"), "0s");
    EXPECT_EQ(first.headers.size(), 6u);
    limiter_->charge(kId, limits, 250, kT0 + 500);
    const Admission second = admit(limits, kT0 + 1500);
    EXPECT_EQ(header(second, "x-ratelimit-remaining-requests"), "3");
    EXPECT_EQ(header(second, "x-ratelimit-remaining-tokens"), "750");
    EXPECT_EQ(header(second, "x-ratelimit-reset-tokens"), "59.5s");  // bucket T0 ends T0+61 s
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(admit(limits, kT0 + 2000 + 1000 * i).ok());
    const Admission refused = admit(limits, kT0 + 5000);
    EXPECT_EQ(refused.status, 429);
    EXPECT_EQ(header(refused, "x-ratelimit-remaining-requests"), "0");
    EXPECT_EQ(header(refused, "x-ratelimit-reset-requests"), "59s");  // the newest, at T0+4 s
    EXPECT_EQ(header(refused, "x-ratelimit-limit-tokens"), "1000");
}

TEST_P(LimiterTest, UnlimitedIdentitiesAreNeverRefusedAndGetNoHeaders) {
    const KeyLimits unlimited;
    for (int i = 0; i < 200; ++i) {
        const Admission admission = admit(unlimited, kT0);
        ASSERT_TRUE(admission.ok());
        EXPECT_TRUE(admission.headers.empty());
        limiter_->charge(kId, unlimited, 1'000'000, kT0);
    }
    for (int i = 0; i < 200; ++i) limiter_->release(kId);
}

TEST_P(LimiterTest, NegativeLimitsMeanUnlimited) {
    const KeyLimits negative = make_limits(-1, -5, -1, -100);
    for (int i = 0; i < 20; ++i) {
        ASSERT_TRUE(admit(negative, kT0).ok());
        limiter_->charge(kId, negative, 100, kT0);
    }
    // Mixed: the positive limit applies, the negative one does not.
    const KeyLimits mixed = make_limits(2, -1, -1, 0);
    EXPECT_TRUE(admit(mixed, kT0, "key:mixed").ok());
    EXPECT_TRUE(admit(mixed, kT0, "key:mixed").ok());
    EXPECT_EQ(admit(mixed, kT0, "key:mixed").limit, "requests per minute");
}

TEST_P(LimiterTest, IdentitiesAreIndependent) {
    const KeyLimits limits = make_limits(1, 10, 0, 0);
    EXPECT_TRUE(admit(limits, kT0, "key:a").ok());
    EXPECT_TRUE(admit(limits, kT0, "key:b").ok());
    EXPECT_FALSE(admit(limits, kT0 + 1, "key:a").ok());
    limiter_->charge("key:a", limits, 10, kT0 + 1);
    const Admission b_later = admit(limits, kT0 + 60'000, "key:b");
    EXPECT_TRUE(b_later.ok());
    EXPECT_EQ(header(b_later, "x-ratelimit-remaining-tokens"), "10");
    EXPECT_EQ(admit(limits, kT0 + 60'000, "key:a").limit, "tokens per minute");
}

TEST_P(LimiterTest, ThreadsHammeringOneIdentityGetExactlyTheLimit) {
    const KeyLimits limits = make_limits(50, 0, 0, 0);
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 20; ++i) admitted += admit(limits, kT0 + i).ok() ? 1 : 0;
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(admitted.load(), 50);
}

INSTANTIATE_TEST_SUITE_P(Backends, LimiterTest, ::testing::Values("local", "redis"),
                         [](const auto& info) { return info.param; });

TEST(FormatResetDuration, WritesGoStyleDurations) {
    EXPECT_EQ(format_reset_duration(0), "0s");
    EXPECT_EQ(format_reset_duration(-5), "0s");
    EXPECT_EQ(format_reset_duration(250), "250ms");
    EXPECT_EQ(format_reset_duration(6000), "6s");
    EXPECT_EQ(format_reset_duration(59'500), "59.5s");
    EXPECT_EQ(format_reset_duration(60'000), "1m0s");
    EXPECT_EQ(format_reset_duration(61'001), "1m1.001s");
    EXPECT_EQ(format_reset_duration(3'723'000), "1h2m3s");
}

TEST(UtcDay, MidnightIsAWholeNumberOfDays) {
    EXPECT_EQ(utc_day(0), 0);
    EXPECT_EQ(utc_day(kDayMs - 1), 0);
    EXPECT_EQ(utc_day(kDayMs), 1);
    EXPECT_EQ(utc_day(-1), -1);
    EXPECT_EQ(ms_until_utc_midnight(kDayMs - 1), 1);
    EXPECT_EQ(ms_until_utc_midnight(kDayMs), kDayMs);
}

TEST(LocalLimiter, DescribesItself) {
    EXPECT_EQ(make_local_limiter()->describe(), "in-process");
}

TEST(LocalLimiter, ForgetsIdentitiesOnceNothingCounts) {
    LocalLimiter limiter;
    const KeyLimits rpm = make_limits(5, 0, 0, 0);
    const KeyLimits daily = make_limits(0, 0, 0, 1000);
    for (int i = 0; i < 1000; ++i)
        ASSERT_TRUE(limiter.admit("old:" + std::to_string(i), rpm, kT0).ok());
    limiter.charge("quota", daily, 10, kT0);  // today's tokens must outlive the minute
    EXPECT_EQ(limiter.identities_tracked(), 1001u);
    // Two minutes on, 400 newcomers reach every shard (16; a miss has odds of about 1e-10).
    for (int i = 0; i < 400; ++i)
        ASSERT_TRUE(limiter.admit("new:" + std::to_string(i), rpm, kT0 + 120'000).ok());
    EXPECT_EQ(limiter.identities_tracked(), 401u);
    EXPECT_EQ(header(limiter.admit("quota", daily, kT0 + 120'000), "x-ratelimit-remaining-tokens"),
              "990");
}

// ---- Redis only ----------------------------------------------------------------------------

TEST(ParseRedisUrl, ReadsEveryPart) {
    auto full = parse_redis_url("redis://alice:p%40ss@example.com:6380/2");
    ASSERT_TRUE(full.ok()) << full.error();
    EXPECT_EQ(full->username, "alice");
    EXPECT_EQ(full->password, "p@ss");
    EXPECT_EQ(full->host, "example.com");
    EXPECT_EQ(full->port, 6380);
    EXPECT_EQ(full->db, 2);
    EXPECT_EQ(full->describe(), "redis://example.com:6380/2");
    auto bare = parse_redis_url("redis://localhost");
    ASSERT_TRUE(bare.ok());
    EXPECT_EQ(bare->port, 6379);
    EXPECT_EQ(bare->db, 0);
    EXPECT_TRUE(bare->password.empty());
    auto ipv6 = parse_redis_url("redis://:pw@[::1]:7000/");
    ASSERT_TRUE(ipv6.ok()) << ipv6.error();
    EXPECT_EQ(ipv6->host, "::1");
    EXPECT_EQ(ipv6->password, "pw");
    EXPECT_EQ(ipv6->describe(), "redis://[::1]:7000/0");
}

TEST(ParseRedisUrl, BadUrlsAreErrorsThatHideThePassword) {
    for (const char* url : {"", "http://localhost", "rediss://localhost", "redis://",
                            "redis://:6379", "redis://host:0", "redis://host:65536",
                            "redis://host:port", "redis://host/db", "redis://host:6379/1?timeout=3",
                            "redis://[::1", "redis://user@host", "redis://:hunter2@host:x"}) {
        auto parsed = parse_redis_url(url);
        ASSERT_FALSE(parsed.ok()) << url;
        EXPECT_NE(parsed.error().find("invalid Redis URL"), std::string::npos) << parsed.error();
        EXPECT_EQ(parsed.error().find("hunter2"), std::string::npos) << parsed.error();
    }
}

TEST(RedisLimiter, ConnectErrorsNameTheUrlAndTheReason) {
    auto bad = make_redis_limiter(redis_options("redis://localhost:notaport", "x:"));
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("redis://localhost:notaport"), std::string::npos) << bad.error();
    const int port = testing::free_loopback_port();
    auto nobody =
        make_redis_limiter(redis_options("redis://127.0.0.1:" + std::to_string(port), "x:"));
    ASSERT_FALSE(nobody.ok());
    EXPECT_NE(nobody.error().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << nobody.error();
    EXPECT_NE(nobody.error().find("refused"), std::string::npos) << nobody.error();
    RedisLimiterOptions zero_pool = redis_options(shared_redis().url(), "x:");
    zero_pool.pool_size = 0;
    EXPECT_FALSE(make_redis_limiter(zero_pool).ok());
}

TEST(RedisLimiter, DescribesItsUrlWithoutThePassword) {
    RedisTestServer server("s3cret");
    ASSERT_TRUE(server.start().ok());
    auto limiter = must(make_redis_limiter(redis_options(server.url(), "x:")));
    ASSERT_NE(limiter, nullptr);
    EXPECT_EQ(limiter->describe(), server.url_without_password());
}

TEST(RedisLimiter, TwoReplicasShareCountsExactly) {
    const std::string prefix = unique_prefix();
    auto a = must(make_redis_limiter(redis_options(shared_redis().url(), prefix)));
    auto b = must(make_redis_limiter(redis_options(shared_redis().url(), prefix)));
    ASSERT_TRUE(a && b);
    const KeyLimits rpm = make_limits(10, 0, 0, 0);
    const KeyLimits slots = make_limits(0, 0, 3, 0);
    std::atomic<int> admitted{0};
    std::atomic<int> held_by_a{0}, held_by_b{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        Limiter* replica = t % 2 ? a.get() : b.get();
        std::atomic<int>& held = t % 2 ? held_by_a : held_by_b;
        threads.emplace_back([&, replica] {
            for (int i = 0; i < 25; ++i) {
                admitted += replica->admit(kId, rpm, kT0 + i).ok() ? 1 : 0;
                held += replica->admit("key:slots", slots, kT0 + i).ok() ? 1 : 0;
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(admitted.load(), 10);
    EXPECT_EQ(held_by_a + held_by_b, 3);
    // A slot freed on one replica can be taken on the other.
    Limiter* holder = held_by_a > 0 ? a.get() : b.get();
    Limiter* other = holder == a.get() ? b.get() : a.get();
    EXPECT_FALSE(other->admit("key:slots", slots, kT0 + 100).ok());
    holder->release("key:slots");
    EXPECT_TRUE(other->admit("key:slots", slots, kT0 + 100).ok());
}

// Polls (not sleeps-as-synchronisation): the pool reconnects on its own, within its backoff.
bool admitted_within(Limiter& limiter, const KeyLimits& limits, int64_t now_ms,
                     std::chrono::milliseconds patience) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (std::chrono::steady_clock::now() < deadline) {
        if (limiter.admit("key:poll", limits, now_ms).ok()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

TEST(RedisLimiter, RedisDownFailsClosedOrOpenAndRecovers) {
    RedisTestServer server;
    ASSERT_TRUE(server.start().ok());
    RedisLimiterOptions options = redis_options(server.url(), "x:");
    options.timeout_ms = 250;
    auto closed = must(make_redis_limiter(options));
    options.fail_open = true;
    auto open = must(make_redis_limiter(options));
    ASSERT_TRUE(closed && open);
    const KeyLimits limits = make_limits(2, 0, 1, 0);
    ASSERT_TRUE(closed->admit(kId, limits, kT0).ok());
    ASSERT_TRUE(open->admit("key:open", limits, kT0).ok());

    server.stop();
    const Admission refused = closed->admit("key:other", limits, kT0);
    EXPECT_EQ(refused.status, 503);
    EXPECT_EQ(refused.limit, "rate limiter unavailable");
    EXPECT_EQ(refused.retry_after_s, 1);
    const Admission waved_through = open->admit("key:other", limits, kT0);
    EXPECT_TRUE(waved_through.ok());
    EXPECT_TRUE(waved_through.headers.empty());
    EXPECT_TRUE(closed->admit(kId, KeyLimits{}, kT0).ok());  // no limits: Redis not needed
    closed->charge(kId, make_limits(0, 10, 0, 10), 5, kT0);  // lost, logged, no crash
    closed->release(kId);
    open->release("key:open");

    ASSERT_TRUE(server.start().ok());  // same port, empty (no persistence)
    EXPECT_TRUE(admitted_within(*closed, limits, kT0 + 1, std::chrono::seconds(5)));
    closed->release("key:poll");
    EXPECT_TRUE(closed->admit("key:after", limits, kT0 + 2).ok());
    closed->release("key:after");
    EXPECT_TRUE(closed->admit("key:after", limits, kT0 + 3).ok());
    closed->release("key:after");
    EXPECT_EQ(closed->admit("key:after", limits, kT0 + 4).limit, "requests per minute");
}

TEST(RedisLimiter, PasswordProtectedRedis) {
    RedisTestServer server("s3cret");
    ASSERT_TRUE(server.start().ok());
    auto without = make_redis_limiter(redis_options(server.url_without_password(), "x:"));
    ASSERT_FALSE(without.ok());
    EXPECT_NE(without.error().find(server.url_without_password()), std::string::npos)
        << without.error();
    EXPECT_NE(without.error().find("NOAUTH"), std::string::npos) << without.error();
    const std::string wrong =
        "redis://:wrongpass@127.0.0.1:" + std::to_string(server.port()) + "/0";
    auto refused = make_redis_limiter(redis_options(wrong, "x:"));
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.error().find("AUTH"), std::string::npos) << refused.error();
    EXPECT_EQ(refused.error().find("wrongpass"), std::string::npos) << refused.error();
    auto with = must(make_redis_limiter(redis_options(server.url(), "x:")));
    ASSERT_NE(with, nullptr);
    EXPECT_TRUE(with->admit(kId, make_limits(1, 0, 0, 0), kT0).ok());
    EXPECT_FALSE(with->admit(kId, make_limits(1, 0, 0, 0), kT0).ok());
}

TEST(RedisLimiter, LeasesOfACrashedReplicaLapse) {
    const std::string prefix = unique_prefix();
    RedisLimiterOptions options = redis_options(shared_redis().url(), prefix);
    options.lease_ttl_s = 2;
    auto crashed = must(make_redis_limiter(options));
    auto survivor = must(make_redis_limiter(options));
    ASSERT_TRUE(crashed && survivor);
    const KeyLimits one = make_limits(0, 0, 1, 0);
    ASSERT_TRUE(crashed->admit(kId, one, kT0).ok());  // and never released
    EXPECT_FALSE(survivor->admit(kId, one, kT0 + 1999).ok());
    EXPECT_TRUE(survivor->admit(kId, one, kT0 + 2000).ok());

    // charge() renews the leases of requests still streaming.
    ASSERT_TRUE(crashed->admit("key:streaming", one, kT0).ok());
    crashed->charge("key:streaming", one, 1, kT0 + 1500);  // lease now ends at T0 + 3.5 s
    EXPECT_FALSE(survivor->admit("key:streaming", one, kT0 + 2500).ok());
    EXPECT_TRUE(survivor->admit("key:streaming", one, kT0 + 3500).ok());
}

TEST(RedisLimiter, EveryKeyExpiresOnItsOwn) {
    const std::string prefix = unique_prefix();
    RedisLimiterOptions options = redis_options(shared_redis().url(), prefix);
    options.lease_ttl_s = 30;
    auto limiter = must(make_redis_limiter(options));
    ASSERT_NE(limiter, nullptr);
    const KeyLimits all = make_limits(10, 1000, 2, 100'000);
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    ASSERT_TRUE(limiter->admit(kId, all, now).ok());
    limiter->charge(kId, all, 10, now);
    auto keys = shared_redis().command({"KEYS", prefix + "*"});
    ASSERT_TRUE(keys.ok()) << keys.error();
    ASSERT_EQ(keys->elements.size(), 4u);  // rpm, tpm, day, leases
    for (const auto& key : keys->elements) {
        auto ttl = shared_redis().command({"PTTL", key.text});
        ASSERT_TRUE(ttl.ok());
        EXPECT_GT(ttl->integer, 0) << key.text;
        EXPECT_LE(ttl->integer, 25 * 3'600'000) << key.text;
    }
}

TEST(RedisLimiter, ScriptsAreReloadedAfterAFlush) {
    auto limiter = must(make_redis_limiter(redis_options(shared_redis().url(), unique_prefix())));
    ASSERT_NE(limiter, nullptr);
    ASSERT_TRUE(shared_redis().command({"SCRIPT", "FLUSH"}).ok());
    EXPECT_TRUE(limiter->admit(kId, make_limits(5, 0, 0, 0), kT0).ok());
    limiter->charge(kId, make_limits(0, 5, 0, 0), 5, kT0);
    EXPECT_FALSE(limiter->admit(kId, make_limits(0, 5, 0, 0), kT0).ok());
}

TEST(RedisLimiter, UsesTheDatabaseInTheUrl) {
    const std::string prefix = unique_prefix();
    auto limiter = must(make_redis_limiter(redis_options(shared_redis().url(3), prefix)));
    ASSERT_NE(limiter, nullptr);
    ASSERT_TRUE(limiter->admit(kId, make_limits(5, 0, 0, 0), kT0).ok());
    auto in_db3 = shared_redis().command({"KEYS", prefix + "*"}, 3);
    auto in_db0 = shared_redis().command({"KEYS", prefix + "*"}, 0);
    ASSERT_TRUE(in_db3.ok() && in_db0.ok());
    EXPECT_EQ(in_db3->elements.size(), 1u);
    EXPECT_EQ(in_db0->elements.size(), 0u);
}

// Measures admit + release; run by hand:
//   ./build/citadel_gateway_tests --gtest_also_run_disabled_tests --gtest_filter='*Latency*'
void report_latency(const char* name, Limiter& limiter) {
    const KeyLimits limits = make_limits(1'000'000, 1'000'000, 1000, 0);
    std::vector<double> micros;
    for (int i = 0; i < 3000; ++i) {
        const auto start = std::chrono::steady_clock::now();
        const bool ok = limiter.admit(kId, limits, kT0 + i).ok();
        limiter.release(kId);
        micros.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count());
        ASSERT_TRUE(ok);
    }
    std::sort(micros.begin(), micros.end());
    std::printf("%s admit+release: median %.1f us, p99 %.1f us (%zu runs)\n", name,
                micros[micros.size() / 2], micros[micros.size() * 99 / 100], micros.size());
}

TEST(LimiterLatency, DISABLED_AdmitPlusRelease) {
    report_latency("in-process", *make_local_limiter());
    auto redis = must(make_redis_limiter(redis_options(shared_redis().url(), unique_prefix())));
    ASSERT_NE(redis, nullptr);
    report_latency("redis (loopback)", *redis);
}

}  // namespace
}  // namespace citadel::gateway
