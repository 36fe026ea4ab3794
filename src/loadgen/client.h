// One streamed completion over a keep-alive HTTP/1.1 connection (Boost.Beast; TLS by OpenSSL),
// timed chunk by chunk. Runs as an Asio coroutine on the caller's io_context; never throws for
// network or server trouble: that ends up in the RequestRecord.
#pragma once

#include <utility>  // before awaitable.hpp: Boost 1.74 uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "loadgen/endpoint.h"
#include "loadgen/prompts.h"
#include "loadgen/record.h"

namespace citadel::loadgen {

using Clock = std::chrono::steady_clock;

// Everything about where and how requests are sent.
struct Target {
    std::string label;  // "A" / "B" in reports
    Endpoint endpoint;
    Api api = Api::kChat;
    std::string model;
    std::string api_key;  // sent as Authorization: Bearer; empty: none
    bool ignore_eos = true;
    double temperature = -1;    // >= 0: sent as "temperature"; < 0: the server's default
    int timeout_ms = 300'000;   // per request, from send to the end of the answer
    bool insecure_tls = false;  // https: skip certificate verification
    std::string ca_file;        // https: trust this CA (PEM) besides the system's
    // https: made by make_tls_context() (check_target() does it), shared by the connections.
    std::shared_ptr<boost::asio::ssl::context> tls;
};

// The JSON body of a streamed request for `prompt` (usage asked for with stream_options).
std::string request_body(const Target& t, const Prompt& prompt);

// A TLS context for an https target: the system's CAs and ca_file, verification unless
// insecure_tls. An error names an unreadable ca_file.
Result<std::shared_ptr<boost::asio::ssl::context>> make_tls_context(const Target& t);

// A keep-alive connection to one endpoint; opened on first use, reopened after a failure.
// Used by one coroutine at a time.
class Connection {
  public:
    Connection(boost::asio::io_context& io, const Target& target,
               std::shared_ptr<boost::asio::ssl::context> tls);
    const Target& target() const { return target_; }
    bool is_open() const { return open_; }
    // Connects (and shakes hands) unless open; an error says why.
    boost::asio::awaitable<std::string> ensure_open(Clock::time_point deadline);
    void close();
    // An open connection the server has closed (or sent unasked-for bytes on) since its last
    // answer: not to be reused. Looks without blocking.
    bool peer_closed();
    // The stream to read and write: TLS or plain, both over beast::tcp_stream (timeouts).
    boost::beast::tcp_stream& tcp() { return tls_ ? tls_->next_layer() : *tcp_; }
    boost::beast::ssl_stream<boost::beast::tcp_stream>* tls() { return tls_.get(); }
    boost::beast::flat_buffer& buffer() { return buffer_; }

  private:
    boost::asio::io_context& io_;
    const Target& target_;
    std::shared_ptr<boost::asio::ssl::context> tls_context_;
    std::unique_ptr<boost::beast::tcp_stream> tcp_;
    std::unique_ptr<boost::beast::ssl_stream<boost::beast::tcp_stream>> tls_;
    boost::beast::flat_buffer buffer_;
    bool open_ = false;
};

// Sends `prompt`, reads the stream to its end, fills the record. `run_start` anchors start_s.
// `on_chunk` (may be empty) is told of each content chunk as it arrives (for live progress).
boost::asio::awaitable<RequestRecord> send_request(Connection& c, const Prompt& prompt,
                                                   Clock::time_point run_start,
                                                   const std::function<void()>& on_chunk);

// A GET of base + path with the target's credentials: (status, body). Status 0: no answer,
// and the body says why.
boost::asio::awaitable<std::pair<int, std::string>> get_json(Connection& c,
                                                             const std::string& path);

}  // namespace citadel::loadgen
