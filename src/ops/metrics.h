// The Prometheus metrics of `citadel serve`: every metric is declared once, in the table in
// metrics.cpp (name, type, help, labels, buckets), which both creates the series and drives
// the text exposition (format 0.0.4) that GET /metrics serves. Names follow vLLM's
// (`citadel:` instead of `vllm:`) so dashboards and autoscalers built for it work.
//
// Ownership: one Metrics object, owned by `citadel serve` and passed by pointer to what
// records (the HTTP service, generation jobs); no process-wide state.
// Threads: everything is thread-safe. Recording into a Series is lock-free (atomics); finding
// a series takes its family's reader lock (a writer lock only the first time a label set is
// seen), so hot paths look a series up once and keep the pointer (it lives as long as the
// Metrics).
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace citadel::ops {

enum class MetricKind { kCounter, kGauge, kHistogram };

// Every metric, in the order of the table in metrics.cpp.
enum class Metric : uint8_t {
    kRequestsRunning,
    kRequestsWaiting,
    kRequestSuccess,
    kPromptTokens,
    kGenerationTokens,
    kKvCacheUsage,
    kPrefixCacheQueries,
    kPrefixCacheHits,
    kPreemptions,
    kTimeToFirstToken,
    kInterTokenLatency,
    kE2eLatency,
    kQueueTime,
    kPrefillTime,
    kDecodeTime,
    kHttpRequests,
    kGatewayDenied,
    kGatewayRateLimited,
    kGuardActions,
    kModelLoadSeconds,
    kModelsLoaded,
    kReady,
    kUpstreamUp,
    kUpstreamOutstanding,
    kUpstreamRequests,
    kUpstreamCircuitOpen,
    kProcessResidentMemory,
    kProcessCpuSeconds,
    kProcessStartTime,
    kCount
};

struct MetricDef {
    Metric id;
    const char* name;
    MetricKind kind;
    const char* help;
    std::vector<std::string> labels;  // names, in the order values are given
    std::span<const double> buckets;  // histograms: upper bounds, increasing (+Inf implied)
};

// The one list of metrics, indexed by Metric.
const std::vector<MetricDef>& metric_table();

// One labelled series. Counters and gauges use add()/set(); histograms observe().
class Series {
  public:
    explicit Series(std::span<const double> bounds);  // bounds: histograms' (else empty)
    void add(double delta = 1) { value_.fetch_add(delta, std::memory_order_relaxed); }
    void set(double value) { value_.store(value, std::memory_order_relaxed); }
    void observe(double value);
    double value() const { return value_.load(std::memory_order_relaxed); }

    struct Snapshot {
        std::vector<uint64_t> cumulative;  // [n_buckets + 1] the last is +Inf
        double sum = 0;
        uint64_t count = 0;
    };
    Snapshot histogram() const;

  private:
    std::atomic<double> value_{0};                      // counter/gauge value; histogram sum
    std::span<const double> bounds_;                    // [n_buckets] upper bounds
    std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // [n_buckets + 1] non-cumulative
};

class Metrics {
  public:
    Metrics();
    ~Metrics();
    Metrics(const Metrics&) = delete;
    Metrics& operator=(const Metrics&) = delete;

    // The series of `metric` with these label values (as many as the table names, in its
    // order), created at zero on first use. A wrong count is a bug: it aborts.
    Series& series(Metric metric, std::initializer_list<std::string_view> label_values);
    Series& series(Metric metric, const std::vector<std::string>& label_values);

    void add(Metric m, std::initializer_list<std::string_view> labels, double delta = 1) {
        series(m, labels).add(delta);
    }
    void set(Metric m, std::initializer_list<std::string_view> labels, double value) {
        series(m, labels).set(value);
    }
    void observe(Metric m, std::initializer_list<std::string_view> labels, double value) {
        series(m, labels).observe(value);
    }

    // Reads the process' resident memory and CPU time (Linux /proc) into their gauges.
    void sample_process();

    // Every metric with its series, in Prometheus' text format 0.0.4. Metrics without any
    // series yet are listed with HELP and TYPE only.
    std::string expose() const;

  private:
    struct Family;
    Series& find_or_add(Family& f, std::vector<std::string> values);
    std::vector<std::unique_ptr<Family>> families_;  // [Metric::kCount]
};

// Label value escaping for the text format: backslash, double quote and newline.
std::string escape_label_value(std::string_view v);
// A sample value as the text format writes it: shortest round-trip, "+Inf", "-Inf", "NaN".
std::string format_value(double v);

}  // namespace citadel::ops
