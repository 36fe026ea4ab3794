// GCC 12 with the sanitizers reports a false -Wmaybe-uninitialized inside Beast's parser (a
// boost::optional in basic_parser::content_length_unchecked, inlined into put()).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "server/connection.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <cstring>
#include <exception>
#include <limits>

#include "core/log.h"
#include "server/responder.h"
#include "server/server_core.h"

namespace citadel::server {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

namespace {

constexpr size_t kReadChunkBytes = 8u << 10;
constexpr int kLingerMs = 1000;               // after our FIN, how long we read the client's
constexpr size_t kLingerMaxBytes = 1u << 20;  // and how much of it we discard at most

std::string endpoint_string(const asio::ip::tcp::socket& socket) {
    error_code ec;
    const auto ep = socket.remote_endpoint(ec);
    if (ec) return "?";
    const auto addr = ep.address();
    const std::string host = addr.is_v6() ? "[" + addr.to_string() + "]" : addr.to_string();
    return host + ":" + std::to_string(ep.port());
}

}  // namespace

Connection::Connection(std::shared_ptr<ServerCore> core, asio::ip::tcp::socket socket, bool counted,
                       TlsContextPtr tls)
    : core_(std::move(core)),
      transport_(std::move(socket), std::move(tls)),
      executor_(transport_.socket().get_executor()),
      read_timer_(executor_),
      write_timer_(executor_),
      remote_(endpoint_string(transport_.socket())),
      counted_(counted),
      read_chunk_(std::make_unique<char[]>(kReadChunkBytes)) {}

Connection::~Connection() {
    CITADEL_LOG_DEBUG("http: connection %s destroyed", remote_.c_str());
}

// ---- Entry points for other threads -------------------------------------------------------

void Connection::post_start() {
    asio::post(executor_, [self = shared_from_this()] { self->begin(); });
}

void Connection::post_piece(std::shared_ptr<Exchange> exchange, ResponsePiece piece) {
    if (closed()) return;
    asio::post(executor_, [self = shared_from_this(), exchange = std::move(exchange),
                           piece = std::move(piece)]() mutable {
        self->handle_piece(exchange, std::move(piece));
    });
}

void run_disconnect_callback(const std::function<void()>& callback) {
    try {
        callback();
    } catch (const std::exception& e) {
        CITADEL_LOG_WARN("http: on_disconnect callback threw: %s", e.what());
    } catch (...) {
        CITADEL_LOG_WARN("http: on_disconnect callback threw");
    }
}

void Connection::post_callback(std::function<void()> callback) {
    asio::post(executor_, [callback = std::move(callback)] { run_disconnect_callback(callback); });
}

void Connection::post_server_shutdown() {
    asio::post(executor_, [self = shared_from_this()] {
        const Phase p = self->phase_;
        if (p == Phase::kHandshake || p == Phase::kIdle || p == Phase::kHead || p == Phase::kBody) {
            self->close();
        }
    });
}

void Connection::post_abort(std::function<void()> done) {
    asio::post(executor_, [self = shared_from_this(), done = std::move(done)] {
        self->close();
        done();
    });
}

// ---- Reading ------------------------------------------------------------------------------

void Connection::begin() {
    if (phase_ == Phase::kClosed) return;
    error_code ec;
    transport_.socket().set_option(asio::ip::tcp::no_delay(true), ec);
    CITADEL_LOG_DEBUG("http: connection from %s", remote_.c_str());
    // The first request's head (and the TLS handshake before it) must arrive in time.
    arm_read_timer(core_->limits.header_timeout_ms);
    if (transport_.tls()) {
        begin_tls();
        return;
    }
    start_serving();
}

// The connection is ready for HTTP (after the TLS handshake, if any).
void Connection::start_serving() {
    phase_ = Phase::kIdle;
    if (!counted_) {
        reject(503, "overloaded_error",
               "too many open connections (the limit is " +
                   std::to_string(core_->limits.max_connections) + "); retry later");
        return;
    }
    new_parser();
    start_read();
}

void Connection::start_read() {
    if (reading_ || peer_eof_ || phase_ == Phase::kClosed) return;
    reading_ = true;
    transport_.async_read_some(
        asio::buffer(read_chunk_.get(), kReadChunkBytes),
        [self = shared_from_this()](const error_code& ec, size_t n) { self->on_read(ec, n); });
}

void Connection::append_read(size_t n) {
    auto dst = buffer_.prepare(n);
    std::memcpy(dst.data(), read_chunk_.get(), n);
    buffer_.commit(n);
}

void Connection::on_read(const error_code& ec, size_t n) {
    reading_ = false;
    if (phase_ == Phase::kClosed) return;
    if (ec == asio::error::operation_aborted) {
        // Only send_close_notify() cancels a read: it goes on now that the read has ended.
        if (phase_ == Phase::kLinger) send_close_notify();
        return;
    }
    switch (phase_) {
        case Phase::kHandshake:  // no read runs during the handshake
            return;
        case Phase::kIdle:
        case Phase::kHead:
        case Phase::kBody:
            if (ec) {
                // EOF between requests is the normal end; mid-request it is a truncation.
                if (phase_ != Phase::kIdle || ec != asio::error::eof) {
                    CITADEL_LOG_DEBUG("http: %s: read ended mid-request: %s", remote_.c_str(),
                                      ec.message().c_str());
                }
                close();
                return;
            }
            append_read(n);
            parse_buffered();
            return;
        case Phase::kExchange:
            on_read_exchange(ec, n);
            return;
        case Phase::kFinal:
        case Phase::kLinger:
            on_read_discard(ec, n);
            return;
        case Phase::kClosed:
            return;
    }
}

// A read completed after a final response: what the client still sends is discarded.
void Connection::on_read_discard(const error_code& ec, size_t n) {
    if (ec) {
        peer_eof_ = true;
        if (phase_ == Phase::kLinger || ec != asio::error::eof) close();
        return;
    }
    linger_discarded_ += n;
    if (phase_ == Phase::kLinger && transport_.tls()) {  // the read ended before its cancel
        send_close_notify();
        return;
    }
    if (phase_ == Phase::kLinger && linger_discarded_ > kLingerMaxBytes) {
        close();
        return;
    }
    start_read();
}

// A read completed while the handler's response is pending or being written.
void Connection::on_read_exchange(const error_code& ec, size_t n) {
    if (ec == asio::error::eof && !core_->limits.eof_cancels_request) {
        peer_eof_ = true;  // no more requests; the response is still written
        return;
    }
    if (ec) {
        client_gone(ec == asio::error::eof ? "client closed the connection"
                                           : "connection error while the response was pending");
        return;
    }
    append_read(n);
    if (buffer_.size() < core_->limits.max_pipelined_bytes) start_read();
}

void Connection::new_parser() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(core_->limits.max_header_bytes, std::numeric_limits<uint32_t>::max())));
    // The Content-Length check is ours (for a message naming the size); Beast 1.74 treats an
    // empty optional as "no limit" inconsistently, so "unlimited" is the largest value.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
}

