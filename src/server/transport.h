// The byte stream under a Connection: a plain TCP socket, or TLS over one, behind one small
// interface so that a single Connection code path serves HTTP and HTTPS.
//
// Threading: like the Asio stream underneath. Every call runs on the connection's strand (the
// socket's executor, which the TLS layer uses too); at most one read and one write may be
// outstanding at a time.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <cstddef>
#include <memory>
#include <optional>
#include <utility>

#include "server/tls_context.h"

namespace citadel::server {

class Transport {
  public:
    using Socket = boost::asio::ip::tcp::socket;
    using TlsStream = boost::asio::ssl::stream<Socket>;

    // `context` null: plain TCP.
    Transport(Socket socket, TlsContextPtr context) : context_(std::move(context)) {
        if (context_) {
            tls_.emplace(std::move(socket), *context_);
        } else {
            plain_.emplace(std::move(socket));
        }
    }

    Socket& socket() { return tls_ ? tls_->next_layer() : *plain_; }  // the TCP socket beneath
    bool tls() const { return tls_.has_value() && !raw_; }
    SSL* native_tls() { return tls_ ? tls_->native_handle() : nullptr; }
    // From now on bytes go straight over TCP: for answering a client that spoke plain HTTP to
    // the TLS port (before any TLS byte was exchanged).
    void use_raw_tcp() { raw_ = true; }

    // A TCP close without close_notify is reported as EOF, as for plain TCP: clients that give
    // up on a request often close that way.
    template <typename Handler>
    void async_read_some(boost::asio::mutable_buffer buffer, Handler&& handler) {
        if (!tls()) {
            socket().async_read_some(buffer, std::forward<Handler>(handler));
            return;
        }
        tls_->async_read_some(buffer, [handler = std::forward<Handler>(handler)](
                                          const boost::system::error_code& ec, size_t n) mutable {
            if (ec == boost::asio::ssl::error::stream_truncated) {
                handler(boost::asio::error::eof, n);
            } else {
                handler(ec, n);
            }
        });
    }

    template <typename Buffers, typename Handler>
    void async_write(const Buffers& buffers, Handler&& handler) {
        if (tls()) {
            boost::asio::async_write(*tls_, buffers, std::forward<Handler>(handler));
        } else {
            boost::asio::async_write(socket(), buffers, std::forward<Handler>(handler));
        }
    }

    template <typename Handler>
    void async_handshake(Handler&& handler) {
        tls_->async_handshake(boost::asio::ssl::stream_base::server,
                              std::forward<Handler>(handler));
    }

    // Sends close_notify; completes once it is written, without waiting for the peer's (for
    // that OpenSSL would read on, and fail on application data the peer sends meanwhile).
    // No TLS read may be outstanding: TLS reads end here.
    template <typename Handler>
    void async_close_notify(Handler&& handler) {
        SSL* ssl = tls_->native_handle();
        SSL_set_shutdown(ssl, SSL_get_shutdown(ssl) | SSL_RECEIVED_SHUTDOWN);
        tls_->async_shutdown(std::forward<Handler>(handler));
    }

  private:
    TlsContextPtr context_;  // outlives the stream that uses it
    std::optional<Socket> plain_;
    std::optional<TlsStream> tls_;
    bool raw_ = false;
};

}  // namespace citadel::server
