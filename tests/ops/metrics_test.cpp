// The metrics registry and its text exposition: the table's invariants, counters, gauges and
// histograms with labels, escaping, concurrent updates, and `promtool check metrics` on a
// registry where every metric has a series.
#include "ops/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <thread>

namespace citadel::ops {
namespace {

bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
        if (l == line) return true;
    }
    return false;
}

// [a-zA-Z_:][a-zA-Z0-9_:]* for metric names; without ':' for label names. (No std::regex:
// GCC 12 warns falsely inside it under the sanitizers at -O2.)
bool valid_name(std::string_view s, bool colon) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
    for (unsigned char c : s) {
        if (!std::isalnum(c) && c != '_' && !(colon && c == ':')) return false;
    }
    return true;
}

TEST(MetricTable, IsInEnumOrderWithValidUniqueNames) {
    const auto& t = metric_table();
    ASSERT_EQ(t.size(), size_t(Metric::kCount));
    EXPECT_FALSE(valid_name("9x", true));
    EXPECT_FALSE(valid_name("a:b", false));
    EXPECT_FALSE(valid_name("a-b", true));
    std::set<std::string> names;
    for (size_t i = 0; i < t.size(); ++i) {
        const MetricDef& d = t[i];
        EXPECT_EQ(size_t(d.id), i) << d.name;
        EXPECT_TRUE(valid_name(d.name, true)) << d.name;
        EXPECT_TRUE(names.insert(d.name).second) << "duplicate " << d.name;
        EXPECT_EQ(d.kind == MetricKind::kCounter, std::string(d.name).ends_with("_total"))
            << d.name << ": counters and only counters end in _total";
        EXPECT_EQ(d.kind == MetricKind::kHistogram, !d.buckets.empty()) << d.name;
        for (size_t b = 1; b < d.buckets.size(); ++b)
            EXPECT_LT(d.buckets[b - 1], d.buckets[b]) << d.name;
        for (const std::string& l : d.labels) {
            EXPECT_TRUE(valid_name(l, false)) << d.name << " " << l;
            EXPECT_NE(l, "le");
        }
    }
}

TEST(Metrics, ExposesHelpAndTypeForEveryMetric) {
    Metrics m;
    const std::string out = m.expose();
    for (const MetricDef& d : metric_table()) {
        EXPECT_NE(out.find(std::string("# HELP ") + d.name + " "), std::string::npos) << d.name;
        EXPECT_NE(out.find(std::string("# TYPE ") + d.name + " "), std::string::npos) << d.name;
    }
    EXPECT_TRUE(has_line(out, "# TYPE citadel:request_success_total counter"));
    EXPECT_TRUE(has_line(out, "# TYPE citadel:num_requests_running gauge"));
    EXPECT_TRUE(has_line(out, "# TYPE citadel:time_to_first_token_seconds histogram"));
    // The start time is set at construction.
    EXPECT_NE(out.find("\nprocess_start_time_seconds "), std::string::npos);
}

TEST(Metrics, CountersAndGaugesWithLabels) {
    Metrics m;
    m.add(Metric::kRequestSuccess, {"qwen", "stop"});
    m.add(Metric::kRequestSuccess, {"qwen", "stop"}, 2);
    m.add(Metric::kRequestSuccess, {"qwen", "length"});
    m.set(Metric::kRequestsRunning, {"qwen"}, 3);
    m.set(Metric::kRequestsRunning, {"qwen"}, 1);
    m.set(Metric::kKvCacheUsage, {"qwen"}, 0.25);
    const std::string out = m.expose();
    EXPECT_TRUE(has_line(
        out, "citadel:request_success_total{model_name=\"qwen\",finished_reason=\"stop\"} 3"))
        << out;
    EXPECT_TRUE(has_line(
        out, "citadel:request_success_total{model_name=\"qwen\",finished_reason=\"length\"} 1"));
    EXPECT_TRUE(has_line(out, "citadel:num_requests_running{model_name=\"qwen\"} 1"));
    EXPECT_TRUE(has_line(out, "citadel:kv_cache_usage_perc{model_name=\"qwen\"} 0.25"));
    EXPECT_EQ(m.series(Metric::kRequestSuccess, {"qwen", "stop"}).value(), 3);
}

