// The HTTP API of `citadel serve`: routes each request to its handler (OpenAI, Ollama,
// tokenizer utilities, health), parses the body into internal structs, and hands generation
// to the model's engine through a GenerationJob. Handlers run on I/O threads and never block.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/errors.h"
#include "api/gateway_glue.h"
#include "api/model_settings.h"
#include "gateway/gateway.h"
#include "ops/metrics.h"
#include "ops/model_registry.h"
#include "ops/tracing.h"
#include "server/http_server.h"

namespace citadel::api {

class UpstreamProxy;

struct ServiceOptions {
    std::string version = "0.1.0";
    // Benchmarks: models that answer /v1/chat/completions at once with a fixed reply, after
    // every gateway filter, so the gateway's own cost can be measured (--bench-stub-model).
    std::vector<std::string> stub_models;
    // Where requests are counted (GET /metrics shows it); null: the service keeps its own.
    ops::Metrics* metrics = nullptr;
    // When set, one span per request goes to this OTLP collector (--otlp-endpoint).
    ops::SpanExporter* tracer = nullptr;
    // Upstream and routed (canary) models (upstream_proxy.h); null: none. Not owned.
    UpstreamProxy* upstreams = nullptr;
    // Aliases and sampling defaults per model (model_settings.h).
    ModelSettingsTable model_settings;
};

struct RouteEntry;
enum class Wire;  // generation.h

class Service {
  public:
    Service(ops::ModelRegistry& models, gateway::Gateway& gateway, ServiceOptions options);

    void handle(server::Request&& req, std::shared_ptr<server::Responder> res);

  private:
    using Res = std::shared_ptr<server::Responder>;
    using Route = void (Service::*)(const server::Request&, const Res&, const Scope&);
    // The route for `method` and `path`; `known` says whether the path exists at all.
    static const RouteEntry* find_route(const std::string& method, const std::string& path,
                                        bool& known);

    // Generation.
    void chat(const server::Request& req, const Res& res, const Scope& scope);
    void completions(const server::Request& req, const Res& res, const Scope& scope);
    void ollama_chat(const server::Request& req, const Res& res, const Scope& scope);
    void ollama_generate(const server::Request& req, const Res& res, const Scope& scope);
    // Information and utilities.
    void health(const server::Request& req, const Res& res, const Scope& scope);
    void ready(const server::Request& req, const Res& res, const Scope& scope);
    void list_models(const server::Request& req, const Res& res, const Scope& scope);
    void get_model(const server::Request& req, const Res& res, const Scope& scope);
    void tokenize(const server::Request& req, const Res& res, const Scope& scope);
    void detokenize(const server::Request& req, const Res& res, const Scope& scope);
    void ollama_tags(const server::Request& req, const Res& res, const Scope& scope);
    void ollama_show(const server::Request& req, const Res& res, const Scope& scope);
    void ollama_version(const server::Request& req, const Res& res, const Scope& scope);
    void metrics(const server::Request& req, const Res& res, const Scope& scope);
    // Administration (admin role).
    void admin_list_keys(const server::Request& req, const Res& res, const Scope& scope);
    void admin_create_key(const server::Request& req, const Res& res, const Scope& scope);
    void admin_key_action(const server::Request& req, const Res& res, const Scope& scope);
    void admin_usage(const server::Request& req, const Res& res, const Scope& scope);
    void admin_model_action(const server::Request& req, const Res& res, const Scope& scope);

    // The gateway's checks for an inference request on `model` (allowed for the identity,
    // within its limits); the error to answer, or nothing.
    std::optional<ApiError> admit(const Scope& scope, const std::string& model);
    // Input guards on the texts; the error to answer, or nothing (texts may be redacted).
    std::optional<ApiError> guard(const Scope& scope, const MessageTexts& texts);

    // Routing (routed_handlers.cpp). A routed name becomes its pick by weight in `model`;
    // true when the request went to an upstream (and is answered from there).
    // `wire` is the client's API (OpenAI chat or completions, Ollama chat or generate).
    bool route(const server::Request& req, const Res& res, const Scope& scope, std::string& model,
               Wire wire);
    void proxy(const server::Request& req, const Res& res, const Scope& scope,
               const std::string& model, Wire wire);
    std::vector<std::string> routed_names() const;  // upstream and routed models

    bool is_stub(const std::string& model) const;
    void stub_chat(const ChatRequest& r, const Res& res, const Scope& scope);

    // The configured model `name` names (the only one when `name` is empty and one is
    // configured), or 404 model_not_found / 400 when a name is required.
    std::variant<std::string, ApiError> model_name(const std::string& name) const;
    // Runs `go` with model `name` loaded (now, or after an on-demand load), or answers the
    // error (503 when it failed to load or too many requests wait for it).
    void with_model(const std::string& name, const Res& res, bool ollama,
                    std::function<void(std::shared_ptr<ops::LoadedModel>)> go);

    ops::ModelRegistry& models_;
    gateway::Gateway& gateway_;
    ServiceOptions options_;
    std::unique_ptr<ops::Metrics> own_metrics_;  // when options_ gave none
    ops::Metrics* metrics_;                      // never null
};

// "chatcmpl-" + 24 random alphanumerics.
std::string make_id(const char* prefix);

}  // namespace citadel::api
