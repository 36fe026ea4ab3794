// Requests for upstream and routed (canary) models: the pick by weight, then, for an upstream
// model, the same gateway filters a local model gets (model access and limits, input guards
// with PII redaction in place, classifier) before the body goes to UpstreamProxy.
#include <random>

#include "api/generation.h"
#include "api/input_steps.h"
#include "api/ollama_relay.h"
#include "api/respond.h"
#include "api/service.h"
#include "api/upstream_proxy.h"
#include "ops/tracing.h"

namespace citadel::api {
namespace {

using nlohmann::ordered_json;

double uniform01() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

// Pointers to a completion body's prompt texts ("prompt": a string or a list of strings).
MessageTexts prompt_texts(ordered_json& body) {
    MessageTexts texts;
    auto prompt = body.find("prompt");
    if (prompt == body.end()) return texts;
    auto add = [&](ordered_json& p) {
        if (!p.is_string()) return;
        texts.all.push_back(p.get_ptr<std::string*>());
        texts.untrusted.push_back(p.get_ptr<std::string*>());
    };
    if (prompt->is_array()) {
        for (ordered_json& p : *prompt) add(p);
    } else {
        add(*prompt);
    }
    return texts;
}

bool wants_usage(const ordered_json& body) {
    auto o = body.find("stream_options");
    if (o == body.end() || !o->is_object()) return false;
    auto u = o->find("include_usage");
    return u != o->end() && u->is_boolean() && u->get<bool>();
}

}  // namespace

bool Service::route(const server::Request& req, const Res& res, const Scope& scope,
                    std::string& model, Wire wire) {
    UpstreamProxy* up = options_.upstreams;
    if (up == nullptr) return false;
    model = up->route(model, uniform01());
    if (!up->is_upstream(model)) return false;
    proxy(req, res, scope, model, wire);
    return true;
}

namespace {

// The body as the upstream takes it (OpenAI's API): the client's, or translated from Ollama's.
OpenAiForm openai_form(ordered_json body, Wire wire) {
    if (wire == Wire::kOllamaChat || wire == Wire::kOllamaGenerate)
        return ollama_to_openai(body, wire == Wire::kOllamaChat);
    OpenAiForm f;
    f.chat = wire == Wire::kChat;
    f.path = f.chat ? "/v1/chat/completions" : "/v1/completions";
    f.stream = body.value("stream", false);
    f.body = std::move(body);
    return f;
}

}  // namespace

void Service::proxy(const server::Request& req, const Res& client, const Scope& scope,
                    const std::string& model, Wire wire) {
    const bool ollama = wire == Wire::kOllamaChat || wire == Wire::kOllamaGenerate;
    // Ollama clients get Ollama's shapes back, errors included.
    const Res res =
        ollama ? ollama_relay_responder(client, model, wire == Wire::kOllamaChat) : client;
    if (auto err = admit(scope, model)) return send_error(*res, *err);
    // The body was validated by the route's parser; it is forwarded as the client wrote it
    // (or as Ollama's translated), with redacted texts and the upstream's model name.
    ordered_json parsed = ordered_json::parse(req.body, nullptr, false);
    if (!parsed.is_object())
        return send_error(*res, invalid_request("the body must be a JSON object"));
    OpenAiForm form = openai_form(std::move(parsed), wire);
    auto body = std::make_shared<ordered_json>(std::move(form.body));
    const bool chat = form.chat;
    const MessageTexts texts = chat ? message_texts((*body)["messages"]) : prompt_texts(*body);
    if (auto err = guard(scope, texts)) return send_error(*res, *err);
    if (scope->wants_text())
        scope->set_prompt_text(chat ? (*body)["messages"].dump() : untrusted_text(texts));
    // `texts` points into `body`: read them before the body changes (adding a key may copy
    // the object's members, and with them every string).
    std::string said = untrusted_text(texts);
    ProxiedRequest p;
    p.path = form.path;
    p.stream = form.stream;
    p.client_wants_usage = ollama || wants_usage(*body);  // Ollama's done line has the counts
    p.reply_model = model;
    p.text_field = chat ? "content" : "text";
    // The upstream's work is a child of this request's span (W3C trace context).
    p.traceparent = ops::traceparent(scope->trace_id(), scope->span_id());
    (*body)["model"] = options_.upstreams->upstream_model(model);
    if (p.stream) (*body)["stream_options"]["include_usage"] = true;
    UpstreamProxy* up = options_.upstreams;
    classify_then(gateway_, scope, res, false, std::move(said), [=]() mutable {
        p.body = body->dump(-1, ' ', false, ordered_json::error_handler_t::replace);
        up->forward(model, std::move(p), scope, res);
    });
}

}  // namespace citadel::api
