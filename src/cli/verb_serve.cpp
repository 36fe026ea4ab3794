// citadel serve: the OpenAI- and Ollama-compatible HTTP server. Models load in the
// background (/health answers at once, /ready once all are loaded); SIGTERM or SIGINT stops
// accepting, lets in-flight requests finish within --shutdown-timeout, and exits 0. SIGHUP
// re-reads the TLS certificates and the JWT keys. Every request passes the gateway
// (cli/gateway_options.h).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "api/service.h"
#include "api/upstream_proxy.h"
#include "cli/common.h"
#include "cli/engine_options.h"
#include "cli/gateway_options.h"
#include "cli/serve_config.h"
#include "cli/verbs.h"
#include "core/log.h"
#include "gateway/gateway.h"
#include "gateway/key_store.h"
#include "ops/tracing.h"
#include "quant/synth.h"
#include "server/http_server.h"

namespace citadel::cli {
namespace {

struct ServeArgs {
    std::vector<std::string> models;
    std::string host = "127.0.0.1";
    int port = 8080;
    std::string config;
    EngineArgs engine;
    int max_queue = 256;
    std::string max_body = "8MiB";
    std::string max_header = "16KiB";
    std::string header_timeout = "10s";
    std::string body_timeout = "30s";
    std::string idle_timeout = "75s";
    std::string shutdown_timeout = "30s";
    int max_connections = 4096;
    int io_threads = 2;
    std::string demo_dir;
    std::string demo_tokenizer;
    bool verbose = false;
    std::vector<std::string> stub_models;
    std::string models_dir;
    std::string idle_unload;
    std::string models_memory;
    std::string otlp_endpoint;
    std::string otlp_service = "citadel";
    std::vector<std::string> upstreams;
    std::string upstream_health_interval = "2s";
    std::string upstream_ca;
    GatewayArgs gateway;
};

void add_options(CLI::App& c, ServeArgs& a) {
    c.add_option("-m,--model", a.models, "Model to serve: NAME=FILE.gguf (repeatable)");
    c.add_option("--host", a.host, "Address to listen on")->default_str(a.host);
    c.add_option("--port", a.port, "Port (0: any free port)")
        ->check(CLI::Range(0, 65535))
        ->default_val(a.port);
    c.add_option("--config", a.config, "YAML file with any of these options (flags win)");
    add_engine_options(c, a.engine);
    c.add_option("--max-queue", a.max_queue,
                 "Requests waiting per model beyond which new ones get 503")
        ->check(CLI::Range(1, 1 << 20))
        ->default_val(a.max_queue);
    c.add_option("--max-body", a.max_body, "Largest request body (413 beyond)")
        ->default_str(a.max_body);
    c.add_option("--max-header", a.max_header, "Largest request head (431 beyond)")
        ->default_str(a.max_header);
    c.add_option("--header-timeout", a.header_timeout, "Time to receive a request head (408)")
        ->default_str(a.header_timeout);
    c.add_option("--body-timeout", a.body_timeout, "Time to receive a request body (408)")
        ->default_str(a.body_timeout);
    c.add_option("--idle-timeout", a.idle_timeout, "Idle keep-alive connections close after")
        ->default_str(a.idle_timeout);
    c.add_option("--shutdown-timeout", a.shutdown_timeout,
                 "On SIGTERM, how long in-flight requests may take to finish")
        ->default_str(a.shutdown_timeout);
    c.add_option("--max-connections", a.max_connections, "Open connections at most (503 beyond)")
        ->check(CLI::Range(1, 1 << 20))
        ->default_val(a.max_connections);
    c.add_option("--io-threads", a.io_threads, "Threads for network I/O")
        ->check(CLI::Range(1, 64))
        ->default_val(a.io_threads);
    c.add_flag("-v,--verbose", a.verbose, "Debug logs (connections, requests)");
    c.add_option("--models-dir", a.models_dir,
                 "Serve every *.gguf in this directory (named after the file), loaded on demand");
    c.add_option("--idle-unload", a.idle_unload,
                 "Unload on-demand models idle for this long (e.g. 10m; default: never)");
    c.add_option("--models-memory", a.models_memory,
                 "Memory for all loaded models (file + KV each); least recently used on-demand "
                 "models are unloaded to make room (default: no limit)");
    c.add_option("--otlp-endpoint", a.otlp_endpoint,
                 "Send one span per request to this OpenTelemetry collector "
                 "(OTLP/HTTP JSON, e.g. http://collector:4318/v1/traces)");
    c.add_option("--otlp-service-name", a.otlp_service, "service.name of the spans")
        ->default_str("citadel");
    add_gateway_options(c, a.gateway);
    c.add_option("--bench-stub-model", a.stub_models,
                 "Benchmarks: a chat model that answers at once with a fixed reply, after every "
                 "gateway filter (repeatable)");
    c.add_option("--upstream", a.upstreams,
                 "A model served by OpenAI-compatible servers: NAME=URL[,URL...] (repeatable); "
                 "requests are balanced over the URLs after every gateway filter");
    c.add_option("--upstream-health-interval", a.upstream_health_interval,
                 "How often each upstream URL's /health is checked")
        ->default_str(a.upstream_health_interval);
    c.add_option("--upstream-ca", a.upstream_ca,
                 "PEM file of CA certificates trusted for https upstreams, besides the system's");
    c.add_option("--demo-dir", a.demo_dir,
                 "Where the random-weights demo model is written when no model is configured");
    c.add_option("--demo-tokenizer", a.demo_tokenizer,
                 "Hugging Face tokenizer directory for the demo model (default: synthetic)");
}

Result<server::ServerLimits> server_limits(const ServeArgs& a) {
    server::ServerLimits l;
    Result<size_t> body = parse_memory_size(a.max_body);
    if (!body) return Status::error("--max-body: " + body.error());
    Result<size_t> head = parse_memory_size(a.max_header);
    if (!head) return Status::error("--max-header: " + head.error());
    l.max_body_bytes = *body;
    l.max_header_bytes = *head;
    const std::pair<const std::string*, int*> timeouts[] = {
        {&a.header_timeout, &l.header_timeout_ms},
        {&a.body_timeout, &l.body_timeout_ms},
        {&a.idle_timeout, &l.idle_timeout_ms}};
    for (auto [text, out] : timeouts) {
        Result<int64_t> ms = parse_duration_ms(*text);
        if (!ms) return ms.status();
        *out = int(std::min<int64_t>(*ms, 1 << 30));
    }
    l.max_connections = a.max_connections;
    l.io_threads = a.io_threads;
    return l;
}

// No model configured: say how to get one, and serve a tiny random-weights model.
Result<ops::ModelSpec> demo_model(const ServeArgs& a) {
    std::fprintf(
        stderr,
        "\ncitadel: no model configured. Serve one with\n"
        "    citadel serve -m NAME=/path/to/model.gguf\n"
        "  (GGUF files: e.g. the Qwen2.5-0.5B-Instruct GGUF release on Hugging Face),\n"
        "  or list models in a YAML file: citadel serve --config citadel.yaml\n\n"
        "  *** Serving a DEMO model with RANDOM WEIGHTS: its replies are gibberish. ***\n\n");
    const std::string dir =
        a.demo_dir.empty() ? std::filesystem::temp_directory_path().string() : a.demo_dir;
    const std::string path = dir + "/citadel-demo-random-weights.gguf";
    if (!std::filesystem::exists(path)) {
        std::optional<quant::TokenizerData> tok;
        const quant::ModelShape* shape = quant::find_preset("tiny-qwen3");
        if (!a.demo_tokenizer.empty()) {
            Result<quant::TokenizerData> t =
                quant::load_hf_tokenizer(a.demo_tokenizer, shape->tokenizer_pre);
            if (!t) return t.status();
            tok = std::move(t).value();
        }
        Result<quant::SynthReport> r =
            quant::synth_model(*shape, {.output = path,
                                        .mix = *quant::find_mix("q8_0"),
                                        .seed = 1,
                                        .tokenizer = tok ? &*tok : nullptr});
        if (!r) return r.status();
    }
    return ops::ModelSpec{.name = "demo-random-weights", .path = path};
}

// Models with a `url` and no `path` are kept in --models-dir (else DATA-DIR/models), under
// the URL's file name.
Status place_downloads(const ServeArgs& a, std::vector<ops::ModelSpec>& specs) {
    const std::string dir = !a.models_dir.empty() ? a.models_dir : a.gateway.data_dir + "/models";
    for (ops::ModelSpec& s : specs) {
        if (s.source.empty() || !s.path.empty()) continue;
        std::string file = s.source.substr(0, s.source.find_first_of("?#"));
        file = file.substr(file.find_last_of('/') + 1);
        if (file.empty() || file == "." || file == "..")
            return Status::error("model '" + s.name + "': url " + s.source +
                                 " names no file; give path: too");
        s.path = dir + "/" + file;
    }
    return ok_status();
}

// Every *.gguf in `dir` (sorted), on demand, named after its file; configured names win.
Status add_models_dir(const std::string& dir, std::vector<ops::ModelSpec>& specs) {
    std::error_code ec;
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.is_regular_file() && entry.path().extension() == ".gguf")
            files.push_back(entry.path());
    }
    if (ec) return Status::error("--models-dir " + dir + ": " + ec.message());
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        const std::string name = f.stem().string();
        bool taken = false;
        for (const auto& s : specs) {
            std::error_code same_ec;
            taken |= s.name == name || std::filesystem::equivalent(s.path, f, same_ec);
        }
        if (taken) continue;
        ops::ModelSpec spec{.name = name, .path = f.string()};
        spec.on_demand = true;
        specs.push_back(std::move(spec));
    }
    return ok_status();
}

