#include "loadgen/report.h"

#include <gtest/gtest.h>

namespace citadel::loadgen {
namespace {

RequestRecord done(double ttft, double e2e, int64_t out, std::vector<double> itl = {}) {
    return {.ok = true,
            .http_status = 200,
            .ttft_ms = ttft,
            .e2e_ms = e2e,
            .itl_ms = std::move(itl),
            .content_chunks = out,
            .output_tokens = out,
            .prompt_tokens = 10,
            .usage_reported = true};
}

RequestRecord failed(const std::string& why) {
    return {.ok = false, .error = why};
}

TEST(LoadgenReport, CountsThroughputAndLatencies) {
    RunResult run;
    run.duration_s = 2;
    run.records = {done(100, 1000, 10, {100, 100}), done(200, 2000, 19), failed("HTTP 500: boom"),
                   failed("HTTP 500: boom"), failed("cut")};
    const Report r = make_report(run, {});
    EXPECT_EQ(r.completed, 2);
    EXPECT_EQ(r.failed, 3);
    ASSERT_EQ(r.errors.size(), 2u);
    EXPECT_EQ(r.errors[0].message, "HTTP 500: boom");
    EXPECT_EQ(r.errors[0].count, 2);
    EXPECT_EQ(r.output_tokens, 29);
    EXPECT_EQ(r.prompt_tokens, 20);
    EXPECT_DOUBLE_EQ(r.request_throughput, 1);
    EXPECT_DOUBLE_EQ(r.output_throughput, 14.5);
    EXPECT_DOUBLE_EQ(r.total_throughput, 24.5);
    EXPECT_DOUBLE_EQ(r.ttft_ms.mean, 150);
    // TPOT = (e2e - ttft) / (out - 1): 900/9 = 100 and 1800/18 = 100.
    EXPECT_DOUBLE_EQ(r.tpot_ms.mean, 100);
    EXPECT_EQ(r.itl_ms.count, 2u);
    EXPECT_DOUBLE_EQ(r.e2e_ms.median, 1500);
    EXPECT_FALSE(r.has_goodput);
    EXPECT_TRUE(r.usage_from_server);
}

TEST(LoadgenReport, OneTokenAnswersHaveNoTpot) {
    RunResult run;
    run.duration_s = 1;
    run.records = {done(50, 50, 1)};
    const Report r = make_report(run, {});
    EXPECT_EQ(r.tpot_ms.count, 0u);
    EXPECT_EQ(r.ttft_ms.count, 1u);
}

TEST(LoadgenReport, GoodputCountsRequestsMeetingEverySlo) {
    RunResult run;
    run.duration_s = 4;
    run.records = {done(100, 1000, 10), done(300, 1200, 10), done(100, 5000, 10), failed("x")};
    EXPECT_DOUBLE_EQ(make_report(run, {.ttft_ms = 200}).goodput, 0.5);
    EXPECT_DOUBLE_EQ(make_report(run, {.ttft_ms = 200, .e2e_ms = 2000}).goodput, 0.25);
    // TPOT: 100, 100, 544 ms.
    const Report r = make_report(run, {.tpot_ms = 150});
    EXPECT_TRUE(r.has_goodput);
    EXPECT_EQ(r.good_requests, 2);
    EXPECT_EQ(to_json(r)["goodput"], 0.5);
}

TEST(LoadgenReport, WithoutUsageTheFlagSaysSo) {
    RunResult run;
    run.duration_s = 1;
    RequestRecord r = done(10, 100, 5);
    r.usage_reported = false;
    r.prompt_tokens = -1;
    run.records = {r};
    const Report rep = make_report(run, {});
    EXPECT_FALSE(rep.usage_from_server);
    EXPECT_EQ(rep.prompt_tokens, 0);
}

TEST(LoadgenReport, TableHasARatioColumnForTwo) {
    RunResult a, b;
    a.duration_s = b.duration_s = 1;
    a.records = {done(100, 1000, 10)};
    b.records = {done(50, 500, 10)};
    const std::string t = format_table({{"A", make_report(a, {})}, {"B", make_report(b, {})}});
    EXPECT_NE(t.find("B/A"), std::string::npos);
    EXPECT_NE(t.find("TTFT p99 (ms)"), std::string::npos);
    EXPECT_NE(t.find("0.500x"), std::string::npos);
    EXPECT_DOUBLE_EQ(report_value(make_report(b, {}), "ttft_ms.p99"), 50);
    EXPECT_EQ(report_value(make_report(b, {}), "no.such"), 0);
}

}  // namespace
}  // namespace citadel::loadgen