void Connection::parse_buffered() {
    while (buffer_.size() > 0) {
        if (phase_ == Phase::kIdle) {  // the first byte of a request: the head has a deadline
            phase_ = Phase::kHead;
            // (the first request's deadline runs from the accept already)
            if (served_any_) arm_read_timer(core_->limits.header_timeout_ms);
        }
        error_code ec;
        const size_t used = parser_->put(buffer_.data(), ec);
        buffer_.consume(used);
        if (ec == http::error::need_more) break;
        if (ec) {
            reject_parse_error(ec);
            return;
        }
        if (phase_ == Phase::kHead && parser_->is_header_done() && !on_head_complete()) return;
        if (parser_->is_done()) {
            dispatch();
            return;
        }
        if (used == 0) break;
    }
    if (peer_eof_) {  // more is needed but the client has sent all it ever will
        close();
        return;
    }
    start_read();
}

// Returns false when the request was rejected.
bool Connection::on_head_complete() {
    const auto& limits = core_->limits;
    const auto length = parser_->content_length();
    if (length && *length > limits.max_body_bytes) {
        reject(413, "invalid_request_error",
               "request body of " + std::to_string(*length) + " bytes exceeds the limit of " +
                   std::to_string(limits.max_body_bytes) + " bytes");
        return false;
    }
    parser_->body_limit(static_cast<std::uint64_t>(limits.max_body_bytes));  // chunked bodies
    if (parser_->is_done()) return true;
    phase_ = Phase::kBody;
    arm_read_timer(limits.body_timeout_ms);
    const auto& head = parser_->get();
    if (head.version() >= 11 && beast::iequals(head[http::field::expect], "100-continue")) {
        enqueue(std::string(wire::kContinue));
        flush();
    }
    return true;
}

void Connection::reject_parse_error(const error_code& ec) {
    const auto& limits = core_->limits;
    if (ec == http::error::header_limit) {
        reject(431, "invalid_request_error",
               "request header fields exceed the limit of " +
                   std::to_string(limits.max_header_bytes) + " bytes");
    } else if (ec == http::error::body_limit) {
        reject(413, "invalid_request_error",
               "request body exceeds the limit of " + std::to_string(limits.max_body_bytes) +
                   " bytes");
    } else if (ec == http::error::bad_content_length) {
        reject(400, "invalid_request_error", "invalid Content-Length header");
    } else {
        reject(400, "invalid_request_error", "malformed HTTP request: " + ec.message());
    }
}

