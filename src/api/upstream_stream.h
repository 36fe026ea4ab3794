// One connection to an upstream endpoint, plain TCP or TLS over TCP, behind the one
// stream interface Beast's HTTP reads and writes take. TLS verifies the server's certificate
// against the proxy's trust store (the system's roots, plus --upstream-ca) and its name
// against the URL's host (a DNS name, sent as SNI, or an IP address).
//
// Threading: used on the proxy's I/O thread only.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "core/status.h"

namespace citadel::api {

// The client-side TLS settings every https upstream shares: peer verification on, TLS 1.2+,
// the system's trust store and, when given, the PEM certificates of `ca_file`.
Result<std::shared_ptr<boost::asio::ssl::context>> make_upstream_tls(const std::string& ca_file);

class UpstreamStream {
  public:
    using executor_type = boost::asio::any_io_executor;
    using Done = std::function<void(const boost::system::error_code&)>;

    explicit UpstreamStream(boost::asio::io_context& io) : io_(io) { reset(nullptr); }

    // A fresh, unconnected stream (a new attempt): TLS over it when `tls` is not null.
    void reset(boost::asio::ssl::context* tls);
    boost::asio::ip::tcp::socket& socket() { return tls_ ? tls_->next_layer() : *tcp_; }
    executor_type get_executor() { return socket().get_executor(); }

    // After the TCP connect: the TLS handshake for `host`, or done({}) at once without TLS.
    void handshake(const std::string& host, Done done);
    void close();

    template <typename Buffers, typename Handler>
    void async_read_some(const Buffers& buffers, Handler&& handler) {
        if (tls_)
            tls_->async_read_some(buffers, std::forward<Handler>(handler));
        else
            tcp_->async_read_some(buffers, std::forward<Handler>(handler));
    }
    template <typename Buffers, typename Handler>
    void async_write_some(const Buffers& buffers, Handler&& handler) {
        if (tls_)
            tls_->async_write_some(buffers, std::forward<Handler>(handler));
        else
            tcp_->async_write_some(buffers, std::forward<Handler>(handler));
    }

  private:
    boost::asio::io_context& io_;
    std::optional<boost::asio::ip::tcp::socket> tcp_;
    std::optional<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
};

}  // namespace citadel::api
