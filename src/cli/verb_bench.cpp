// citadel bench run: prompt-processing and generation speed, as llama-bench's pp / tg tests.
#include <sys/resource.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/common.h"
#include "cli/generate.h"
#include "cli/verbs.h"
#include "tensor/kernels.h"

namespace citadel::cli {
namespace {

struct BenchArgs {
    std::string model;
    int n_prompt = 512;
    int n_gen = 128;
    int threads = 0;
    int reps = 3;
    bool json = false;
};

struct Stats {
    std::string test;
    std::vector<double> samples;  // tokens per second
    double median() const {
        std::vector<double> s = samples;
        std::sort(s.begin(), s.end());
        const size_t n = s.size();
        return n == 0 ? 0 : n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }
    double mean() const {
        double sum = 0;
        for (double v : samples) sum += v;
        return samples.empty() ? 0 : sum / double(samples.size());
    }
    double stddev() const {
        if (samples.size() < 2) return 0;
        double m = mean(), sq = 0;
        for (double v : samples) sq += (v - m) * (v - m);
        return std::sqrt(sq / double(samples.size() - 1));
    }
};

std::vector<int32_t> random_tokens(int n, int64_t n_vocab, uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int64_t> dist(0, n_vocab - 1);
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (int32_t& x : t) x = int32_t(dist(rng));
    return t;
}

// Seconds to generate n tokens one at a time from an empty context.
Result<double> time_generation(const Model& m, ForwardState& st, int n) {
    const std::vector<int32_t> tokens = random_tokens(n, m.hp.n_vocab, 7);
    const auto t0 = std::chrono::steady_clock::now();
    Batch batch;
    for (int i = 0; i < n; ++i) {
        batch.clear();
        batch.add(tokens[size_t(i)], i, 0, true);
        CITADEL_TRY(forward(m, batch, st));
    }
    return seconds_since(t0);
}

Status measure(const Model& m, ForwardState& st, const BenchArgs& a, Stats& pp, Stats& tg) {
    const std::vector<int32_t> prompt = random_tokens(a.n_prompt, m.hp.n_vocab, 1);
    // Warm-up: faults the mapped weights in and sizes every buffer.
    if (a.n_prompt > 0) CITADEL_TRY(process_prompt(m, st, prompt, 512).status());
    if (a.n_gen > 0) CITADEL_TRY(time_generation(m, st, 1).status());
    for (int r = 0; r < a.reps; ++r) {
        if (a.n_prompt > 0) {
            Result<double> s = process_prompt(m, st, prompt, 512);
            if (!s) return s.status();
            pp.samples.push_back(a.n_prompt / *s);
        }
        if (a.n_gen > 0) {
            Result<double> s = time_generation(m, st, a.n_gen);
            if (!s) return s.status();
            tg.samples.push_back(a.n_gen / *s);
        }
    }
    return ok_status();
}

// The process's peak resident set (weights it touched, KV cache, buffers, the runtime).
uint64_t peak_rss_bytes() {
    struct rusage usage {};
    if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
    return uint64_t(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

int64_t parameter_count(const Model& m) {
    int64_t n = 0;
    for (const gguf::TensorInfo& t : m.file->tensors()) n += t.n_elements();
    return n;
}

void print_table(const Model& m, const BenchArgs& a, int threads, const std::vector<Stats>& all) {
    std::printf("| model | size | params | isa | threads | test | t/s (median) | mean ± sd |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    for (const Stats& s : all) {
        std::printf("| %s | %s | %.2f B | %s | %d | %s | %.2f | %.2f ± %.2f |\n",
                    m.hp.name.empty() ? m.hp.arch.c_str() : m.hp.name.c_str(),
                    format_bytes(double(m.weight_bytes())).c_str(),
                    double(parameter_count(m)) / 1e9, isa_name(kernels().isa), threads,
                    s.test.c_str(), s.median(), s.mean(), s.stddev());
    }
}

int run(const BenchArgs& a) {
    Result<std::shared_ptr<const Model>> model = open_model(a.model);
    if (!model) return fail(model.error());
    const Model& m = **model;
    const int64_t n_ctx = std::max(a.n_prompt, a.n_gen) + 1;
    if (n_ctx > m.hp.n_ctx_train) {
        return fail("-p/-n exceed the model's context of " + std::to_string(m.hp.n_ctx_train));
    }
    ForwardState st(m, ForwardOptions{.n_threads = a.threads, .n_seq = 1, .n_ctx = n_ctx});
    Stats pp{"pp" + std::to_string(a.n_prompt), {}}, tg{"tg" + std::to_string(a.n_gen), {}};
    if (Status s = measure(m, st, a, pp, tg); !s) return fail(s.message());
    std::vector<Stats> all;
    if (a.n_prompt > 0) all.push_back(pp);
    if (a.n_gen > 0) all.push_back(tg);
    if (!a.json) {
        print_table(m, a, st.pool.size(), all);
        return 0;
    }
    nlohmann::json results = nlohmann::json::array();
    for (const Stats& s : all) {
        results.push_back({{"test", s.test},
                           {"tokens_per_s_median", s.median()},
                           {"tokens_per_s_mean", s.mean()},
                           {"tokens_per_s_stddev", s.stddev()},
                           {"samples", s.samples}});
    }
    nlohmann::json out = {{"model", a.model},
                          {"architecture", m.hp.arch},
                          {"size_bytes", m.weight_bytes()},
                          {"params", parameter_count(m)},
                          {"isa", isa_name(kernels().isa)},
                          {"threads", st.pool.size()},
                          {"reps", a.reps},
                          {"n_ctx", n_ctx},
                          {"peak_rss_bytes", peak_rss_bytes()},
                          {"results", results}};
    std::printf("%s\n", out.dump(2).c_str());
    return 0;
}

}  // namespace

VerbRunner add_bench(CLI::App& app) {
    auto a = std::make_shared<BenchArgs>();
    CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
    bench->require_subcommand(1);
    CLI::App* c = bench->add_subcommand("run", "Prompt processing (pp) and generation (tg) speed");
    c->add_option("-m,--model", a->model, "GGUF model file")->required();
    c->add_option("-p,--n-prompt", a->n_prompt, "Prompt tokens")->check(CLI::Range(0, 1 << 20));
    c->add_option("-n,--n-gen", a->n_gen, "Generated tokens")->check(CLI::Range(0, 1 << 20));
    c->add_option("-t,--threads", a->threads, "Compute threads")->check(CLI::Range(0, 1024));
    c->add_option("-r,--reps", a->reps, "Repetitions")->check(CLI::Range(1, 1000));
    c->add_flag("--json", a->json, "JSON output");
    VerbRunner batch = add_bench_batch(*bench);
    VerbRunner serve = add_bench_serve(*bench);
    return [a, c, bench, batch, serve] {
        if (c->parsed()) return run(*a);
        return bench->got_subcommand("serve") ? serve() : batch();
    };
}

}  // namespace citadel::cli
