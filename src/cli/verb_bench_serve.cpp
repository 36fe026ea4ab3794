// citadel bench serve: load an OpenAI-compatible server over HTTP (Citadel, vLLM, llama-server,
// Ollama) and report throughput and latency (src/loadgen has the parts; report.h the
// definitions). --compare runs the same schedule against a second server; --sweep runs several
// load levels and --chart draws latency against throughput.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/verbs.h"
#include "loadgen/chart.h"
#include "loadgen/report.h"
#include "loadgen/runner.h"

namespace citadel::cli {
namespace {

using namespace citadel::loadgen;

struct ServeBenchArgs {
    std::string url, model, api_key, name = "A";
    std::string compare_url, compare_model, compare_api_key, compare_name = "B";
    std::string endpoint = "chat";
    int concurrency = 1;
    double rate = 0;
    int max_concurrency = 0;
    int64_t num_requests = 0;
    double duration_s = 0;
    int64_t warmup = 0;
    std::string sweep;
    int input_len = 128;
    double input_spread = 0;
    int output_len = 128;
    bool output_len_given = false;
    std::string dataset;
    uint64_t seed = 0;
    bool ignore_eos = true;
    double temperature = -1;
    Slo slo;
    double timeout_s = 300;
    bool insecure = false;
    std::string ca_file;
    bool json = false;
    bool no_progress = false;
    std::string chart;
    std::string chart_metric = "tpot";
};

// One load level: its shape and, per endpoint, the report.
struct Point {
    LoadShape shape;
    std::vector<std::pair<std::string, Report>> reports;
    std::vector<int64_t> warmup_failed;
};

Result<std::vector<double>> parse_sweep(const std::string& text, bool rates) {
    std::vector<double> out;
    size_t at = 0;
    while (at <= text.size()) {
        const size_t comma = std::min(text.find(',', at), text.size());
        const std::string item = text.substr(at, comma - at);
        char* end = nullptr;
        const double v = std::strtod(item.c_str(), &end);
        if (item.empty() || *end != '\0' || !(v > 0) || (!rates && v != double(int(v))))
            return Status::error("--sweep: '" + item + "' is not a positive " +
                                 (rates ? "rate" : "whole number of clients") +
                                 " (expected e.g. 1,4,16)");
        out.push_back(v);
        at = comma + 1;
    }
    return out;
}

Result<Target> make_target(const std::string& label, const std::string& url,
                           const std::string& model, const std::string& key,
                           const ServeBenchArgs& a) {
    Result<Endpoint> e = parse_endpoint(url);
    if (!e) return e.status();
    Target t{.label = label,
             .endpoint = *e,
             .api = a.endpoint == "completions" ? Api::kCompletions : Api::kChat,
             .model = model,
             .api_key = key,
             .ignore_eos = a.ignore_eos,
             .temperature = a.temperature,
             .timeout_ms = int(a.timeout_s * 1000),
             .insecure_tls = a.insecure,
             .ca_file = a.ca_file};
    CITADEL_TRY(check_target(t));
    return t;
}

Result<std::vector<Prompt>> make_prompts(const ServeBenchArgs& a, size_t point) {
    if (!a.dataset.empty()) {
        int skipped = 0;
        auto p =
            load_dataset(a.dataset, a.output_len, a.output_len_given ? a.output_len : 0, &skipped);
        if (p && skipped > 0 && point == 0)
            std::fprintf(stderr, "citadel: %s: skipped %d conversations without a human turn\n",
                         a.dataset.c_str(), skipped);
        return p;
    }
    const int64_t n = (a.num_requests > 0 ? a.num_requests : 1000) + a.warmup;
    // A new set per load level, so a level does not find the last one's prompts cached.
    return synthetic_prompts({.count = int(std::min<int64_t>(n, 1'000'000)),
                              .input_len = a.input_len,
                              .spread = a.input_spread,
                              .output_len = a.output_len,
                              .seed = a.seed + 1000003 * point});
}

std::string load_name(const LoadShape& s) {
    char buf[96];
    if (s.rate > 0) {
        std::snprintf(buf, sizeof buf, "rate %g req/s", s.rate);
        std::string out = buf;
        if (s.max_concurrency > 0) out += ", max concurrency " + std::to_string(s.max_concurrency);
        return out;
    }
    return "concurrency " + std::to_string(s.concurrency);
}

// Runs one load level on each target; an error is a refusal that no retry changes.
Result<Point> run_point(const ServeBenchArgs& a, const std::vector<Target>& targets,
                        const LoadShape& shape, size_t index) {
    Result<std::vector<Prompt>> prompts = make_prompts(a, index);
    if (!prompts) return prompts.status();
    const Schedule schedule = make_schedule(shape, prompts->size());
    const bool tty = !a.no_progress && ::isatty(STDERR_FILENO);
    Point point{.shape = shape};
    for (const Target& t : targets) {
        if (!a.json)
            std::fprintf(stderr, "%s: %s, %s ...\n", t.label.c_str(), t.endpoint.url.c_str(),
                         load_name(shape).c_str());
        RunResult run = run_load(t, schedule, *prompts,
                                 {.warmup = a.warmup,
                                  .progress = tty,
                                  .progress_label = t.label + " " + load_name(shape)});
        if (!run.fatal.empty())
            return Status::error(t.endpoint.url + " refused the requests (model '" + t.model +
                                 "'): " + run.fatal);
        point.reports.emplace_back(t.label, make_report(run, a.slo));
        point.warmup_failed.push_back(run.warmup_failed);
    }
    return point;
}

nlohmann::json config_json(const ServeBenchArgs& a, const std::vector<Target>& targets) {
    nlohmann::json ts = nlohmann::json::array();
    for (const Target& t : targets)
        ts.push_back({{"label", t.label}, {"url", t.endpoint.url}, {"model", t.model}});
    return {
        {"targets", ts},
        {"endpoint", a.endpoint},
        {"dataset", a.dataset.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.dataset)},
        {"input_len", a.input_len},
        {"input_spread", a.input_spread},
        {"output_len", a.output_len},
        {"ignore_eos", a.ignore_eos},
        {"num_requests", a.num_requests},
        {"duration_s", a.duration_s},
        {"warmup", a.warmup},
        {"seed", a.seed},
        {"slo", {{"ttft_ms", a.slo.ttft_ms}, {"tpot_ms", a.slo.tpot_ms}, {"e2e_ms", a.slo.e2e_ms}}},
        {"percentiles", "linear interpolation between closest ranks (numpy default)"}};
}

nlohmann::json point_json(const Point& p, const std::vector<Target>& targets) {
    nlohmann::json load =
        p.shape.rate > 0
            ? nlohmann::json{{"rate", p.shape.rate}, {"max_concurrency", p.shape.max_concurrency}}
            : nlohmann::json{{"concurrency", p.shape.concurrency}};
    nlohmann::json runs = nlohmann::json::array();
    for (size_t i = 0; i < p.reports.size(); ++i) {
        nlohmann::json r = to_json(p.reports[i].second);
        r["label"] = targets[i].label;
        r["url"] = targets[i].endpoint.url;
        r["model"] = targets[i].model;
        r["warmup_failed"] = p.warmup_failed[i];
        runs.push_back(r);
    }
    nlohmann::json out = {{"load", load}, {"runs", runs}};
    if (p.reports.size() == 2) {
        nlohmann::json ratio;
        for (const ReportRow& row : report_rows(p.reports[0].second)) {
            const double bv = report_value(p.reports[1].second, row.key);
            ratio[row.key] = row.value != 0 ? nlohmann::json(bv / row.value) : nullptr;
        }
        out["ratio_b_over_a"] = ratio;
    }
    return out;
}

void print_text(const Point& p, const std::vector<Target>& targets) {
    std::printf("\n=== %s ===\n", load_name(p.shape).c_str());
    for (const Target& t : targets)
        std::printf("%s = %s, model %s\n", t.label.c_str(), t.endpoint.url.c_str(),
                    t.model.c_str());
    std::printf("%s", format_table(p.reports).c_str());
    for (const auto& [label, r] : p.reports) {
        for (const ErrorCount& e : r.errors)
            std::printf("%s: %lld failed: %s\n", label.c_str(), (long long)e.count,
                        e.message.c_str());
        if (!r.usage_from_server && r.completed > 0)
            std::printf("%s: the server sent no usage; output tokens are counted chunks\n",
                        label.c_str());
    }
    std::fflush(stdout);
}

std::string short_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

Status write_chart(const ServeBenchArgs& a, const std::vector<Point>& points,
                   const std::vector<Target>& targets) {
    const std::string m = a.chart_metric;
    const std::string metric = m == "e2e"    ? "E2E"
                               : m == "ttft" ? "TTFT"
                               : m == "itl"  ? "ITL"
                                             : "TPOT";
    const std::string prompts = a.dataset.empty() ? std::to_string(a.input_len) + " words in, " +
                                                        std::to_string(a.output_len) + " tokens out"
                                                  : a.dataset;
    ChartSpec spec{.title = metric + " vs throughput (/v1/" +
                            (a.endpoint == "chat" ? "chat/completions" : "completions") + ", " +
                            prompts + ")",
                   .x_label = "output tokens/s",
                   .y_label = metric + " (ms): p50 solid, p99 dashed"};
    for (size_t t = 0; t < targets.size(); ++t) {
        ChartSeries p50{.name = targets[t].label + " p50", .color = int(t)};
        ChartSeries p99{.name = targets[t].label + " p99", .dashed = true, .color = int(t)};
        for (const Point& p : points) {
            const Report& r = p.reports[t].second;
            const double x = r.output_throughput;
            p50.points.emplace_back(x, report_value(r, m + "_ms.median"));
            p50.point_labels.push_back(p.shape.rate > 0
                                           ? "r=" + short_number(p.shape.rate)
                                           : "c=" + std::to_string(p.shape.concurrency));
            p99.points.emplace_back(x, report_value(r, m + "_ms.p99"));
        }
        spec.series.push_back(std::move(p50));
        spec.series.push_back(std::move(p99));
    }
    std::ofstream out(a.chart, std::ios::binary);
    out << render_svg(spec);
    out.close();
    if (!out) return Status::error("cannot write --chart " + a.chart);
    return ok_status();
}

Result<std::vector<LoadShape>> load_levels(const ServeBenchArgs& a) {
    LoadShape base{.concurrency = a.concurrency,
                   .rate = a.rate,
                   .max_concurrency = a.max_concurrency,
                   .num_requests = a.num_requests,
                   .duration_s = a.duration_s,
                   .seed = a.seed};
    if (base.num_requests == 0 && base.duration_s == 0) base.num_requests = 100;
    std::vector<LoadShape> levels;
    if (a.sweep.empty()) {
        levels.push_back(base);
    } else {
        Result<std::vector<double>> values = parse_sweep(a.sweep, a.rate > 0);
        if (!values) return values.status();
        for (double v : *values) {
            LoadShape s = base;
            if (a.rate > 0) {
                s.rate = v;
            } else {
                s.concurrency = int(v);
            }
            levels.push_back(s);
        }
    }
    for (const LoadShape& s : levels) CITADEL_TRY(check_shape(s));
    return levels;
}

int run(ServeBenchArgs a) {
    if (a.api_key.empty()) {
        if (const char* env = std::getenv("OPENAI_API_KEY")) a.api_key = env;
    }
    Result<std::vector<LoadShape>> levels = load_levels(a);
    if (!levels) return fail(levels.error());
    std::vector<Target> targets;
    Result<Target> first = make_target(a.name, a.url, a.model, a.api_key, a);
    if (!first) return fail(first.error());
    targets.push_back(*first);
    if (!a.compare_url.empty()) {
        Result<Target> second = make_target(
            a.compare_name, a.compare_url, a.compare_model.empty() ? a.model : a.compare_model,
            a.compare_api_key.empty() ? a.api_key : a.compare_api_key, a);
        if (!second) return fail(second.error());
        targets.push_back(*second);
    }
    std::vector<Point> points;
    for (size_t i = 0; i < levels->size(); ++i) {
        Result<Point> p = run_point(a, targets, (*levels)[i], i);
        if (!p) return fail(p.error());
        if (!a.json) print_text(*p, targets);
        points.push_back(std::move(*p));
    }
    if (!a.chart.empty()) {
        if (Status s = write_chart(a, points, targets); !s) return fail(s.message());
    }
    if (a.json) {
        nlohmann::json out = {{"config", config_json(a, targets)},
                              {"points", nlohmann::json::array()}};
        for (const Point& p : points) out["points"].push_back(point_json(p, targets));
        // Error messages quote servers: bytes that are not UTF-8 become U+FFFD.
        std::printf("%s\n",
                    out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    }
    bool any_completed = false;
    for (const Point& p : points)
        for (const auto& [label, r] : p.reports) any_completed |= r.completed > 0;
    if (!any_completed) return fail("no request completed");
    return 0;
}

// CLI11's PositiveNumber prints its range with 300 digits; this says it plainly.
CLI::Validator positive() {
    return CLI::Validator(
        [](std::string& text) -> std::string {
            char* end = nullptr;
            const double v = std::strtod(text.c_str(), &end);
            if (text.empty() || *end != '\0' || !(v > 0) || v > 1e12)
                return "'" + text + "' is not a positive number";
            return "";
        },
        "POSITIVE");
}

}  // namespace

VerbRunner add_bench_serve(CLI::App& bench) {
    auto a = std::make_shared<ServeBenchArgs>();
    CLI::App* c = bench.add_subcommand(
        "serve", "Load an OpenAI-compatible server over HTTP; throughput and latency");
    c->add_option("-u,--url", a->url, "Server base URL, e.g. http://127.0.0.1:8080")->required();
    c->add_option("--model", a->model, "Model name (default: the first of GET /v1/models)");
    c->add_option("--api-key", a->api_key, "Bearer token (default: $OPENAI_API_KEY)");
    c->add_option("--name", a->name, "Label of the server in reports and the chart");
    c->add_option("--endpoint", a->endpoint, "chat (/v1/chat/completions) or completions")
        ->check(CLI::IsMember({"chat", "completions"}));
    c->add_option("-c,--concurrency", a->concurrency, "Closed loop: clients in parallel")
        ->check(CLI::Range(1, 100000));
    c->add_option("--rate", a->rate, "Open loop: Poisson arrivals, requests per second")
        ->check(positive());
    c->add_option("--max-concurrency", a->max_concurrency, "Open loop: cap on requests in flight")
        ->check(CLI::Range(1, 100000));
    c->add_option("-n,--num-requests", a->num_requests, "Requests per load level (default 100)")
        ->check(CLI::Range(int64_t(1), int64_t(100'000'000)));
    c->add_option("--duration", a->duration_s, "Seconds per load level (stop sending after)")
        ->check(positive());
    c->add_option("--warmup", a->warmup, "Requests sent first and not measured")
        ->check(CLI::Range(int64_t(0), int64_t(1'000'000)));
    c->add_option("--sweep", a->sweep,
                  "Load levels: concurrencies (or rates with --rate), e.g. 1,4,16");
    c->add_option("--input-len", a->input_len, "Synthetic prompts: words (~tokens) each")
        ->check(CLI::Range(1, 1 << 20));
    c->add_option("--input-spread", a->input_spread, "Synthetic prompts: length +- this fraction")
        ->check(CLI::Range(0.0, 1.0));
    c->add_option_function<int>(
         "--output-len", [a](int v) { a->output_len = v, a->output_len_given = true; },
         "max_tokens of each request (default 128; overrides a dataset's)")
        ->check(CLI::Range(1, 1 << 20));
    c->add_option("--dataset", a->dataset,
                  "Prompts from JSONL: ShareGPT or {\"prompt\",\"max_tokens\"}");
    c->add_option("--seed", a->seed, "Seed of the prompts, their order and the arrivals");
    c->add_flag("!--no-ignore-eos", a->ignore_eos,
                "Do not send ignore_eos (for servers that reject it)");
    c->add_option("--temperature", a->temperature,
                  "Sampling temperature sent (default: the server's)")
        ->check(CLI::Range(0.0, 100.0));
    c->add_option("--slo-ttft-ms", a->slo.ttft_ms, "Goodput SLO on TTFT")->check(positive());
    c->add_option("--slo-tpot-ms", a->slo.tpot_ms, "Goodput SLO on TPOT")->check(positive());
    c->add_option("--slo-e2e-ms", a->slo.e2e_ms, "Goodput SLO on E2E latency")->check(positive());
    c->add_option("--compare", a->compare_url,
                  "A second server: the same schedule, then B/A ratios");
    c->add_option("--compare-model", a->compare_model, "Its model (default: --model or its first)");
    c->add_option("--compare-api-key", a->compare_api_key, "Its bearer token (default: --api-key)");
    c->add_option("--compare-name", a->compare_name, "Its label");
    c->add_option("--timeout", a->timeout_s, "Seconds a request may take before it fails")
        ->check(CLI::Range(0.001, 86400.0));
    c->add_flag("--insecure", a->insecure, "https: do not verify the server's certificate");
    c->add_option("--ca-file", a->ca_file, "https: also trust this CA certificate (PEM)");
    c->add_flag("--json", a->json, "Print everything as JSON on stdout");
    c->add_flag("--no-progress", a->no_progress, "No live progress line on a terminal");
    c->add_option("--chart", a->chart, "Write an SVG chart of latency vs throughput");
    c->add_option("--chart-metric", a->chart_metric, "Its y axis: tpot, e2e, ttft or itl")
        ->check(CLI::IsMember({"tpot", "e2e", "ttft", "itl"}));
    return [a] { return run(*a); };
}

}  // namespace citadel::cli
