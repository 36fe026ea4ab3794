// citadel bench batch: many concurrent generation streams through the engine API (no HTTP).
// Closed loop, as ../shared/tools/loadgen.py drives a server: C clients each submit their next
// request when the previous one finishes; every request generates exactly --gen tokens.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <unordered_map>

#include "cli/common.h"
#include "cli/engine_options.h"
#include "cli/verbs.h"
#include "engine/engine.h"
#include "engine/event_queue.h"

namespace citadel::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BatchArgs {
    std::string model;
    EngineArgs engine;
    std::string concurrency = "1,4,16";
    int requests = 0;  // 0: max(4, 2 x concurrency)
    int prompt = 128;
    int gen = 128;
    int shared_prefix = 0;
    std::string prompts_file;
    bool json = false;
};

struct RequestTimes {
    Clock::time_point submitted;
    std::vector<Clock::time_point> tokens;
};

struct RunResult {
    int concurrency = 0;
    int requests = 0;
    int errors = 0;
    double wall_s = 0;
    int64_t output_tokens = 0;
    std::vector<double> ttft_ms, itl_ms, e2e_ms;
    EngineStats before, after;
};

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t k = std::min(v.size() - 1, size_t(std::llround(p / 100.0 * double(v.size() - 1))));
    return v[k];
}

double ms(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

Result<std::vector<std::vector<int32_t>>> load_prompts(const BatchArgs& a,
                                                       const text::Tokenizer& tok) {
    std::ifstream in(a.prompts_file);
    if (!in) return Status::error("cannot open --prompts-file " + a.prompts_file);
    std::vector<std::vector<int32_t>> prompts;
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.empty()) continue;
        const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_object() || !j.contains("prompt") || !j["prompt"].is_string()) {
            return Status::error(a.prompts_file + " line " + std::to_string(n) +
                                 ": expected {\"prompt\": \"...\"}");
        }
        prompts.push_back(tok.encode(j["prompt"].get<std::string>(), {.add_special = true}));
    }
    if (prompts.empty()) return Status::error(a.prompts_file + " has no prompts");
    return prompts;
}

// Random token prompts: a prefix shared by all (seed 7), then each request's own tokens.
std::vector<std::vector<int32_t>> synthetic_prompts(const BatchArgs& a, int n, int64_t n_vocab) {
    auto random_tokens = [&](int count, uint64_t seed) {
        std::mt19937_64 rng(seed);
        std::uniform_int_distribution<int64_t> dist(0, n_vocab - 1);
        std::vector<int32_t> t(static_cast<size_t>(count));
        for (int32_t& x : t) x = int32_t(dist(rng));
        return t;
    };
    const std::vector<int32_t> prefix = random_tokens(a.shared_prefix, 7);
    std::vector<std::vector<int32_t>> prompts;
    for (int i = 0; i < n; ++i) {
        std::vector<int32_t> p = prefix;
        const std::vector<int32_t> own = random_tokens(a.prompt, 1000 + uint64_t(i));
        p.insert(p.end(), own.begin(), own.end());
        prompts.push_back(std::move(p));
    }
    return prompts;
}

GenerationRequest make_request(const std::vector<int32_t>& prompt, int gen,
                               const std::string& salt) {
    GenerationRequest r;
    r.prompt = prompt;
    r.max_tokens = gen;
    r.ignore_eos = true;
    r.sampling.temperature = 0.0f;
    r.cache_salt = salt;
    return r;
}

