#include "api/gateway_glue.h"

#include <nlohmann/json.hpp>
#include <random>

namespace citadel::api {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

class GatewayResponder final : public server::Responder {
  public:
    GatewayResponder(std::shared_ptr<server::Responder> inner, Scope scope)
        : inner_(std::move(inner)), scope_(std::move(scope)) {}

    void send(int status, std::string content_type, std::string body, Headers headers) override {
        scope_->set_status(status, status >= 400 ? error_message(body) : std::string());
        inner_->send(status, std::move(content_type), std::move(body), stamp(std::move(headers)));
        scope_->finish();
    }
    void start_stream(int status, std::string content_type, Headers headers) override {
        scope_->set_status(status);
        inner_->start_stream(status, std::move(content_type), stamp(std::move(headers)));
    }
    bool write(std::string chunk) override { return inner_->write(std::move(chunk)); }
    void end() override {
        inner_->end();
        scope_->finish();
    }
    void on_disconnect(std::function<void()> callback) override {
        inner_->on_disconnect([scope = scope_, callback = std::move(callback)] {
            scope->set_status(499, "the client closed the connection");  // nginx's code
            callback();
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
    static std::string error_message(const std::string& body) {
        const auto j = nlohmann::json::parse(body, nullptr, false);
        if (j.is_object() && j.contains("error")) {
            const auto& e = j["error"];
            if (e.is_string()) return e.get<std::string>();
            if (e.is_object() && e.contains("message") && e["message"].is_string())
                return e["message"].get<std::string>();
        }
        return {};
    }

    std::shared_ptr<server::Responder> inner_;
    Scope scope_;
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
                                                     Scope scope) {
    return std::make_shared<GatewayResponder>(std::move(inner), std::move(scope));
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