void Connection::dispatch() {
    disarm_read_timer();
    served_any_ = true;
    auto message = parser_->release();
    keep_alive_ = message.keep_alive();
    http_version_ = static_cast<int>(message.version());
    no_body_ = message.method() == http::verb::head;
    if (core_->shutting_down.load()) {
        reject(503, "overloaded_error", "the server is shutting down");
        return;
    }
    Request request = wire::to_request(std::move(message), remote_);
    request.tls = transport_.tls();
    request.client_cert_subject = client_cert_subject_;
    phase_ = Phase::kExchange;
    raw_stream_ = false;
    exchange_ = std::make_shared<Exchange>();
    core_->request_started();
    auto responder = make_responder(shared_from_this(), exchange_);
    try {
        core_->handler(std::move(request), std::move(responder));
    } catch (const std::exception& e) {
        CITADEL_LOG_WARN("http: handler threw: %s", e.what());
    } catch (...) {
        CITADEL_LOG_WARN("http: handler threw");
    }
    // Keep a read outstanding: it sees the client leave and buffers pipelined requests. It
    // starts after the handler so that an answer the handler gave at once is queued on the
    // strand before the read can complete: a client that sent a whole request and then its
    // FIN always gets that answer (another I/O thread could otherwise run the read's EOF
    // first and cancel it).
    if (buffer_.size() < core_->limits.max_pipelined_bytes) start_read();
}

// ---- Timers and closing -------------------------------------------------------------------

void Connection::arm_read_timer(int timeout_ms) {
    const uint64_t gen = ++read_timer_gen_;
    read_timer_.expires_after(std::chrono::milliseconds(std::max(timeout_ms, 1)));
    read_timer_.async_wait([self = shared_from_this(), gen](const error_code& ec) {
        if (ec || gen != self->read_timer_gen_ || self->phase_ == Phase::kClosed) return;
        self->on_read_timeout();
    });
}

void Connection::disarm_read_timer() {
    ++read_timer_gen_;
    read_timer_.cancel();
}

void Connection::on_read_timeout() {
    const auto& limits = core_->limits;
    switch (phase_) {
        case Phase::kHandshake:
            CITADEL_LOG_DEBUG("http: %s: no TLS handshake within %d ms, closing", remote_.c_str(),
                              limits.header_timeout_ms);
            close();
            return;
        case Phase::kIdle:
            CITADEL_LOG_DEBUG("http: %s: idle, closing", remote_.c_str());
            close();
            return;
        case Phase::kHead:
            reject(408, "invalid_request_error",
                   "request headers not received within " +
                       std::to_string(limits.header_timeout_ms) + " ms");
            return;
        case Phase::kBody:
            reject(408, "invalid_request_error",
                   "request body not received within " + std::to_string(limits.body_timeout_ms) +
                       " ms");
            return;
        case Phase::kLinger:
            close();
            return;
        case Phase::kExchange:
        case Phase::kFinal:
        case Phase::kClosed:
            return;
    }
}

// Our side is done: send FIN (over TLS: close_notify), then read until the client closes too (or a
// short timeout), so that unread request bytes do not make the kernel answer with a reset that
// could destroy the response before the client has read it.
void Connection::linger_close() {
    phase_ = Phase::kLinger;
    linger_discarded_ = 0;
    arm_read_timer(kLingerMs);
    if (transport_.tls()) {
        send_close_notify();  // then linger_on_tcp()
        return;
    }
    linger_on_tcp();
}

void Connection::linger_on_tcp() {
    error_code ec;
    transport_.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ec);
    if (ec || peer_eof_) {
        close();
        return;
    }
    start_read();
}

void Connection::client_gone(const char* why) {
    CITADEL_LOG_DEBUG("http: %s: %s", remote_.c_str(), why);
    close();
}

void Connection::close() {
    if (phase_ == Phase::kClosed) return;
    phase_ = Phase::kClosed;
    closed_flag_ = true;
    ++read_timer_gen_;
    ++write_timer_gen_;
    read_timer_.cancel();
    write_timer_.cancel();
    error_code ec;
    transport_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    transport_.socket().close(ec);
    queue_.clear();  // in_write_ stays until the aborted write completes
    if (exchange_) {
        fire_disconnect(*exchange_);
        end_exchange();
    }
    CITADEL_LOG_DEBUG("http: connection %s closed", remote_.c_str());
    core_->remove(this, counted_);
}

}  // namespace citadel::server