// One closed-loop run at one concurrency. The cache salt keeps runs from reusing each
// other's prompts (only what requests of the same run share is meant to hit).
RunResult run_load(Engine& engine, const std::vector<std::vector<int32_t>>& prompts, int c,
                   int n_requests, int gen, const std::string& salt) {
    RunResult res;
    res.concurrency = c;
    res.requests = n_requests;
    res.before = engine.stats();
    EventQueue queue;
    std::unordered_map<uint64_t, RequestTimes> live;
    int next = 0, done = 0;
    auto submit_next = [&] {
        const auto& prompt = prompts[size_t(next) % prompts.size()];
        ++next;
        const Clock::time_point t = Clock::now();
        Submitted s = engine.submit(make_request(prompt, gen, salt), queue.sink());
        if (!s.ok()) {
            std::fprintf(stderr, "citadel: request refused: %s\n", s.error.c_str());
            ++res.errors;
            ++done;
            return;
        }
        live[s.id].submitted = t;
    };
    const Clock::time_point t0 = Clock::now();
    for (int i = 0; i < c && next < n_requests; ++i) submit_next();
    while (done < n_requests) {
        auto [when, e] = *queue.pop_timed();
        RequestTimes& rt = live[e.request_id];
        if (e.kind == EngineEvent::Kind::kToken) {
            rt.tokens.push_back(when);
            continue;
        }
        ++done;
        res.output_tokens += e.usage.completion_tokens;
        if (e.reason == FinishReason::kError) ++res.errors;
        if (!rt.tokens.empty()) {
            res.ttft_ms.push_back(ms(rt.submitted, rt.tokens.front()));
            for (size_t i = 1; i < rt.tokens.size(); ++i) {
                res.itl_ms.push_back(ms(rt.tokens[i - 1], rt.tokens[i]));
            }
        }
        res.e2e_ms.push_back(ms(rt.submitted, when));
        live.erase(e.request_id);
        if (next < n_requests) submit_next();
    }
    res.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
    res.after = engine.stats();
    return res;
}

// Resident memory of this process (with a fixed --kv-mem it stays flat across levels).
double resident_mib() {
    std::ifstream statm("/proc/self/statm");
    size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return std::round(double(resident) * double(sysconf(_SC_PAGE_SIZE)) / 1048576.0);
}

nlohmann::json to_json(const RunResult& r) {
    const int64_t queried = r.after.prefix_queried_tokens - r.before.prefix_queried_tokens;
    const int64_t hits = r.after.prefix_hit_tokens - r.before.prefix_hit_tokens;
    auto round2 = [](double v) { return std::round(v * 100.0) / 100.0; };
    return {{"concurrency", r.concurrency},
            {"requests", r.requests},
            {"errors", r.errors},
            {"wall_s", round2(r.wall_s)},
            {"output_tokens", r.output_tokens},
            {"output_tok_s", round2(double(r.output_tokens) / r.wall_s)},
            {"ttft_p50_ms", round2(percentile(r.ttft_ms, 50))},
            {"ttft_p99_ms", round2(percentile(r.ttft_ms, 99))},
            {"itl_p50_ms", round2(percentile(r.itl_ms, 50))},
            {"itl_p99_ms", round2(percentile(r.itl_ms, 99))},
            {"e2e_p50_ms", round2(percentile(r.e2e_ms, 50))},
            {"prefix_hit_rate", queried > 0 ? round2(double(hits) / double(queried)) : 0.0},
            {"preemptions", r.after.preemptions - r.before.preemptions},
            {"steps", r.after.steps - r.before.steps},
            {"kv_blocks_peak", r.after.kv_blocks_peak},
            {"kv_blocks_total", r.after.kv_blocks_total},
            {"rss_mib", resident_mib()}};
}

void print_row(const nlohmann::json& j) {
    std::printf(
        "| %d | %d | %.1f | %.1f | %.0f / %.0f | %.1f / %.1f | %.0f%% | %lld | %lld / %lld | %.0f "
        "|\n",
        j["concurrency"].get<int>(), j["requests"].get<int>(), j["wall_s"].get<double>(),
        j["output_tok_s"].get<double>(), j["ttft_p50_ms"].get<double>(),
        j["ttft_p99_ms"].get<double>(), j["itl_p50_ms"].get<double>(),
        j["itl_p99_ms"].get<double>(), 100.0 * j["prefix_hit_rate"].get<double>(),
        static_cast<long long>(j["preemptions"].get<int64_t>()),
        static_cast<long long>(j["kv_blocks_peak"].get<int64_t>()),
        static_cast<long long>(j["kv_blocks_total"].get<int64_t>()), j["rss_mib"].get<double>());
}

