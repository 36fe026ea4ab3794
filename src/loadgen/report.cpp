#include "loadgen/report.h"

#include <cctype>
#include <cstdio>

namespace citadel::loadgen {
namespace {

constexpr size_t kMaxDistinctErrors = 5;

void count_error(std::vector<ErrorCount>& errors, const std::string& message) {
    for (ErrorCount& e : errors) {
        if (e.message == message) {
            ++e.count;
            return;
        }
    }
    if (errors.size() < kMaxDistinctErrors) errors.push_back({message, 1});
}

double tpot_of(const RequestRecord& r) {
    return (r.e2e_ms - r.ttft_ms) / double(r.output_tokens - 1);
}

bool meets(const RequestRecord& r, const Slo& slo) {
    if (slo.ttft_ms > 0 && (r.ttft_ms < 0 || r.ttft_ms > slo.ttft_ms)) return false;
    if (slo.tpot_ms > 0 && r.output_tokens > 1 && r.ttft_ms >= 0 && tpot_of(r) > slo.tpot_ms)
        return false;
    if (slo.e2e_ms > 0 && r.e2e_ms > slo.e2e_ms) return false;
    return true;
}

nlohmann::json summary_json(const Summary& s) {
    return {{"count", s.count}, {"mean", s.mean}, {"median", s.median}, {"p90", s.p90},
            {"p99", s.p99},     {"min", s.min},   {"max", s.max}};
}

std::string format_number(double v, bool count = false) {
    char buf[64];
    if (count) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
        return buf;
    }
    std::snprintf(buf, sizeof buf, v >= 100 ? "%.1f" : v >= 1 ? "%.2f" : "%.3f", v);
    return buf;
}

}  // namespace

Report make_report(const RunResult& run, const Slo& slo) {
    Report rep;
    std::vector<double> ttft, tpot, itl, e2e;
    for (const RequestRecord& r : run.records) {
        if (!r.ok) {
            ++rep.failed;
            count_error(rep.errors, r.error);
            continue;
        }
        ++rep.completed;
        rep.output_tokens += r.output_tokens;
        if (r.prompt_tokens >= 0) rep.prompt_tokens += r.prompt_tokens;
        if (!r.usage_reported || r.prompt_tokens < 0) rep.usage_from_server = false;
        if (r.ttft_ms >= 0) ttft.push_back(r.ttft_ms);
        if (r.ttft_ms >= 0 && r.output_tokens > 1) tpot.push_back(tpot_of(r));
        itl.insert(itl.end(), r.itl_ms.begin(), r.itl_ms.end());
        e2e.push_back(r.e2e_ms);
        if (slo.any() && meets(r, slo)) ++rep.good_requests;
    }
    rep.duration_s = run.duration_s;
    if (rep.duration_s > 0) {
        rep.request_throughput = double(rep.completed) / rep.duration_s;
        rep.output_throughput = double(rep.output_tokens) / rep.duration_s;
        rep.total_throughput = double(rep.prompt_tokens + rep.output_tokens) / rep.duration_s;
        rep.goodput = double(rep.good_requests) / rep.duration_s;
    }
    rep.has_goodput = slo.any();
    rep.ttft_ms = summarize(std::move(ttft));
    rep.tpot_ms = summarize(std::move(tpot));
    rep.itl_ms = summarize(std::move(itl));
    rep.e2e_ms = summarize(std::move(e2e));
    return rep;
}

nlohmann::json to_json(const Report& r) {
    nlohmann::json errors = nlohmann::json::array();
    for (const ErrorCount& e : r.errors)
        errors.push_back({{"message", e.message}, {"count", e.count}});
    nlohmann::json j = {{"completed", r.completed},
                        {"failed", r.failed},
                        {"errors", errors},
                        {"duration_s", r.duration_s},
                        {"prompt_tokens", r.prompt_tokens},
                        {"output_tokens", r.output_tokens},
                        {"usage_from_server", r.usage_from_server},
                        {"request_throughput", r.request_throughput},
                        {"output_throughput", r.output_throughput},
                        {"total_throughput", r.total_throughput},
                        {"ttft_ms", summary_json(r.ttft_ms)},
                        {"tpot_ms", summary_json(r.tpot_ms)},
                        {"itl_ms", summary_json(r.itl_ms)},
                        {"e2e_ms", summary_json(r.e2e_ms)}};
    if (r.has_goodput) {
        j["good_requests"] = r.good_requests;
        j["goodput"] = r.goodput;
    }
    return j;
}

std::vector<ReportRow> report_rows(const Report& r) {
    std::vector<ReportRow> rows = {
        {"completed", "Completed requests", double(r.completed), true},
        {"failed", "Failed requests", double(r.failed), true},
        {"duration_s", "Duration (s)", r.duration_s},
        {"prompt_tokens", "Prompt tokens", double(r.prompt_tokens), true},
        {"output_tokens", "Output tokens", double(r.output_tokens), true},
        {"request_throughput", "Request throughput (req/s)", r.request_throughput},
        {"output_throughput", "Output token throughput (tok/s)", r.output_throughput},
        {"total_throughput", "Total token throughput (tok/s)", r.total_throughput},
    };
    if (r.has_goodput) rows.push_back({"goodput", "Goodput (req/s)", r.goodput});
    const std::pair<const char*, const Summary*> latencies[] = {{"ttft_ms", &r.ttft_ms},
                                                                {"tpot_ms", &r.tpot_ms},
                                                                {"itl_ms", &r.itl_ms},
                                                                {"e2e_ms", &r.e2e_ms}};
    for (const auto& [key, s] : latencies) {
        std::string name = key;
        for (char& c : name) c = char(std::toupper(c));
        name = name.substr(0, name.find('_'));
        const std::pair<const char*, double> stats[] = {
            {"mean", s->mean}, {"median", s->median}, {"p90", s->p90}, {"p99", s->p99}};
        for (const auto& [stat, value] : stats)
            rows.push_back({std::string(key) + "." + stat, name + " " + stat + " (ms)", value});
    }
    return rows;
}

double report_value(const Report& r, const std::string& key) {
    for (const ReportRow& row : report_rows(r)) {
        if (row.key == key) return row.value;
    }
    return 0;
}

std::string format_table(const std::vector<std::pair<std::string, Report>>& columns) {
    if (columns.empty()) return "";
    std::string out;
    char line[256];
    std::snprintf(line, sizeof line, "%-34s", "");
    out += line;
    for (const auto& [name, report] : columns) {
        std::snprintf(line, sizeof line, " %12s", name.c_str());
        out += line;
    }
    if (columns.size() == 2) out += "          B/A";
    out += '\n';
    const std::vector<ReportRow> first = report_rows(columns[0].second);
    for (size_t i = 0; i < first.size(); ++i) {
        std::snprintf(line, sizeof line, "%-34s", first[i].label.c_str());
        out += line;
        for (const auto& column : columns) {
            std::snprintf(
                line, sizeof line, " %12s",
                format_number(report_rows(column.second)[i].value, first[i].count).c_str());
            out += line;
        }
        if (columns.size() == 2) {
            const double a = first[i].value, b = report_rows(columns[1].second)[i].value;
            std::snprintf(line, sizeof line, " %12s",
                          a != 0 ? (format_number(b / a) + "x").c_str() : "-");
            out += line;
        }
        out += '\n';
    }
    return out;
}

}  // namespace citadel::loadgen
