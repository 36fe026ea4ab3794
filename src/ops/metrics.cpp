#include "ops/metrics.h"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <sstream>

namespace citadel::ops {
namespace {

// vLLM's bucket boundaries, so its dashboards' quantiles read the same.
constexpr double kTtftBuckets[] = {0.001, 0.005, 0.01, 0.02,  0.04,  0.06,  0.08, 0.1,
                                   0.25,  0.5,   0.75, 1.0,   2.5,   5.0,   7.5,  10.0,
                                   20.0,  40.0,  80.0, 160.0, 640.0, 2560.0};
constexpr double kItlBuckets[] = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                  0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
constexpr double kRequestBuckets[] = {0.3,  0.5,   0.8,   1.0,   1.5,   2.0,    2.5,
                                      5.0,  10.0,  15.0,  20.0,  30.0,  40.0,   50.0,
                                      60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};

using K = MetricKind;
using M = Metric;

std::vector<MetricDef> make_table() {
    const std::span<const double> none;
    // clang-format off
    return {
        {M::kRequestsRunning, "citadel:num_requests_running", K::kGauge,
         "Requests in the engine's running batch.", {"model_name"}, none},
        {M::kRequestsWaiting, "citadel:num_requests_waiting", K::kGauge,
         "Requests waiting to be scheduled.", {"model_name"}, none},
        {M::kRequestSuccess, "citadel:request_success_total", K::kCounter,
         "Finished requests (choices), by finish reason.", {"model_name", "finished_reason"}, none},
        {M::kPromptTokens, "citadel:prompt_tokens_total", K::kCounter,
         "Prompt tokens of finished requests.", {"model_name"}, none},
        {M::kGenerationTokens, "citadel:generation_tokens_total", K::kCounter,
         "Tokens generated.", {"model_name"}, none},
        {M::kKvCacheUsage, "citadel:kv_cache_usage_perc", K::kGauge,
         "Fraction of KV cache blocks in use (0 to 1).", {"model_name"}, none},
        {M::kPrefixCacheQueries, "citadel:prefix_cache_queries_total", K::kCounter,
         "Prompt tokens looked up in the prefix cache.", {"model_name"}, none},
        {M::kPrefixCacheHits, "citadel:prefix_cache_hits_total", K::kCounter,
         "Prompt tokens found in the prefix cache.", {"model_name"}, none},
        {M::kPreemptions, "citadel:num_preemptions_total", K::kCounter,
         "Sequences preempted for lack of KV cache blocks.", {"model_name"}, none},
        {M::kTimeToFirstToken, "citadel:time_to_first_token_seconds", K::kHistogram,
         "Time from submission to the first generated token.", {"model_name"}, kTtftBuckets},
        {M::kInterTokenLatency, "citadel:inter_token_latency_seconds", K::kHistogram,
         "Time between consecutive generated tokens of a request.", {"model_name"}, kItlBuckets},
        {M::kE2eLatency, "citadel:e2e_request_latency_seconds", K::kHistogram,
         "Time from submission to the end of a request (choice).", {"model_name"}, kRequestBuckets},
        {M::kQueueTime, "citadel:request_queue_time_seconds", K::kHistogram,
         "Time a request waited in the engine before its first step.", {"model_name"},
         kRequestBuckets},
        {M::kPrefillTime, "citadel:request_prefill_time_seconds", K::kHistogram,
         "Time from a request's first step to its first token.", {"model_name"}, kRequestBuckets},
        {M::kDecodeTime, "citadel:request_decode_time_seconds", K::kHistogram,
         "Time from a request's first token to its end.", {"model_name"}, kRequestBuckets},
        {M::kHttpRequests, "citadel:http_requests_total", K::kCounter,
         "HTTP responses by route pattern, method and status.", {"route", "method", "status"},
         none},
        {M::kGatewayDenied, "citadel:gateway_denied_total", K::kCounter,
         "Requests the gateway refused, by reason.", {"reason"}, none},
        {M::kGatewayRateLimited, "citadel:gateway_rate_limited_total", K::kCounter,
         "Requests refused by a limit, by limit.", {"limit"}, none},
        {M::kGuardActions, "citadel:guard_actions_total", K::kCounter,
         "Guard findings by guard, action and type.", {"guard", "action", "type"}, none},
        {M::kModelLoadSeconds, "citadel:model_load_seconds", K::kGauge,
         "Seconds the model took to load.", {"model_name"}, none},
        {M::kModelsLoaded, "citadel:models_loaded", K::kGauge,
         "Models loaded and ready to serve.", {}, none},
        {M::kReady, "citadel:ready", K::kGauge,
         "1 when every pinned model is loaded (GET /ready answers 200), else 0.", {}, none},
        {M::kUpstreamUp, "citadel:upstream_endpoint_up", K::kGauge,
         "1 when an upstream endpoint takes requests (health check passing, not ejected).",
         {"model_name", "endpoint"}, none},
        {M::kUpstreamOutstanding, "citadel:upstream_outstanding_requests", K::kGauge,
         "Requests in flight to an upstream endpoint.", {"model_name", "endpoint"}, none},
        {M::kUpstreamRequests, "citadel:upstream_requests_total", K::kCounter,
         "Requests sent to an upstream endpoint (retries included).", {"model_name", "endpoint"},
         none},
        {M::kUpstreamCircuitOpen, "citadel:upstream_circuit_open", K::kGauge,
         "1 while an upstream model's circuit breaker fails requests fast.", {"model_name"}, none},
        {M::kProcessResidentMemory, "process_resident_memory_bytes", K::kGauge,
         "Resident memory size in bytes.", {}, none},
        {M::kProcessCpuSeconds, "process_cpu_seconds_total", K::kCounter,
         "Total user and system CPU time spent in seconds.", {}, none},
        {M::kProcessStartTime, "process_start_time_seconds", K::kGauge,
         "Start time of the process since the Unix epoch in seconds.", {}, none},
    };
    // clang-format on
}

const char* kind_name(MetricKind k) {
    switch (k) {
        case K::kCounter:
            return "counter";
        case K::kGauge:
            return "gauge";
        case K::kHistogram:
            return "histogram";
    }
    return "untyped";
}

// HELP text escaping: backslash and newline.
std::string escape_help(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

// {a="x",b="y"} (with `extra` appended, e.g. le="0.5"); "" without labels.
std::string label_block(const std::vector<std::string>& names,
                        const std::vector<std::string>& values, const std::string& extra = {}) {
    if (names.empty() && extra.empty()) return {};
    std::string out = "{";
    for (size_t i = 0; i < names.size(); ++i) {
        if (i) out += ',';
        out += names[i] + "=\"" + escape_label_value(values[i]) + "\"";
    }
    if (!extra.empty()) out += (names.empty() ? "" : ",") + extra;
    return out + "}";
}

double unix_now_seconds() {
    using namespace std::chrono;
    return double(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count()) /
           1000.0;
}

}  // namespace

const std::vector<MetricDef>& metric_table() {
    static const std::vector<MetricDef> table = [] {
        std::vector<MetricDef> t = make_table();
        for (size_t i = 0; i < t.size(); ++i) {
            if (size_t(t[i].id) != i) {  // the enum and the table disagree: a bug
                std::fprintf(stderr, "metric table out of order at %s\n", t[i].name);
                std::abort();
            }
        }
        return t;
    }();
    return table;
}

std::string escape_label_value(std::string_view v) {
    std::string out;
    for (char c : v) {
        if (c == '\\')
            out += "\\\\";
        else if (c == '"')
            out += "\\\"";
        else if (c == '\n')
            out += "\\n";
        else
            out += c;
    }
    return out;
}

std::string format_value(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
    if (ec != std::errc()) return "NaN";
    return std::string(buf, end);
}

Series::Series(std::span<const double> bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds.size() + 1)) {
    for (size_t i = 0; i <= bounds.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Series::observe(double value) {
    size_t i = 0;
    while (i < bounds_.size() && value > bounds_[i]) ++i;  // le: upper bounds are inclusive
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    value_.fetch_add(value, std::memory_order_relaxed);
}

Series::Snapshot Series::histogram() const {
    Snapshot s;
    s.cumulative.resize(bounds_.size() + 1);
    for (size_t i = 0; i <= bounds_.size(); ++i) {
        s.count += buckets_[i].load(std::memory_order_relaxed);
        s.cumulative[i] = s.count;
    }
    s.sum = value_.load(std::memory_order_relaxed);
    return s;
}

// One metric's series by label values. The map's nodes never move: pointers to a Series
// stay valid.
struct Metrics::Family {
    const MetricDef* def;
    mutable std::shared_mutex mutex;
    std::map<std::vector<std::string>, std::unique_ptr<Series>> series;
};

Metrics::Metrics() {
    for (const MetricDef& d : metric_table()) {
        families_.push_back(std::make_unique<Family>());
        families_.back()->def = &d;
    }
    set(Metric::kProcessStartTime, {}, unix_now_seconds());
}

Metrics::~Metrics() = default;

Series& Metrics::series(Metric metric, std::initializer_list<std::string_view> label_values) {
    std::vector<std::string> values;
    values.reserve(label_values.size());
    for (std::string_view v : label_values) values.emplace_back(v);
    return find_or_add(*families_[size_t(metric)], std::move(values));
}

Series& Metrics::series(Metric metric, const std::vector<std::string>& label_values) {
    return find_or_add(*families_[size_t(metric)], label_values);
}

Series& Metrics::find_or_add(Family& f, std::vector<std::string> values) {
    if (values.size() != f.def->labels.size()) {
        std::fprintf(stderr, "metric %s takes %zu labels, given %zu\n", f.def->name,
                     f.def->labels.size(), values.size());
        std::abort();
    }
    {
        std::shared_lock<std::shared_mutex> lock(f.mutex);
        auto it = f.series.find(values);
        if (it != f.series.end()) return *it->second;
    }
    std::unique_lock<std::shared_mutex> lock(f.mutex);
    auto& slot = f.series[std::move(values)];
    if (!slot) slot = std::make_unique<Series>(f.def->buckets);
    return *slot;
}

void Metrics::sample_process() {
    // /proc/self/stat: fields 14 and 15 are utime and stime in clock ticks; the command name
    // (field 2) may hold spaces, so counting starts after its closing parenthesis.
    std::ifstream stat("/proc/self/stat");
    std::string line;
    if (std::getline(stat, line)) {
        const size_t close = line.rfind(')');
        std::istringstream rest(close == std::string::npos ? "" : line.substr(close + 2));
        std::string field;
        double utime = 0, stime = 0;
        for (int i = 3; i <= 15 && (rest >> field); ++i) {
            if (i == 14) utime = std::atof(field.c_str());
            if (i == 15) stime = std::atof(field.c_str());
        }
        set(Metric::kProcessCpuSeconds, {}, (utime + stime) / double(::sysconf(_SC_CLK_TCK)));
    }
    std::ifstream statm("/proc/self/statm");
    int64_t size_pages = 0, resident_pages = 0;
    if (statm >> size_pages >> resident_pages) {
        set(Metric::kProcessResidentMemory, {},
            double(resident_pages) * double(::sysconf(_SC_PAGESIZE)));
    }
}

std::string Metrics::expose() const {
    std::string out;
    for (const auto& f : families_) {
        const MetricDef& d = *f->def;
        out += std::string("# HELP ") + d.name + " " + escape_help(d.help) + "\n";
        out += std::string("# TYPE ") + d.name + " " + kind_name(d.kind) + "\n";
        std::shared_lock<std::shared_mutex> lock(f->mutex);
        for (const auto& [values, s] : f->series) {
            if (d.kind != K::kHistogram) {
                out +=
                    d.name + label_block(d.labels, values) + " " + format_value(s->value()) + "\n";
                continue;
            }
            const Series::Snapshot h = s->histogram();
            for (size_t i = 0; i < h.cumulative.size(); ++i) {
                const std::string le =
                    i < d.buckets.size() ? format_value(d.buckets[i]) : std::string("+Inf");
                out += std::string(d.name) + "_bucket" +
                       label_block(d.labels, values, "le=\"" + le + "\"") + " " +
                       std::to_string(h.cumulative[i]) + "\n";
            }
            out += std::string(d.name) + "_sum" + label_block(d.labels, values) + " " +
                   format_value(h.sum) + "\n";
            out += std::string(d.name) + "_count" + label_block(d.labels, values) + " " +
                   std::to_string(h.count) + "\n";
        }
    }
    return out;
}

}  // namespace citadel::ops
