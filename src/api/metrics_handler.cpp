// GET /metrics: the service's metrics in Prometheus' text format. What the engines and the
// registry know (queue lengths, token counts, KV cache use, load times) is read at scrape
// time; what happens per request was counted as it happened (ops/metrics.h).
#include "api/service.h"
#include "api/upstream_proxy.h"

namespace citadel::api {
namespace {

using ops::Metric;

// One engine's counters and gauges, labelled with its model's name.
void record_engine(ops::Metrics& m, const std::string& name, const EngineStats& s) {
    m.set(Metric::kRequestsRunning, {name}, s.running);
    m.set(Metric::kRequestsWaiting, {name}, s.waiting);
    m.set(Metric::kPromptTokens, {name}, double(s.prompt_tokens));
    m.set(Metric::kGenerationTokens, {name}, double(s.generated_tokens));
    m.set(Metric::kKvCacheUsage, {name},
          s.kv_blocks_total > 0 ? double(s.kv_blocks_used) / double(s.kv_blocks_total) : 0.0);
    m.set(Metric::kPrefixCacheQueries, {name}, double(s.prefix_queried_tokens));
    m.set(Metric::kPrefixCacheHits, {name}, double(s.prefix_hit_tokens));
    m.set(Metric::kPreemptions, {name}, double(s.preemptions));
}

// Each upstream endpoint's state as its pool sees it now.
void record_upstreams(ops::Metrics& m, const UpstreamProxy& proxy) {
    for (const std::string& name : proxy.names()) {
        const ops::UpstreamPool* pool = proxy.pool(name);
        if (pool == nullptr) continue;  // a routed (canary) name
        for (const ops::UpstreamEndpointState& e : pool->snapshot()) {
            m.set(Metric::kUpstreamUp, {name, e.url}, e.healthy && !e.ejected ? 1 : 0);
            m.set(Metric::kUpstreamOutstanding, {name, e.url}, e.outstanding);
            m.set(Metric::kUpstreamRequests, {name, e.url}, double(e.requests));
        }
        m.set(Metric::kUpstreamCircuitOpen, {name}, pool->breaker_open() ? 1 : 0);
    }
}

}  // namespace

void Service::metrics(const server::Request&, const Res& res, const Scope&) {
    int loaded = 0;
    for (const auto& e : models_.list()) {
        if (!e.loaded) continue;
        ++loaded;
        metrics_->set(Metric::kModelLoadSeconds, {e.name}, e.loaded->load_seconds);
        if (e.loaded->engine) record_engine(*metrics_, e.name, e.loaded->engine->stats());
    }
    metrics_->set(Metric::kModelsLoaded, {}, loaded);
    metrics_->set(Metric::kReady, {}, models_.all_ready() ? 1 : 0);
    if (options_.upstreams) record_upstreams(*metrics_, *options_.upstreams);
    metrics_->sample_process();
    res->send(200, "text/plain; version=0.0.4; charset=utf-8", metrics_->expose());
}

}  // namespace citadel::api
