// One client connection: reads and parses requests, calls the handler, writes responses, and
// watches for the client going away. Everything in a Connection runs on its strand except the
// post_* entry points and closed(), which any thread may call.
//
// Phases:
//   kHandshake TLS only: peeking at the first byte (not a TLS record: plain-text 400), then the
//              TLS handshake (header timeout from the accept: silent close)
//   kIdle      waiting for the first byte of a request (idle timeout, or for a new connection
//              the header timeout: silent close)
//   kHead      head partly received (header timeout from its first byte, or for the first
//              request from the accept: 408)
//   kBody      body partly received (body timeout: 408)
//   kExchange  handler called, response pending or being written; a read stays outstanding to
//              see the client leave, and buffers pipelined bytes
//   kFinal     writing a response the server made itself (400/408/413/431/503), then linger
//   kLinger    our side shut down (TLS: close_notify, then as for TCP); reading and discarding
//              until EOF or a short timeout
//   kClosed    socket closed
// Plain TCP and TLS differ only in the Transport and in the kHandshake phase (connection_tls.cpp).
#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/http_server.h"
#include "server/http_wire.h"
#include "server/transport.h"

namespace citadel::server {

struct ServerCore;

// What one request/response exchange shares between its Connection and its Responder.
struct Exchange {
    std::atomic<bool> claimed{false};    // send() or start_stream() was called
    std::atomic<bool> streaming{false};  // start_stream() was called
    std::atomic<bool> ended{false};      // the last piece of the response was handed over
    std::atomic<bool> gone{false};       // the client left, or the response was cut
    std::mutex mu;
    std::function<void()> on_disconnect;  // guarded by mu
    bool callback_taken = false;          // guarded by mu
};

// A piece of response a Responder hands to its connection's strand.
struct ResponsePiece {
    enum class Kind { kFull, kStreamHead, kChunk, kStreamEnd, kCut };
    Kind kind = Kind::kFull;
    int status = 200;
    std::string content_type;
    std::string body;  // the body (kFull) or the chunk's bytes (kChunk)
    wire::HeaderList headers;
};

// Runs an application's on_disconnect callback; whatever it throws is logged, never
// propagated into the I/O loop.
void run_disconnect_callback(const std::function<void()>& callback);

class Connection : public std::enable_shared_from_this<Connection> {
  public:
    // counted: toward open_connections; otherwise the connection is answered 503 and closed.
    // tls: the TLS context to serve this connection with; null for plain HTTP.
    Connection(std::shared_ptr<ServerCore> core, boost::asio::ip::tcp::socket socket, bool counted,
               TlsContextPtr tls);
    ~Connection();

    // Any thread.
    void post_start();
    void post_piece(std::shared_ptr<Exchange> exchange, ResponsePiece piece);
    void post_callback(std::function<void()> callback);
    void post_server_shutdown();                  // close unless a response is in flight
    void post_abort(std::function<void()> done);  // close now; `done` runs afterwards
    bool closed() const { return closed_flag_.load(); }

  private:
    enum class Phase { kHandshake, kIdle, kHead, kBody, kExchange, kFinal, kLinger, kClosed };

    void begin();
    void start_serving();
    // TLS (connection_tls.cpp).
    void begin_tls();
    void on_peek(const boost::system::error_code& ec, size_t n);
    void on_handshake(const boost::system::error_code& ec);
    void reject_plain_http();
    void send_close_notify();
    // Reading and parsing.
    void start_read();
    void on_read(const boost::system::error_code& ec, size_t n);
    void on_read_exchange(const boost::system::error_code& ec, size_t n);
    void on_read_discard(const boost::system::error_code& ec, size_t n);
    void append_read(size_t n);
    void new_parser();
    void parse_buffered();
    bool on_head_complete();
    void dispatch();
    void reject_parse_error(const boost::system::error_code& ec);
    // Responses.
    void handle_piece(const std::shared_ptr<Exchange>& exchange, ResponsePiece piece);
    void queue_full_response(ResponsePiece& piece);
    void queue_stream_head(ResponsePiece& piece);
    wire::Persistence decide_persistence(const wire::HeaderList& headers);
    void reject(int status, const char* type, const std::string& message);
    void send_final(std::string response);
    void enqueue(std::string bytes);
    void flush();
    void on_written(const boost::system::error_code& ec);
    void on_output_drained();
    void finish_exchange();
    void end_exchange();
    // Timers and closing.
    void arm_read_timer(int timeout_ms);
    void disarm_read_timer();
    void on_read_timeout();
    void linger_close();
    void linger_on_tcp();
    void client_gone(const char* why);
    void close();

    const std::shared_ptr<ServerCore> core_;
    Transport transport_;
    const boost::asio::any_io_executor executor_;  // the strand
    boost::asio::steady_timer read_timer_;
    boost::asio::steady_timer write_timer_;
    std::string remote_;
    const bool counted_;
    std::atomic<bool> closed_flag_{false};

    Phase phase_ = Phase::kIdle;
    unsigned char first_byte_ = 0;     // peeked on a TLS connection
    std::string client_cert_subject_;  // after the TLS handshake
    bool served_any_ = false;          // a request was dispatched on this connection
    bool reading_ = false;
    bool peer_eof_ = false;
    std::unique_ptr<char[]> read_chunk_;  // [kReadChunkBytes] target of every socket read
    boost::beast::flat_buffer buffer_;    // received, not yet parsed
    std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
    uint64_t read_timer_gen_ = 0;
    size_t linger_discarded_ = 0;

    // The current exchange (kExchange only).
    std::shared_ptr<Exchange> exchange_;
    bool keep_alive_ = false;
    int http_version_ = 11;
    bool no_body_ = false;     // HEAD request, or a status without body: headers only
    bool raw_stream_ = false;  // stream to an HTTP/1.0 client: no chunk framing

    // Output.
    std::deque<std::string> queue_;      // waiting to be written
    std::vector<std::string> in_write_;  // being written (kept alive until the write completes)
    bool writing_ = false;
    bool final_queued_ = false;  // the response's last bytes are in queue_ or in_write_
    uint64_t write_timer_gen_ = 0;
};

}  // namespace citadel::server
