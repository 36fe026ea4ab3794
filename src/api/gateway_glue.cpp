#include "api/gateway_glue.h"

#include <atomic>
#include <nlohmann/json.hpp>
#include <random>

namespace citadel::api {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The parts of an error body ({"error": {"message", "code"}} or Ollama's {"error": "..."}).
struct ErrorParts {
    std::string message;
    std::string code;
};

class GatewayResponder final : public server::Responder,
                               public std::enable_shared_from_this<GatewayResponder> {
  public:
    GatewayResponder(std::shared_ptr<server::Responder> inner, Scope scope, ResponseMetrics metrics)
        : inner_(std::move(inner)), scope_(std::move(scope)), metrics_(std::move(metrics)) {}

    void send(int status, std::string content_type, std::string body, Headers headers) override {
        const ErrorParts e = status >= 400 ? error_parts(body) : ErrorParts{};
        scope_->set_status(status, e.message);
        count(status, e.code);  // before the client can see the answer (and scrape)
        inner_->send(status, std::move(content_type), std::move(body), stamp(std::move(headers)));
        scope_->finish();
    }
    void start_stream(int status, std::string content_type, Headers headers) override {
        scope_->set_status(status);
        status_ = status;
        inner_->start_stream(status, std::move(content_type), stamp(std::move(headers)));
    }
    bool write(std::string chunk) override { return inner_->write(std::move(chunk)); }
    void end() override {
        count(status_, {});
        inner_->end();
        scope_->finish();
    }
    void on_disconnect(std::function<void()> callback) override {
        std::weak_ptr<GatewayResponder> weak = weak_from_this();
        inner_->on_disconnect([weak, scope = scope_, callback = std::move(callback)] {
            scope->set_status(499, "the client closed the connection");  // nginx's code
            callback();
            if (auto self = weak.lock()) self->count(499, {});
            scope->finish();
        });
    }
    bool disconnected() const override { return inner_->disconnected(); }

  private:
    Headers stamp(Headers headers) const {
        headers.emplace_back("x-request-id", scope_->request_id());
        for (auto& h : scope_->rate_headers()) {
            bool present = false;
            for (const auto& [name, value] : headers) present |= name == h.first;
            if (!present) headers.push_back(std::move(h));
        }
        return headers;
    }
    static ErrorParts error_parts(const std::string& body) {
        ErrorParts out;
        const auto j = nlohmann::json::parse(body, nullptr, false);
        if (!j.is_object() || !j.contains("error")) return out;
        const auto& e = j["error"];
        if (e.is_string()) out.message = e.get<std::string>();
        if (!e.is_object()) return out;
        if (e.contains("message") && e["message"].is_string())
            out.message = e["message"].get<std::string>();
        if (e.contains("code") && e["code"].is_string()) out.code = e["code"].get<std::string>();
        return out;
    }

    // The response in the metrics, once: its status on its route, a gateway refusal's
    // reason, and the guards' findings (read before the scope hands them to the audit log).
    void count(int status, const std::string& code) {
        if (!metrics_.metrics || counted_.exchange(true)) return;
        ops::Metrics& m = *metrics_.metrics;
        m.add(ops::Metric::kHttpRequests,
              {metrics_.route, metrics_.method, std::to_string(status)});
        if (!code.empty() && is_gateway_denial(code)) m.add(ops::Metric::kGatewayDenied, {code});
        for (const std::string& note : scope_->guard_notes()) count_guard_note(m, note);
    }

    std::shared_ptr<server::Responder> inner_;
    Scope scope_;
    ResponseMetrics metrics_;
    std::atomic<int> status_{0};
    std::atomic<bool> counted_{false};
};

bool sane_id(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (unsigned char c : s) {
        if (!std::isalnum(c) && c != '.' && c != '_' && c != '-' && c != ':') return false;
    }
    return true;
}

bool untrusted_role(const nlohmann::ordered_json& m) {
    const auto it = m.find("role");
    if (it == m.end() || !it->is_string()) return true;
    const std::string& role = it->get_ref<const std::string&>();
    return role != "system" && role != "developer" && role != "assistant";
}

}  // namespace

std::shared_ptr<server::Responder> gateway_responder(std::shared_ptr<server::Responder> inner,
                                                     Scope scope, ResponseMetrics metrics) {
    return std::make_shared<GatewayResponder>(std::move(inner), std::move(scope),
                                              std::move(metrics));
}

bool is_gateway_denial(const std::string& code) {
    static const char* kCodes[] = {"missing_api_key",
                                   "invalid_api_key",
                                   "revoked_api_key",
                                   "expired_api_key",
                                   "invalid_token",
                                   "unknown_client_certificate",
                                   "insufficient_role",
                                   "model_not_allowed",
                                   "rate_limit_exceeded",
                                   "insufficient_quota",
                                   "model_concurrency_limit",
                                   "rate_limiter_unavailable",
                                   "pii_detected",
                                   "prompt_injection_detected",
                                   "content_blocked"};
    for (const char* c : kCodes) {
        if (code == c) return true;
    }
    return false;
}

// "guard:action:type"; the classifier's third part is free text (its reason), left out to
// keep the label's values few.
void count_guard_note(ops::Metrics& metrics, const std::string& note) {
    const size_t a = note.find(':');
    if (a == std::string::npos) return metrics.add(ops::Metric::kGuardActions, {note, "", ""});
    const size_t b = note.find(':', a + 1);
    const std::string guard = note.substr(0, a);
    const std::string action = note.substr(a + 1, b == std::string::npos ? b : b - a - 1);
    std::string type = b == std::string::npos ? std::string() : note.substr(b + 1);
    if (guard.starts_with("classifier")) type.clear();
    metrics.add(ops::Metric::kGuardActions, {guard, action, type});
}

ApiError to_api_error(const gateway::Denial& d) {
    ApiError e;
    e.status = d.status;
    e.message = d.message;
    e.type = d.type;
    e.code = d.code;
    e.param = d.param;
    e.headers = d.headers;
    return e;
}

std::string request_id_of(const server::Request& req) {
    if (const std::string* h = req.header("x-request-id"); h && sane_id(*h)) return *h;
    static const char kAlnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string id = "req_";
    for (int i = 0; i < 24; ++i) id += kAlnum[rng() % (sizeof kAlnum - 1)];
    return id;
}

MessageTexts message_texts(nlohmann::ordered_json& messages) {
    MessageTexts out;
    if (!messages.is_array()) return out;
    for (auto& m : messages) {
        if (!m.is_object()) continue;
        const bool untrusted = untrusted_role(m);
        auto add = [&](nlohmann::ordered_json& v) {
            if (!v.is_string()) return;
            std::string* s = v.get_ptr<std::string*>();
            out.all.push_back(s);
            if (untrusted) out.untrusted.push_back(s);
        };
        auto it = m.find("content");
        if (it == m.end()) continue;
        if (it->is_string()) {
            add(*it);
        } else if (it->is_array()) {
            for (auto& part : *it) {
                if (part.is_object() && part.contains("text")) add(part["text"]);
            }
        }
    }
    return out;
}

}  // namespace citadel::api
