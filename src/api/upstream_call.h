// One request relayed to an upstream model (upstream_proxy.h has the behaviour): pick an
// endpoint, connect, send, read the head, then relay the body as one answer or as SSE events
// chunk by chunk; retry on another endpoint while nothing has reached the client. Also the
// state every call and health check of one UpstreamProxy shares.
//
// Threading: everything here runs on the proxy's I/O thread, except that the Responder and
// the pools are thread-safe. Nothing is locked.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "api/upstream_proxy.h"
#include "api/upstream_stream.h"
#include "gateway/pii.h"
#include "gateway/pii_stream.h"

namespace citadel::api {

struct UpstreamEndpoint {
    std::string url;
    std::string host;  // without brackets for IPv6
    std::string port;
    std::string host_header;
    std::string base;  // path prefix before /v1/..., without a trailing slash
    bool tls = false;  // https://
};

// http[s]://host[:port][/base]; an error names the url.
Result<UpstreamEndpoint> parse_upstream_url(const std::string& url);

struct UpstreamEntry {
    UpstreamSpec spec;
    std::vector<UpstreamEndpoint> endpoints;
    std::unique_ptr<ops::UpstreamPool> pool;
};

class UpstreamCall;

// Declaration order matters: the io_context goes before the I/O objects that use it and after
// the entries its pending handlers refer to.
struct UpstreamShared {
    std::map<std::string, UpstreamEntry> upstreams;
    std::map<std::string, RouteSpec> routes;
    UpstreamTimeouts timeouts;
    std::string health_path;
    std::shared_ptr<boost::asio::ssl::context> tls;  // when an endpoint is https
    bool stopping = false;
    std::map<uint64_t, std::weak_ptr<UpstreamCall>> active;
    std::atomic<uint64_t> next_id{0};  // calls are made on any thread
    std::mt19937_64 rng{std::random_device{}()};
    boost::asio::io_context io;
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    boost::asio::steady_timer health_timer{io};
    std::thread thread;
};

class UpstreamCall : public std::enable_shared_from_this<UpstreamCall> {
  public:
    UpstreamCall(UpstreamShared& shared, UpstreamEntry& entry, ProxiedRequest request, Scope scope,
                 std::shared_ptr<server::Responder> res);
    ~UpstreamCall();
    void start();
    void cancel();                       // the client went away
    void abort(const std::string& why);  // shutdown: answer the client with an error now

  private:
    enum class Mode { kHead, kStream, kWhole, kRelay };

    void attempt();
    void connect(size_t endpoint);
    void handshake();
    void send();
    void read_head();
    void on_head();
    void read_more();
    void on_bytes(std::string_view bytes);
    void on_body_end();
    void on_error(const std::string& what);
    // The current endpoint failed before anything reached the client: try another.
    void retry_or_fail(const std::string& why, int status = 502);
    void fail_stream(const std::string& why);
    void on_sse_event(std::string_view event);
    void on_sse_data(std::string_view data);
    void relay_whole();
    // Output redaction and usage for one JSON object (a chunk or the whole answer).
    void filter_choices(nlohmann::ordered_json& choices, bool streaming);
    void charge_usage(const nlohmann::ordered_json& body);
    void arm(int ms, std::string what);
    void release(bool ok, bool counted = true);
    void finish();
    void close_socket();
    // A handler of an earlier attempt, or of a call that finished: nothing to do.
    bool stale(uint64_t attempt) const { return finished_ || attempt != attempt_; }

    UpstreamShared& shared_;
    UpstreamEntry& entry_;
    const ProxiedRequest request_;
    Scope scope_;
    std::shared_ptr<server::Responder> res_;
    const uint64_t id_;
    UpstreamStream stream_;
    boost::asio::ip::tcp::resolver resolver_;
    boost::asio::steady_timer timer_;
    boost::beast::http::request<boost::beast::http::string_body> http_request_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::response_parser<boost::beast::http::buffer_body>> parser_;
    char chunk_[16384];
    std::string body_;         // kWhole / kRelay: the answer so far
    std::string sse_pending_;  // kStream: bytes of an event not complete yet
    std::vector<size_t> tried_;
    std::optional<size_t> endpoint_;  // the one in use, counted outstanding in its pool
    Mode mode_ = Mode::kHead;
    uint64_t attempt_ = 0;  // incremented by each attempt()
    uint64_t timer_generation_ = 0;
    std::string timed_out_;  // set when the timer cut the socket: why
    bool finished_ = false;
    bool saw_done_ = false;
    bool charged_ = false;
    int64_t content_events_ = 0;  // for a charge when the upstream reports no usage
    // Output PII redaction.
    std::shared_ptr<const gateway::PiiScanner> scanner_;
    gateway::PiiMode pii_mode_ = gateway::PiiMode::kOff;
    std::map<int64_t, gateway::PiiStreamRedactor> redactors_;  // per choice index
    std::vector<std::string> pii_found_;
};

}  // namespace citadel::api