TEST(Metrics, SeriesAreStableAndDistinctPerLabelSet) {
    Metrics m;
    Series& a = m.series(Metric::kGatewayDenied, {"invalid_api_key"});
    for (int i = 0; i < 100; ++i) m.add(Metric::kGatewayDenied, {std::to_string(i)});
    EXPECT_EQ(&a, &m.series(Metric::kGatewayDenied, {"invalid_api_key"}));
    EXPECT_NE(&a, &m.series(Metric::kGatewayDenied, {"missing_api_key"}));
    EXPECT_NE(&a, &m.series(Metric::kGatewayRateLimited, {"invalid_api_key"}));
}

TEST(Metrics, WrongLabelCountAborts) {
    Metrics m;
    EXPECT_DEATH(m.add(Metric::kRequestSuccess, {"only-the-model"}), "takes 2 labels, given 1");
}

TEST(Metrics, EscapesLabelValuesAndHelp) {
    EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    EXPECT_EQ(escape_label_value("plain/é"), "plain/é");
    Metrics m;
    m.add(Metric::kGuardActions, {"pii.input", "redact", "we\"ird\\\n"});
    EXPECT_TRUE(has_line(m.expose(),
                         "citadel:guard_actions_total{guard=\"pii.input\",action=\"redact\","
                         "type=\"we\\\"ird\\\\\\n\"} 1"));
}