Result<std::vector<ops::ModelSpec>> model_specs(CLI::App& cmd, ServeArgs& a,
                                                api::RoutingConfig& routing,
                                                std::vector<api::ModelSettings>& settings) {
    std::vector<ops::ModelSpec> specs;
    if (!a.config.empty()) CITADEL_TRY(apply_yaml_config(cmd, a.config, specs, routing, &settings));
    routing.ca_file = a.upstream_ca;
    for (const std::string& u : a.upstreams) {
        Result<api::UpstreamSpec> s = api::parse_upstream_arg(u);
        if (!s) return s.status();
        routing.upstreams.push_back(std::move(*s));
    }
    Result<int64_t> interval = parse_duration_ms(a.upstream_health_interval);
    if (!interval || *interval < 100)
        return Status::error(
            "--upstream-health-interval: expected a duration of 100ms or more, got '" +
            a.upstream_health_interval + "'");
    routing.health_interval_ms = int(std::min<int64_t>(*interval, 1 << 30));
    for (const std::string& m : a.models) {
        Result<ops::ModelSpec> s = parse_model_arg(m);
        if (!s) return s.status();
        specs.push_back(std::move(*s));
    }
    CITADEL_TRY(place_downloads(a, specs));
    if (!a.models_dir.empty()) CITADEL_TRY(add_models_dir(a.models_dir, specs));
    if (!a.idle_unload.empty()) {
        Result<int64_t> ms = parse_duration_ms(a.idle_unload);
        if (!ms) return Status::error("--idle-unload: " + ms.error());
        for (ops::ModelSpec& s : specs) {
            if (s.on_demand && s.idle_unload_ms == 0) s.idle_unload_ms = *ms;
        }
    }
    if (specs.empty() && a.stub_models.empty() && routing.upstreams.empty()) {
        Result<ops::ModelSpec> demo = demo_model(a);
        if (!demo) return Status::error("demo model: " + demo.error());
        specs.push_back(std::move(*demo));
    }
    for (size_t i = 0; i < specs.size(); ++i) {
        for (size_t j = 0; j < i; ++j) {
            if (specs[i].name == specs[j].name)
                return Status::error("model name '" + specs[i].name + "' is given twice");
        }
        if (specs[i].source.empty() && !std::filesystem::is_regular_file(specs[i].path))
            return Status::error("model '" + specs[i].name + "': no such file " + specs[i].path);
    }
    return specs;
}