int run(const BatchArgs& a) {
    Result<std::vector<int32_t>> levels = parse_token_list(a.concurrency);
    if (!levels || levels->empty() ||
        std::any_of(levels->begin(), levels->end(), [](int32_t c) { return c < 1 || c > 4096; })) {
        return fail("--concurrency: expected a list of integers in [1, 4096] such as 1,4,16");
    }
    Result<std::shared_ptr<const Model>> model = open_model(a.model);
    if (!model) return fail(model.error());
    Result<std::shared_ptr<const text::Tokenizer>> tok = open_tokenizer({.model = a.model});
    if (!tok) return fail(tok.error());
    Result<EngineOptions> opts = engine_options(a.engine, a.model);
    if (!opts) return fail(opts.error());
    Result<std::unique_ptr<Engine>> engine =
        Engine::create(*model, (*tok)->end_of_generation(), *opts);
    if (!engine) return fail(engine.error());
    const int max_c = *std::max_element(levels->begin(), levels->end());
    const int max_requests = a.requests > 0 ? a.requests : std::max(4, 2 * max_c);
    Result<std::vector<std::vector<int32_t>>> prompts =
        a.prompts_file.empty() ? synthetic_prompts(a, max_requests, (*model)->hp.n_vocab)
                               : load_prompts(a, **tok);
    if (!prompts) return fail(prompts.error());
    // Warm-up (faults the weights in) under its own cache salt, so no level finds its prompt
    // already cached.
    run_load(**engine, {prompts->front()}, 1, 1, 4, "warm-up");
    if (!a.json) {
        std::printf(
            "| streams | requests | wall s | output t/s | TTFT p50 / p99 ms | "
            "ITL p50 / p99 ms | prefix hits | preemptions | KV blocks peak / total | RSS MiB |\n"
            "|---|---|---|---|---|---|---|---|---|---|\n");
    }
    for (int32_t c : *levels) {
        const int n = a.requests > 0 ? a.requests : std::max(4, 2 * c);
        const nlohmann::json j =
            to_json(run_load(**engine, *prompts, c, n, a.gen, "level-" + std::to_string(c)));
        if (a.json) {
            std::printf("%s\n", j.dump().c_str());
        } else {
            print_row(j);
        }
        std::fflush(stdout);
    }
    return 0;
}

}  // namespace

VerbRunner add_bench_batch(CLI::App& bench) {
    auto a = std::make_shared<BatchArgs>();
    CLI::App* c = bench.add_subcommand(
        "batch", "Concurrent generation streams through the engine: throughput, TTFT, ITL");
    c->add_option("-m,--model", a->model, "GGUF model file")->required();
    add_engine_options(*c, a->engine);
    c->add_option("--concurrency", a->concurrency, "Concurrent streams, e.g. 1,4,16")
        ->default_str(a->concurrency);
    c->add_option("--requests", a->requests, "Requests per level (default max(4, 2 x streams))")
        ->check(CLI::Range(0, 1 << 20));
    c->add_option("--prompt", a->prompt, "Prompt tokens (random) of each request")
        ->check(CLI::Range(1, 1 << 20))
        ->default_val(a->prompt);
    c->add_option("--gen", a->gen, "Tokens generated by each request")
        ->check(CLI::Range(1, 1 << 20))
        ->default_val(a->gen);
    c->add_option("--shared-prefix", a->shared_prefix, "Tokens of a prefix common to all prompts")
        ->check(CLI::Range(0, 1 << 20));
    c->add_option("--prompts-file", a->prompts_file,
                  "JSON Lines of {\"prompt\": TEXT}; request i uses line i (instead of random)");
    c->add_flag("--json", a->json, "One JSON line per concurrency level");
    return [a, c] { return c->parsed() ? run(*a) : -1; };
}

}  // namespace citadel::cli
