// Request tracing: W3C trace context (`traceparent`) and export of spans to an OpenTelemetry
// collector over OTLP/HTTP with JSON bodies (POST {endpoint} with resourceSpans). Spans are
// queued without blocking and sent in batches by one background thread; when the collector is
// slow or down, spans beyond the queue bound are dropped and counted, never stalling requests.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/status.h"

namespace citadel::ops {

struct TraceContext {
    std::string trace_id;        // 32 lower-case hex digits
    std::string parent_span_id;  // 16 hex digits, or empty (a new trace)
    bool sampled = true;
};

// The context of an incoming `traceparent` header ("00-<trace>-<parent>-<flags>"); a missing
// or malformed header starts a new trace.
TraceContext trace_context(const std::string* traceparent);
std::string new_span_id();  // 16 hex digits
std::string traceparent(const std::string& trace_id, const std::string& span_id);

struct SpanAttribute {
    std::string key;
    std::string text;
    int64_t number = 0;
    bool is_number = false;
};

struct Span {
    std::string trace_id, span_id, parent_span_id;
    std::string name;
    int kind = 1;  // OTLP SpanKind: 1 internal, 2 server, 3 client
    int64_t start_unix_ns = 0, end_unix_ns = 0;
    std::vector<SpanAttribute> attributes;
    bool error = false;
};

struct OtlpOptions {
    std::string endpoint;  // http://collector:4318/v1/traces
    std::string service_name = "citadel";
    int timeout_ms = 2000;
    int batch_ms = 500;
    size_t max_queue = 8192;
};

class SpanExporter {
  public:
    static Result<std::unique_ptr<SpanExporter>> create(OtlpOptions options);
    ~SpanExporter();  // sends what is queued (bounded by the timeout), then stops
    SpanExporter(const SpanExporter&) = delete;
    SpanExporter& operator=(const SpanExporter&) = delete;

    void add(Span span);  // any thread, never blocks
    uint64_t dropped() const { return dropped_; }
    uint64_t exported() const { return exported_; }

  private:
    explicit SpanExporter(OtlpOptions options);
    void run();
    bool post(const std::string& body);

    OtlpOptions options_;
    std::string host_, port_, target_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Span> queue_;
    bool stop_ = false;
    std::atomic<uint64_t> dropped_{0}, exported_{0};
    std::thread thread_;
};

// OTLP/HTTP JSON of a batch of spans.
std::string otlp_json(const std::vector<Span>& spans, const std::string& service_name);

}  // namespace citadel::ops
