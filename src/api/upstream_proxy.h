// Routing to upstream OpenAI-compatible servers: models served elsewhere (vLLM, TGI,
// llama-server, another Citadel), each with a pool of endpoints (ops/upstream_pool.h), and
// routed names that split traffic by weight between other models (canary releases).
//
// A request reaches forward() after every gateway filter (authentication, model access,
// limits, input guards, classifier); the proxy sends the (possibly redacted) body with
// `model` rewritten to the upstream's name, and relays the answer: one body, or SSE chunk by
// chunk as it arrives, through the output PII redaction, charging the upstream's `usage`.
// A failure before anything reached the client (connect error, timeout, 5xx) is retried on
// another endpoint; once streaming, a failure ends the client's stream with an SSE error event
// and `data: [DONE]`. A client that goes away cancels the upstream request.
//
// Threading: one I/O thread of its own runs every upstream call and the active health checks
// (GET /health every `health_interval_ms`); forward() may be called from any thread and
// returns at once. The destructor stops that thread; calls still running end (their clients
// get an error).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/gateway_glue.h"
#include "core/status.h"
#include "ops/upstream_pool.h"
#include "server/http_server.h"

namespace citadel::api {

struct UpstreamSpec {
    std::string name;               // the model id clients ask for
    std::vector<std::string> urls;  // http[s]://host:port[/base] (the /v1/... path is appended)
    std::string upstream_model;     // the model's name upstream; empty: the same as `name`
    std::string api_key;            // sent as `Authorization: Bearer` (never the client's)
};

struct WeightedRoute {
    std::string model;  // another configured model (local or upstream)
    double weight = 0;
};

struct RouteSpec {
    std::string name;
    std::vector<WeightedRoute> routes;
};

struct UpstreamTimeouts {
    int connect_ms = 3000;
    int first_byte_ms = 60000;  // from the request sent to the response head
    int idle_ms = 30000;        // between two pieces of the body
};

struct RoutingConfig {
    std::vector<UpstreamSpec> upstreams;
    std::vector<RouteSpec> routes;
    ops::UpstreamPoolOptions pool;
    UpstreamTimeouts timeouts;
    int health_interval_ms = 2000;
    std::string health_path = "/health";
    std::string ca_file;  // extra trusted CA certificates (PEM) for https upstreams
};

// "NAME=URL[,URL...]" (the --upstream flag).
Result<UpstreamSpec> parse_upstream_arg(const std::string& arg);

// What forward() needs of one request.
struct ProxiedRequest {
    std::string path;  // "/v1/chat/completions" or "/v1/completions"
    std::string body;  // JSON, `model` already rewritten
    bool stream = false;
    bool client_wants_usage = false;  // stream_options.include_usage as the client sent it
    std::string reply_model;          // the `model` the client is told
    std::string text_field;           // "content" (chat deltas/messages) or "text" (completions)
    std::string traceparent;          // the client's, or empty (a new one is made)
};

class UpstreamCall;
struct UpstreamShared;

class UpstreamProxy {
  public:
    // Checks the urls and routes (names in `local_models` are valid route targets too) and
    // starts the I/O thread and the health checks.
    static Result<std::unique_ptr<UpstreamProxy>> create(
        RoutingConfig config, const std::vector<std::string>& local_models);
    ~UpstreamProxy();
    UpstreamProxy(const UpstreamProxy&) = delete;
    UpstreamProxy& operator=(const UpstreamProxy&) = delete;

    bool is_upstream(const std::string& name) const;
    bool is_routed(const std::string& name) const;
    // The model a request for `name` goes to: a routed name's pick by weight (with `random`
    // in [0, 1)), else `name` itself.
    std::string route(const std::string& name, double random) const;
    // The upstream's own name for the model `name`.
    std::string upstream_model(const std::string& name) const;
    // Upstream and routed names, for /v1/models.
    std::vector<std::string> names() const;
    const ops::UpstreamPool* pool(const std::string& name) const;

    // Sends `request` to an endpoint of the upstream model `name` and answers `res`.
    void forward(const std::string& name, ProxiedRequest request, Scope scope,
                 std::shared_ptr<server::Responder> res);

  private:
    explicit UpstreamProxy(RoutingConfig config);
    void start();
    void schedule_health_checks();

    RoutingConfig config_;
    std::shared_ptr<UpstreamShared> shared_;
};

}  // namespace citadel::api
