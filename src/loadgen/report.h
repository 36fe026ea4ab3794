// The numbers of one run: counts, throughput, latency summaries, goodput; as text and JSON.
//
// Definitions (per request, as the client saw it):
//   TTFT  = send -> first chunk that carries text;
//   ITL   = the gaps between consecutive text chunks (all requests pooled);
//   TPOT  = (E2E - TTFT) / (output tokens - 1), for requests with at least 2 output tokens;
//   E2E   = send -> end of the answer.
// Output tokens are the server's usage.completion_tokens (asked for with stream_options);
// without usage, the count of text chunks. Throughput divides by the run's duration (first
// send to last answer). Goodput = completed requests meeting every given SLO, per second.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "loadgen/runner.h"
#include "loadgen/stats.h"

namespace citadel::loadgen {

struct Slo {
    double ttft_ms = 0, tpot_ms = 0, e2e_ms = 0;  // 0: not set
    bool any() const { return ttft_ms > 0 || tpot_ms > 0 || e2e_ms > 0; }
};

struct ErrorCount {
    std::string message;
    int64_t count = 0;
};

struct Report {
    int64_t completed = 0, failed = 0;
    std::vector<ErrorCount> errors;  // the first 5 distinct messages, with how often each came
    double duration_s = 0;
    int64_t prompt_tokens = 0, output_tokens = 0;
    bool usage_from_server = true;  // every completed request reported usage
    double request_throughput = 0, output_throughput = 0, total_throughput = 0;
    Summary ttft_ms, tpot_ms, itl_ms, e2e_ms;
    bool has_goodput = false;
    int64_t good_requests = 0;
    double goodput = 0;  // requests/s
};

Report make_report(const RunResult& run, const Slo& slo);

nlohmann::json to_json(const Report& r);

// One number of a report, by name (for ratio columns and charts): e.g. "output_throughput",
// "ttft_ms.p99". The table rows are in kReportRows order.
struct ReportRow {
    std::string key;    // JSON-ish key
    std::string label;  // text label
    double value = 0;
    bool count = false;  // a whole number: printed without decimals
};
std::vector<ReportRow> report_rows(const Report& r);
double report_value(const Report& r, const std::string& key);  // 0 for an unknown key

// A table with one column per report and, for exactly two, a "B/A" column.
std::string format_table(const std::vector<std::pair<std::string, Report>>& columns);

}  // namespace citadel::loadgen
