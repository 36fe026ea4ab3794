#include "api/service.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "api/ollama.h"
#include "api/openai_request.h"
#include "api/openai_response.h"
#include "api/respond.h"
#include "api/trace_responder.h"
#include "api/upstream_proxy.h"
#include "tensor/dtype.h"

namespace citadel::api {
namespace {

using nlohmann::ordered_json;
using server::Request;

bool path_matches(const char* pattern, const std::string& path) {
    const std::string_view p(pattern);
    if (p.back() == '/' && p.size() > 1) return path.size() > p.size() && path.starts_with(p);
    return path == p;
}

bool is_ollama(const std::string& path) {
    return path.starts_with("/api/");
}

// "%2F" -> "/" (model ids such as "Qwen/Qwen2.5-0.5B" arrive percent-encoded in paths).
std::string percent_decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() &&
            std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            out += char(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string dump(const ordered_json& j) {
    return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

// {model: {available, circuit_open, endpoints: [{url, healthy, ejected, outstanding}]}}.
ordered_json upstream_states(const UpstreamProxy& proxy) {
    ordered_json out = ordered_json::object();
    for (const std::string& name : proxy.names()) {
        const ops::UpstreamPool* pool = proxy.pool(name);
        if (pool == nullptr) continue;
        ordered_json endpoints = ordered_json::array();
        int available = 0;
        for (const ops::UpstreamEndpointState& e : pool->snapshot()) {
            available += e.healthy && !e.ejected ? 1 : 0;
            ordered_json state = {{"url", e.url},
                                  {"healthy", e.healthy},
                                  {"ejected", e.ejected},
                                  {"outstanding", e.outstanding}};
            if (!e.last_error.empty()) state["error"] = e.last_error;
            endpoints.push_back(std::move(state));
        }
        out[name] = {{"available", available},
                     {"circuit_open", pool->breaker_open()},
                     {"endpoints", std::move(endpoints)}};
    }
    return out;
}

// Parameters and the dominant weight type ("Q8_0"), as Ollama reports them.
struct WeightSummary {
    int64_t parameters = 0;
    std::string type;
};

WeightSummary summarize(const Model& m) {
    std::map<std::string, int64_t> by_type;
    WeightSummary s;
    for (const gguf::TensorInfo& t : m.file->tensors()) {
        by_type[dtype_name(t.type)] += t.n_elements();
        s.parameters += t.n_elements();
    }
    int64_t most = -1;
    for (const auto& [type, n] : by_type) {
        if (n > most) most = n, s.type = type;
    }
    for (char& c : s.type) c = char(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

std::string parameter_size(int64_t n) {
    char buf[32];
    if (n >= 1000000000)
        std::snprintf(buf, sizeof buf, "%.1fB", double(n) / 1e9);
    else
        std::snprintf(buf, sizeof buf, "%.1fM", double(n) / 1e6);
    return buf;
}

// Identifies the file version (path, size, modification time); not a content hash.
std::string file_digest(const ops::LoadedModel& m) {
    const std::string key =
        m.path + "|" + std::to_string(m.file_bytes) + "|" + std::to_string(m.created_unix);
    uint64_t h1 = 1469598103934665603ull, h2 = 1099511628211ull;
    for (unsigned char c : key)
        h1 = (h1 ^ c) * 1099511628211ull, h2 = (h2 + c) * 6364136223846793005ull;
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(h1),
                  static_cast<unsigned long long>(h2));
    return buf;
}

OllamaModel ollama_model(const ops::LoadedModel& m) {
    const WeightSummary w = summarize(*m.model);
    return OllamaModel{.name = m.name,
                       .size_bytes = int64_t(m.file_bytes),
                       .digest = file_digest(m),
                       .family = m.model->hp.arch,
                       .parameter_size = parameter_size(w.parameters),
                       .quantization = w.type,
                       .modified_unix = m.created_unix};
}

}  // namespace

std::string make_id(const char* prefix) {
    static const char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string id = prefix;
    for (int i = 0; i < 24; ++i) id += kAlnum[rng() % (sizeof kAlnum - 1)];
    return id;
}

Service::Service(ops::ModelRegistry& models, gateway::Gateway& gateway, ServiceOptions options)
    : models_(models), gateway_(gateway), options_(std::move(options)) {
    if (!options_.metrics) own_metrics_ = std::make_unique<ops::Metrics>();
    metrics_ = options_.metrics ? options_.metrics : own_metrics_.get();
}

struct RouteEntry {
    const char* method;
    const char* path;  // exact, or a prefix when it ends with '/'
    gateway::Access access;
    void (Service::*handler)(const Request&, const std::shared_ptr<server::Responder>&,
                             const Scope&);
    // The body names a model: its aliases resolve; kGenerates: its sampling defaults apply.
    enum class Names { kNoModel, kModel, kGenerates } names = Names::kNoModel;
};

using gateway::Access;

const RouteEntry* Service::find_route(const std::string& method, const std::string& path,
                                      bool& known) {
    static const RouteEntry kRoutes[] = {
        {"POST", "/v1/chat/completions", Access::kUser, &Service::chat,
         RouteEntry::Names::kGenerates},
        {"POST", "/v1/completions", Access::kUser, &Service::completions,
         RouteEntry::Names::kGenerates},
        {"GET", "/v1/models", Access::kViewer, &Service::list_models},
        {"GET", "/v1/models/", Access::kViewer, &Service::get_model},
        {"POST", "/tokenize", Access::kUser, &Service::tokenize, RouteEntry::Names::kModel},
        {"POST", "/detokenize", Access::kUser, &Service::detokenize, RouteEntry::Names::kModel},
        {"GET", "/health", Access::kPublic, &Service::health},
        {"GET", "/ready", Access::kPublic, &Service::ready},
        {"GET", "/metrics", Access::kMetrics, &Service::metrics},
        {"POST", "/api/chat", Access::kUser, &Service::ollama_chat, RouteEntry::Names::kGenerates},
        {"POST", "/api/generate", Access::kUser, &Service::ollama_generate,
         RouteEntry::Names::kGenerates},
        {"GET", "/api/tags", Access::kViewer, &Service::ollama_tags},
        {"POST", "/api/show", Access::kViewer, &Service::ollama_show, RouteEntry::Names::kModel},
        {"GET", "/api/version", Access::kViewer, &Service::ollama_version},
        {"GET", "/admin/keys", Access::kAdmin, &Service::admin_list_keys},
        {"POST", "/admin/keys", Access::kAdmin, &Service::admin_create_key},
        {"DELETE", "/admin/keys/", Access::kAdmin, &Service::admin_key_action},
        {"POST", "/admin/keys/", Access::kAdmin, &Service::admin_key_action},
        {"GET", "/admin/usage", Access::kAdmin, &Service::admin_usage},
        {"POST", "/admin/models/", Access::kAdmin, &Service::admin_model_action},
    };
    known = false;
    for (const RouteEntry& r : kRoutes) {
        if (!path_matches(r.path, path)) continue;
        known = true;
        if (method == r.method) return &r;
    }
    return nullptr;
}

namespace {

int64_t unix_now() {
    return int64_t(std::time(nullptr));
}

// The labels of a response in citadel:http_requests_total: the route's pattern (a prefix
// route as "/v1/models/*"), "unmatched" for unknown paths; methods outside HTTP's usual set
// as "other" (clients choose them; the label's values must stay few).
ResponseMetrics response_labels(ops::Metrics* metrics, const RouteEntry* route,
                                const std::string& method) {
    ResponseMetrics m{.metrics = metrics, .route = "unmatched", .method = "other"};
    if (route)
        m.route =
            std::string(route->path) + (std::string_view(route->path).ends_with('/') ? "*" : "");
    for (const char* known : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
        if (method == known) m.method = known;
    }
    return m;
}

}  // namespace

void Service::handle(Request&& req, std::shared_ptr<server::Responder> inner) {
    const std::string method = req.method == "HEAD" ? "GET" : req.method;
    bool known = false;
    const RouteEntry* route = find_route(method, req.path, known);
    const bool probe = route && route->access == Access::kPublic;
    auto scope = std::make_shared<gateway::RequestScope>(
        gateway_, request_id_of(req), req.method + " " + req.path, req.remote, !probe);
    const ops::TraceContext trace = ops::trace_context(req.header("traceparent"));
    scope->set_trace(trace.trace_id, ops::new_span_id(), trace.parent_span_id);
    Res res =
        gateway_responder(std::move(inner), scope, response_labels(metrics_, route, req.method));
    if (options_.tracer && !probe)
        res = traced_responder(std::move(res), *options_.tracer, req, scope);
    const bool ollama = is_ollama(req.path);
    if (!route) {
        const std::string what = req.method + " " + req.path;
        if (known)
            return send_error(*res, {.status = 405, .message = "method not allowed: " + what},
                              ollama);
        return send_error(*res, {.status = 404, .message = "unknown route: " + what}, ollama);
    }
    const bool open = route->access == Access::kPublic ||
                      (route->access == Access::kMetrics && gateway_.config().public_metrics);
    if (!open) {
        const gateway::Credentials creds{
            .bearer = gateway::bearer_of(req.header("authorization"), req.header("x-api-key")),
            .client_cert_subject = req.client_cert_subject};
        auto who = gateway_.authenticate(creds, unix_now());
        if (auto* d = std::get_if<gateway::Denial>(&who))
            return send_error(*res, to_api_error(*d), ollama);
        scope->set_identity(std::move(std::get<gateway::Identity>(who)));
        if (auto d = gateway_.authorize(scope->identity(), route->access))
            return send_error(*res, to_api_error(*d), ollama);
    }
    if (route->names != RouteEntry::Names::kNoModel && !options_.model_settings.empty()) {
        req.body = options_.model_settings.apply(req.body, ollama,
                                                 route->names == RouteEntry::Names::kGenerates);
    }
    (this->*route->handler)(req, res, scope);
}

std::optional<ApiError> Service::admit(const Scope& scope, const std::string& model) {
    scope->set_model(model);
    if (auto d = gateway_.authorize_model(scope->identity(), model)) return to_api_error(*d);
    if (auto d = gateway_.admit(*scope, model)) {
        if (!d->limit.empty()) metrics_->add(ops::Metric::kGatewayRateLimited, {d->limit});
        return to_api_error(*d);
    }
    return std::nullopt;
}

std::optional<ApiError> Service::guard(const Scope& scope, const MessageTexts& texts) {
    gateway::InputVerdict v = gateway_.guard_input(*scope, texts.all, texts.untrusted);
    if (v.denial) return to_api_error(*v.denial);
    return std::nullopt;
}

std::vector<std::string> Service::routed_names() const {
    return options_.upstreams ? options_.upstreams->names() : std::vector<std::string>{};
}

// Models the identity may see (every model for unauthenticated routes).
static bool visible(const Scope& scope, const std::string& model) {
    return !scope->authenticated() || gateway::model_allowed(scope->identity(), model);
}

std::variant<std::string, ApiError> Service::model_name(const std::string& name) const {
    if (name.empty()) {
        std::vector<ops::ModelRegistry::Entry> all = models_.list();
        if (all.size() != 1)
            return ApiError{.message = "the model field is required", .param = "model"};
        return all.front().name;
    }
    if (models_.find(name)) return name;
    return ApiError{.status = 404,
                    .message = "The model '" + name + "' does not exist",
                    .type = "invalid_request_error",
                    .param = "model",
                    .code = "model_not_found"};
}

void Service::with_model(const std::string& name, const Res& res, bool ollama,
                         std::function<void(std::shared_ptr<ops::LoadedModel>)> go) {
    models_.acquire(name, [res, ollama, go = std::move(go)](std::shared_ptr<ops::LoadedModel> m,
                                                            int status, std::string error) {
        if (m) return go(std::move(m));
        ApiError e;
        e.status = status;
        e.message = std::move(error);
        e.type = status == 404 ? "invalid_request_error" : "overloaded_error";
        if (status == 404) {
            e.param = "model";
            e.code = "model_not_found";
        }
        send_error(*res, e, ollama);
    });
}

void Service::health(const Request&, const Res& res, const Scope& scope) {
    send_json(*res, 200, R"({"status":"ok"})");
}

void Service::ready(const Request&, const Res& res, const Scope& scope) {
    ordered_json models = ordered_json::object();
    for (const auto& e : models_.list()) {
        ordered_json m = {{"state", ops::model_state_name(e.state)}};
        if (!e.error.empty()) m["error"] = e.error;
        models[e.name] = std::move(m);
    }
    const bool ready = models_.all_ready();
    ordered_json body = {{"status", ready ? "ready" : "loading"}, {"models", std::move(models)}};
    // Upstreams are reported, not required: one down leaves local models serving.
    if (options_.upstreams) body["upstreams"] = upstream_states(*options_.upstreams);
    send_json(*res, ready ? 200 : 503, dump(body));
}

void Service::list_models(const Request&, const Res& res, const Scope& scope) {
    std::vector<ModelInfo> out;
    for (const auto& e : models_.list()) {
        if (!visible(scope, e.name)) continue;
        ModelInfo m{.id = e.name};
        m.state = ops::model_state_name(e.state);
        if (e.loaded) {
            m.created = e.loaded->created_unix;
            m.max_model_len = e.loaded->engine ? e.loaded->engine->n_ctx() : 0;
        }
        out.push_back(std::move(m));
    }
    for (const std::string& name : routed_names()) {
        if (!visible(scope, name)) continue;
        ModelInfo m;
        m.id = name;
        out.push_back(std::move(m));
    }
    send_json(*res, 200, model_list(out));
}

void Service::get_model(const Request& req, const Res& res, const Scope& scope) {
    const std::string name = options_.model_settings.resolve(
        percent_decode(std::string_view(req.path).substr(std::string_view("/v1/models/").size())));
    std::optional<ops::ModelRegistry::Entry> e = models_.find(name);
    const std::vector<std::string> routed = routed_names();
    if (!e && std::find(routed.begin(), routed.end(), name) != routed.end()) {
        if (auto d = gateway_.authorize_model(scope->identity(), name))
            return send_error(*res, to_api_error(*d));
        ModelInfo m;
        m.id = name;
        return send_json(*res, 200, model_object(m));
    }
    if (!e) {
        return send_error(*res, {.status = 404,
                                 .message = "The model '" + name + "' does not exist",
                                 .type = "invalid_request_error",
                                 .param = "model",
                                 .code = "model_not_found"});
    }
    if (auto d = gateway_.authorize_model(scope->identity(), e->name))
        return send_error(*res, to_api_error(*d));
    ModelInfo m{.id = e->name};
    m.state = ops::model_state_name(e->state);
    if (e->loaded) {
        m.created = e->loaded->created_unix;
        m.max_model_len = e->loaded->engine ? e->loaded->engine->n_ctx() : 0;
    }
    send_json(*res, 200, model_object(m));
}

void Service::tokenize(const Request& req, const Res& res, const Scope& scope) {
    Parsed<TokenizeRequest> p = parse_tokenize(req.body);
    if (auto* err = std::get_if<ApiError>(&p)) return send_error(*res, *err);
    const TokenizeRequest t = std::get<TokenizeRequest>(std::move(p));
    auto name = model_name(t.model);
    if (auto* err = std::get_if<ApiError>(&name)) return send_error(*res, *err);
    if (auto d = gateway_.authorize_model(scope->identity(), std::get<std::string>(name)))
        return send_error(*res, to_api_error(*d));
    with_model(
        std::get<std::string>(name), res, false, [t, res](std::shared_ptr<ops::LoadedModel> model) {
            const text::Tokenizer& tok = *model->tokenizer;
            const std::vector<int32_t> ids =
                tok.encode(t.text, {.add_special = t.add_special, .parse_special = true});
            std::vector<std::string> pieces;
            if (t.with_pieces) {
                for (int32_t id : ids) pieces.push_back(tok.token_bytes(id, true));
            }
            send_json(
                *res, 200,
                tokenize_response(ids, t.with_pieces ? &pieces : nullptr, model->engine->n_ctx()));
        });
}

void Service::detokenize(const Request& req, const Res& res, const Scope& scope) {
    Parsed<DetokenizeRequest> p = parse_detokenize(req.body);
    if (auto* err = std::get_if<ApiError>(&p)) return send_error(*res, *err);
    const DetokenizeRequest d = std::get<DetokenizeRequest>(std::move(p));
    auto name = model_name(d.model);
    if (auto* err = std::get_if<ApiError>(&name)) return send_error(*res, *err);
    if (auto denied = gateway_.authorize_model(scope->identity(), std::get<std::string>(name)))
        return send_error(*res, to_api_error(*denied));
    with_model(
        std::get<std::string>(name), res, false, [d, res](std::shared_ptr<ops::LoadedModel> model) {
            const int64_t n_vocab = int64_t(model->tokenizer->size());
            for (size_t i = 0; i < d.tokens.size(); ++i) {
                if (d.tokens[i] < 0 || d.tokens[i] >= n_vocab) {
                    return send_error(*res, {.message = "tokens[" + std::to_string(i) +
                                                        "] = " + std::to_string(d.tokens[i]) +
                                                        " is not in the vocabulary [0, " +
                                                        std::to_string(n_vocab) + ")",
                                             .param = "tokens"});
                }
            }
            send_json(*res, 200, detokenize_response(model->tokenizer->decode(d.tokens)));
        });
}

void Service::ollama_tags(const Request&, const Res& res, const Scope& scope) {
    std::vector<OllamaModel> out;
    for (const auto& e : models_.list()) {
        if (e.loaded && visible(scope, e.name)) out.push_back(ollama_model(*e.loaded));
    }
    send_json(*res, 200, api::ollama_tags(out));
}

void Service::ollama_show(const Request& req, const Res& res, const Scope& scope) {
    Parsed<std::string> p = parse_ollama_show(req.body);
    if (auto* err = std::get_if<ApiError>(&p)) return send_error(*res, *err, true);
    auto name = model_name(std::get<std::string>(p));
    if (auto* err = std::get_if<ApiError>(&name)) return send_error(*res, *err, true);
    if (auto d = gateway_.authorize_model(scope->identity(), std::get<std::string>(name)))
        return send_error(*res, to_api_error(*d), true);
    with_model(std::get<std::string>(name), res, true,
               [res](std::shared_ptr<ops::LoadedModel> model) {
                   send_json(*res, 200,
                             api::ollama_show(ollama_model(*model), model->template_source,
                                              model->engine->n_ctx(), model->model->hp.arch));
               });
}

void Service::ollama_version(const Request&, const Res& res, const Scope& scope) {
    send_json(*res, 200, api::ollama_version(options_.version));
}

}  // namespace citadel::api