TEST(Metrics, FormatsValues) {
    EXPECT_EQ(format_value(0), "0");
    EXPECT_EQ(format_value(42), "42");
    EXPECT_EQ(format_value(0.005), "0.005");
    EXPECT_EQ(format_value(1e21), "1e+21");
    EXPECT_EQ(format_value(std::numeric_limits<double>::infinity()), "+Inf");
    EXPECT_EQ(format_value(-std::numeric_limits<double>::infinity()), "-Inf");
    EXPECT_EQ(format_value(std::nan("")), "NaN");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInclusiveBounds) {
    Metrics m;
    // Request buckets start 0.3, 0.5, 0.8, ... 7680.
    m.observe(Metric::kE2eLatency, {"qwen"}, 0.1);
    m.observe(Metric::kE2eLatency, {"qwen"}, 0.3);  // on a bound: counts in le="0.3"
    m.observe(Metric::kE2eLatency, {"qwen"}, 0.6);
    m.observe(Metric::kE2eLatency, {"qwen"}, 10000);  // above every bound: +Inf only
    const std::string out = m.expose();
    const std::string n = "citadel:e2e_request_latency_seconds";
    EXPECT_TRUE(has_line(out, n + "_bucket{model_name=\"qwen\",le=\"0.3\"} 2")) << out;
    EXPECT_TRUE(has_line(out, n + "_bucket{model_name=\"qwen\",le=\"0.5\"} 2"));
    EXPECT_TRUE(has_line(out, n + "_bucket{model_name=\"qwen\",le=\"0.8\"} 3"));
    EXPECT_TRUE(has_line(out, n + "_bucket{model_name=\"qwen\",le=\"7680\"} 3"));
    EXPECT_TRUE(has_line(out, n + "_bucket{model_name=\"qwen\",le=\"+Inf\"} 4"));
    EXPECT_TRUE(has_line(out, n + "_sum{model_name=\"qwen\"} 10001"));
    EXPECT_TRUE(has_line(out, n + "_count{model_name=\"qwen\"} 4"));
    const Series::Snapshot s = m.series(Metric::kE2eLatency, {"qwen"}).histogram();
    EXPECT_EQ(s.count, 4u);
    EXPECT_EQ(s.cumulative.size(), metric_table()[size_t(Metric::kE2eLatency)].buckets.size() + 1);
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
    Metrics m;
    constexpr int kThreads = 4, kEach = 20000;
    // (Built up front: GCC 12 at -O3 warns falsely on "r" + std::to_string(i) here.)
    const std::vector<std::string> reasons = {"r0", "r1", "r2", "r3", "r4", "r5", "r6"};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&m, &reasons, t] {
            Series& itl = m.series(Metric::kInterTokenLatency, {"qwen"});
            for (int i = 0; i < kEach; ++i) {
                m.add(Metric::kHttpRequests, {"/v1/chat/completions", "POST", "200"});
                m.add(Metric::kGatewayDenied, {reasons[size_t(i % 7)]});  // new series race
                itl.observe(0.001 * (t + 1));
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(m.series(Metric::kHttpRequests, {"/v1/chat/completions", "POST", "200"}).value(),
              double(kThreads * kEach));
    double denied = 0;
    for (const std::string& r : reasons) denied += m.series(Metric::kGatewayDenied, {r}).value();
    EXPECT_EQ(denied, double(kThreads * kEach));
    const Series::Snapshot s = m.series(Metric::kInterTokenLatency, {"qwen"}).histogram();
    EXPECT_EQ(s.count, uint64_t(kThreads * kEach));
    EXPECT_EQ(s.cumulative.front(), s.count);  // every value is within the first bound (0.01)
}

TEST(Metrics, SamplesTheProcess) {
    Metrics m;
    m.sample_process();
    EXPECT_GT(m.series(Metric::kProcessResidentMemory, {}).value(), 1e6);
    EXPECT_GE(m.series(Metric::kProcessCpuSeconds, {}).value(), 0);
    const double start = m.series(Metric::kProcessStartTime, {}).value();
    EXPECT_GT(start, 1.7e9);  // after 2023: a Unix time in seconds, not milliseconds
    EXPECT_LT(start, 1e10);
}

// promtool's verdict on `text`: its exit code and what it printed.
std::pair<int, std::string> promtool_check(const std::string& text) {
    char path[] = "/tmp/citadel_metrics_XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) return {-1, "mkstemp failed"};
    ::close(fd);
    std::ofstream(path) << text;
    const std::string out_path = std::string(path) + ".out";
    const std::string cmd =
        std::string("promtool check metrics < ") + path + " > " + out_path + " 2>&1";
    const int rc = std::system(cmd.c_str());
    std::ifstream in(out_path);
    std::stringstream ss;
    ss << in.rdbuf();
    std::remove(path);
    std::remove(out_path.c_str());
    return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, ss.str()};
}

// promtool lints "metric names should not contain ':'" (exit 3): vLLM's names, which this
// server keeps on purpose, all do. Every other finding, and any parse error (exit 1), fails.
TEST(Metrics, PassesPromtoolCheckMetrics) {
    ASSERT_EQ(std::system("command -v promtool > /dev/null"), 0)
        << "promtool is missing: install Debian's 'prometheus' package (scripts/bootstrap.sh)";
    Metrics m;
    for (const MetricDef& d : metric_table()) {
        std::vector<std::string> labels(d.labels.size(), "x\"y\\z");
        Series& s = m.series(d.id, labels);
        if (d.kind == MetricKind::kHistogram)
            s.observe(0.5);
        else
            s.add(2);
    }
    m.sample_process();
    const auto [rc, out] = promtool_check(m.expose());
    ASSERT_TRUE(rc == 0 || rc == 3) << "promtool exit " << rc << ":\n" << out;
    std::istringstream lines(out);
    for (std::string l; std::getline(lines, l);) {
        if (l.empty()) continue;
        EXPECT_NE(l.find("metric names should not contain ':'"), std::string::npos)
            << "promtool: " << l;
    }
}

}  // namespace
}  // namespace citadel::ops
