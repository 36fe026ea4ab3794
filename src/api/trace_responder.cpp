#include "api/trace_responder.h"

#include <chrono>
#include <mutex>

namespace citadel::api {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

int64_t unix_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

class TracedResponder final : public server::Responder {
  public:
    TracedResponder(std::shared_ptr<server::Responder> inner, ops::SpanExporter& exporter,
                    const server::Request& req, Scope scope)
        : inner_(std::move(inner)), exporter_(exporter), scope_(std::move(scope)) {
        span_.trace_id = scope_->trace_id();
        span_.parent_span_id = scope_->parent_span_id();
        span_.span_id = scope_->span_id();
        span_.name = req.method + " " + req.path;
        span_.kind = 2;
        span_.start_unix_ns = unix_ns();
        span_.attributes = {{.key = "http.request.method", .text = req.method},
                            {.key = "url.path", .text = req.path},
                            {.key = "client.address", .text = req.remote},
                            {.key = "citadel.request_id", .text = scope_->request_id()}};
    }
    ~TracedResponder() override { finish(); }

    void send(int status, std::string content_type, std::string body, Headers headers) override {
        status_ = status;
        inner_->send(status, std::move(content_type), std::move(body), stamp(std::move(headers)));
        finish();
    }
    void start_stream(int status, std::string content_type, Headers headers) override {
        status_ = status;
        inner_->start_stream(status, std::move(content_type), stamp(std::move(headers)));
    }
    bool write(std::string chunk) override { return inner_->write(std::move(chunk)); }
    void end() override {
        inner_->end();
        finish();
    }
    void on_disconnect(std::function<void()> callback) override {
        inner_->on_disconnect(std::move(callback));
    }
    bool disconnected() const override { return inner_->disconnected(); }

  private:
    Headers stamp(Headers headers) const {
        headers.emplace_back("traceparent", ops::traceparent(span_.trace_id, span_.span_id));
        return headers;
    }
    void finish() {
        std::lock_guard<std::mutex> lock(mu_);
        if (done_) return;
        done_ = true;
        span_.end_unix_ns = unix_ns();
        const int status = status_.load() == 0 ? 499 : status_.load();
        span_.attributes.push_back(
            {.key = "http.response.status_code", .number = status, .is_number = true});
        if (const std::string model = scope_->model(); !model.empty())
            span_.attributes.push_back({.key = "gen_ai.request.model", .text = model});
        if (scope_->authenticated())
            span_.attributes.push_back({.key = "citadel.identity", .text = scope_->identity().id});
        span_.error = status >= 500;
        for (const auto& phase : scope_->phases()) {  // the engine's stages, as child spans
            ops::Span child;
            child.trace_id = span_.trace_id;
            child.span_id = ops::new_span_id();
            child.parent_span_id = span_.span_id;
            child.name = phase.name;
            child.start_unix_ns = phase.start_unix_ns;
            child.end_unix_ns = phase.end_unix_ns;
            exporter_.add(std::move(child));
        }
        exporter_.add(std::move(span_));
    }

    std::shared_ptr<server::Responder> inner_;
    ops::SpanExporter& exporter_;
    Scope scope_;
    std::mutex mu_;
    ops::Span span_;
    std::atomic<int> status_{0};
    bool done_ = false;
};

}  // namespace

std::shared_ptr<server::Responder> traced_responder(std::shared_ptr<server::Responder> inner,
                                                    ops::SpanExporter& exporter,
                                                    const server::Request& req, Scope scope) {
    return std::make_shared<TracedResponder>(std::move(inner), exporter, req, std::move(scope));
}

}  // namespace citadel::api
