#include "ops/tracing.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <random>

#include "core/log.h"

namespace citadel::ops {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

std::string random_hex(size_t digits) {
    static const char kHex[] = "0123456789abcdef";
    thread_local std::mt19937_64 rng{std::random_device{}()};
    std::string out;
    while (out.size() < digits) {
        uint64_t v = rng();
        for (int i = 0; i < 16 && out.size() < digits; ++i, v >>= 4) out += kHex[v & 15];
    }
    return out;
}

bool hex_of(std::string_view s, size_t n) {
    if (s.size() != n) return false;
    bool nonzero = false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
        nonzero |= c != '0';
    }
    return nonzero;  // all zeros is invalid in W3C trace context
}

}  // namespace

TraceContext trace_context(const std::string* header) {
    if (header && header->size() == 55 && (*header)[2] == '-' && (*header)[35] == '-' &&
        (*header)[52] == '-') {
        const std::string_view h = *header;
        if (h.substr(0, 2) != "ff" && hex_of(h.substr(3, 32), 32) && hex_of(h.substr(36, 16), 16)) {
            TraceContext c;
            c.trace_id = std::string(h.substr(3, 32));
            c.parent_span_id = std::string(h.substr(36, 16));
            c.sampled = (std::stoi(std::string(h.substr(53, 2)), nullptr, 16) & 1) != 0;
            return c;
        }
    }
    return TraceContext{.trace_id = random_hex(32)};
}

std::string new_span_id() {
    return random_hex(16);
}

std::string traceparent(const std::string& trace_id, const std::string& span_id) {
    return "00-" + trace_id + "-" + span_id + "-01";
}

std::string otlp_json(const std::vector<Span>& spans, const std::string& service_name) {
    using nlohmann::json;
    json list = json::array();
    for (const Span& s : spans) {
        json attrs = json::array();
        for (const SpanAttribute& a : s.attributes) {
            attrs.push_back({{"key", a.key},
                             {"value", a.is_number ? json{{"intValue", std::to_string(a.number)}}
                                                   : json{{"stringValue", a.text}}}});
        }
        json span = {{"traceId", s.trace_id},
                     {"spanId", s.span_id},
                     {"name", s.name},
                     {"kind", s.kind},
                     {"startTimeUnixNano", std::to_string(s.start_unix_ns)},
                     {"endTimeUnixNano", std::to_string(s.end_unix_ns)},
                     {"attributes", attrs},
                     {"status", {{"code", s.error ? 2 : 1}}}};
        if (!s.parent_span_id.empty()) span["parentSpanId"] = s.parent_span_id;
        list.push_back(std::move(span));
    }
    json resource = {{"attributes", json::array({{{"key", "service.name"},
                                                  {"value", {{"stringValue", service_name}}}}})}};
    json body = {{"resourceSpans",
                  json::array({{{"resource", resource},
                                {"scopeSpans", json::array({{{"scope", {{"name", "citadel"}}},
                                                             {"spans", list}}})}}})}};
    return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<std::unique_ptr<SpanExporter>> SpanExporter::create(OtlpOptions options) {
    const std::string url = options.endpoint;
    if (url.rfind("http://", 0) != 0)
        return Status::error("--otlp-endpoint '" + url + "': expected http://host:port/v1/traces");
    std::unique_ptr<SpanExporter> e(new SpanExporter(std::move(options)));
    const std::string rest = url.substr(7);
    const size_t slash = rest.find('/');
    const std::string hostport = rest.substr(0, slash);
    e->target_ = slash == std::string::npos ? "/v1/traces" : rest.substr(slash);
    const size_t colon = hostport.rfind(':');
    e->host_ = colon == std::string::npos ? hostport : hostport.substr(0, colon);
    e->port_ = colon == std::string::npos ? "4318" : hostport.substr(colon + 1);
    if (e->host_.empty()) return Status::error("--otlp-endpoint '" + url + "' has no host");
    e->thread_ = std::thread([p = e.get()] { p->run(); });
    return e;
}

SpanExporter::SpanExporter(OtlpOptions options) : options_(std::move(options)) {}

SpanExporter::~SpanExporter() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void SpanExporter::add(Span span) {
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (queue_.size() >= options_.max_queue) {
            ++dropped_;
            return;
        }
        queue_.push_back(std::move(span));
    }
    cv_.notify_one();
}

void SpanExporter::run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (!stop_)
            cv_.wait_for(lock, std::chrono::milliseconds(options_.batch_ms), [&] { return stop_; });
        std::vector<Span> batch(std::make_move_iterator(queue_.begin()),
                                std::make_move_iterator(queue_.end()));
        queue_.clear();
        const bool stopping = stop_;
        lock.unlock();
        if (!batch.empty()) {
            if (post(otlp_json(batch, options_.service_name)))
                exported_ += batch.size();
            else
                dropped_ += batch.size();
        }
        lock.lock();
        if (stopping && queue_.empty()) return;
    }
}

// One POST with a deadline over connect, write and read.
bool SpanExporter::post(const std::string& body) {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    beast::error_code ec;
    tcp::resolver resolver(io);
    const auto endpoints = resolver.resolve(host_, port_, ec);
    if (ec) return false;
    stream.expires_after(std::chrono::milliseconds(options_.timeout_ms));
    http::request<http::string_body> req(http::verb::post, target_, 11);
    req.set(http::field::host, host_);
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    beast::flat_buffer buffer;
    http::response<http::string_body> res;
    stream.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
        if ((ec = e)) return;
        http::async_write(stream, req, [&](beast::error_code e2, size_t) {
            if ((ec = e2)) return;
            http::async_read(stream, buffer, res, [&](beast::error_code e3, size_t) { ec = e3; });
        });
    });
    io.run();
    if (ec || res.result_int() / 100 != 2) {
        CITADEL_LOG_DEBUG("OTLP export to %s:%s failed: %s", host_.c_str(), port_.c_str(),
                          ec ? ec.message().c_str() : std::to_string(res.result_int()).c_str());
        return false;
    }
    return true;
}

}  // namespace citadel::ops