// Says how to get a first credential when auth is on and there is none yet.
void hint_first_key(const gateway::Gateway& gw) {
    if (!gw.auth_enabled() || gw.config().jwt || !gw.config().mtls_identities.empty()) return;
    if (!gw.keys()) return;
    auto list = gw.keys()->list();
    if (!list) return;
    for (const auto& k : *list) {
        if (k.revoked_unix == 0) return;
    }
    std::fprintf(stderr,
                 "citadel: authentication is on and %s holds no API key yet. Create one with\n"
                 "    citadel keys create --db %s --name admin --role admin\n"
                 "  (or serve on 127.0.0.1 with --no-auth for local experiments)\n",
                 gw.config().keys_db.c_str(), gw.config().keys_db.c_str());
}

// Waits for SIGINT/SIGTERM (stop) or SIGUSR1 (a model failed to load); SIGHUP reloads.
int wait_for_stop(const sigset_t& signals, server::HttpServer& server, gateway::Gateway& gw,
                  bool tls) {
    for (;;) {
        int sig = 0;
        sigwait(&signals, &sig);
        if (sig != SIGHUP) return sig;
        CITADEL_LOG_INFO("SIGHUP: reloading TLS certificates and JWT keys");
        if (tls) {
            Status s = server.reload_tls();
            if (!s.ok())
                CITADEL_LOG_WARN("TLS reload failed (old certificates stay): %s",
                                 s.message().c_str());
        }
        const std::string problem = gw.reload();
        if (!problem.empty()) CITADEL_LOG_WARN("reload: %s", problem.c_str());
    }
}

int run(CLI::App& cmd, ServeArgs& a) {
    set_log_level(a.verbose ? LogLevel::kDebug : LogLevel::kInfo);  // a server says what it does
    api::RoutingConfig routing;
    std::vector<api::ModelSettings> settings;
    Result<std::vector<ops::ModelSpec>> specs = model_specs(cmd, a, routing, settings);
    if (!specs) return fail(specs.error());
    Result<server::ServerLimits> limits = server_limits(a);
    if (!limits) return fail(limits.error());
    Result<int64_t> shutdown_ms = parse_duration_ms(a.shutdown_timeout);
    if (!shutdown_ms) return fail("--shutdown-timeout: " + shutdown_ms.error());
    Result<EngineOptions> engine = engine_options(a.engine, "");
    if (!engine) return fail(engine.error());
    engine->max_waiting = size_t(a.max_queue);
    Result<gateway::GatewayConfig> gw_config = gateway_config(a.gateway, a.config, a.host);
    if (!gw_config) return fail(gw_config.error());
    const server::TlsOptions tls = tls_options(a.gateway);
    if (tls.cert_file.empty() != tls.key_file.empty())
        return fail("--tls-cert and --tls-key go together");

    // Signals are taken by this thread only (sigwait); every thread started later inherits
    // the mask.
    sigset_t signals;
    sigemptyset(&signals);
    for (int s : {SIGINT, SIGTERM, SIGUSR1, SIGHUP}) sigaddset(&signals, s);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);

    Result<std::unique_ptr<gateway::Gateway>> gw = gateway::Gateway::create(std::move(*gw_config));
    if (!gw) return fail(gw.error());
    hint_first_key(**gw);
    ops::RegistryOptions registry_options;
    if (!a.models_memory.empty()) {
        Result<size_t> budget = parse_memory_size(a.models_memory);
        if (!budget) return fail("--models-memory: " + budget.error());
        registry_options.memory_budget = *budget;
    }
    std::vector<std::string> local_names = a.stub_models;
    for (const ops::ModelSpec& m : *specs) local_names.push_back(m.name);
    std::vector<std::string> all_names = local_names;
    for (const api::UpstreamSpec& u : routing.upstreams) all_names.push_back(u.name);
    for (const api::RouteSpec& r : routing.routes) all_names.push_back(r.name);
    Result<api::ModelSettingsTable> model_settings =
        api::ModelSettingsTable::create(settings, all_names);
    if (!model_settings) return fail(model_settings.error());
    std::unique_ptr<api::UpstreamProxy> upstreams;  // outlives the server: its calls answer clients
    if (!routing.upstreams.empty() || !routing.routes.empty()) {
        Result<std::unique_ptr<api::UpstreamProxy>> p =
            api::UpstreamProxy::create(std::move(routing), local_names);
        if (!p) return fail(p.error());
        upstreams = std::move(*p);
    }
    ops::Metrics metrics;  // GET /metrics
    ops::ModelRegistry registry(std::move(*specs), *engine, registry_options, &metrics);
    std::unique_ptr<ops::SpanExporter> tracer;
    if (!a.otlp_endpoint.empty()) {
        auto t = ops::SpanExporter::create(
            {.endpoint = a.otlp_endpoint, .service_name = a.otlp_service});
        if (!t) return fail(t.error());
        tracer = std::move(*t);
    }
    api::Service service(registry, **gw,
                         {.stub_models = a.stub_models,
                          .metrics = &metrics,
                          .tracer = tracer.get(),
                          .upstreams = upstreams.get(),
                          .model_settings = std::move(*model_settings)});
    Result<std::unique_ptr<server::HttpServer>> server = server::HttpServer::start(
        a.host, a.port, *limits,
        [&service](server::Request&& req, std::shared_ptr<server::Responder> res) {
            service.handle(std::move(req), std::move(res));
        },
        tls);
    if (!server) return fail(server.error());
    std::fprintf(stderr, "citadel: listening on %s://%s:%d\n",
                 tls.cert_file.empty() ? "http" : "https", a.host.c_str(), (*server)->port());
    std::fflush(stderr);
    registry.start_loading();
    std::thread watcher([&registry] {
        registry.wait_loaded();
        if (registry.any_failed()) ::kill(::getpid(), SIGUSR1);
    });

    const int sig = wait_for_stop(signals, **server, **gw, !tls.cert_file.empty());
    const bool load_failed = sig == SIGUSR1;
    if (load_failed)
        CITADEL_LOG_WARN("a model failed to load; shutting down");
    else
        CITADEL_LOG_INFO("signal %d: shutting down (up to %s for in-flight requests)", sig,
                         a.shutdown_timeout.c_str());
    const size_t cut = (*server)->shutdown(int(std::min<int64_t>(*shutdown_ms, 1 << 30)));
    if (cut > 0) CITADEL_LOG_WARN("%zu requests were still running and were cut", cut);
    registry.shutdown();
    watcher.join();
    server->reset();
    return load_failed ? 1 : 0;
}

}  // namespace

VerbRunner add_serve(CLI::App& app) {
    auto a = std::make_shared<ServeArgs>();
    CLI::App* c =
        app.add_subcommand("serve", "Serve models over an OpenAI- and Ollama-compatible HTTP API");
    add_options(*c, *a);
    return [a, c] { return run(*c, *a); };
}

}  // namespace citadel::cli
