// HTTP/1.1 server on Boost.Beast/Asio: connections, framing, limits, timeouts, streaming and
// disconnect detection, over plain TCP or TLS (OpenSSL). No business logic: every complete
// request goes to one Handler.
//
// Threading: `io_threads` threads run one io_context; each connection lives on its own strand,
// so a connection's state is touched by one thread at a time. The Handler runs on an I/O thread
// and must return quickly (hand the work to the engine and answer later through the Responder,
// which is safe to use from any thread).
//
// Connection life: keep-alive (HTTP/1.1 default, HTTP/1.0 with `Connection: keep-alive`) and
// pipelining: the next request is parsed only after the current response has been fully
// written; bytes that arrive meanwhile are buffered (up to a bound). Errors the server produces
// itself (400, 408, 413, 431, 500, 503) carry OpenAI-shaped JSON bodies; after 400/408/413/431
// the connection is closed (lingering: our side is shut down first so the client can read the
// answer before the socket goes away).
//
// Disconnects: while a response is pending or streaming, a read stays outstanding on the socket.
//  - A reset or any read/write error is a disconnect: on_disconnect fires and the connection is
//    closed at once.
//  - A write that does not complete within `write_timeout_ms` is a disconnect too.
//  - EOF (the client's FIN) cannot be told apart on the wire from a half-close (shutdown(SHUT_WR))
//    without writing, and a client that gives up on a request (OpenAI SDK, curl ^C) sends
//    exactly that FIN. With `eof_cancels_request` (the default) EOF while a response is pending
//    is therefore a disconnect: on_disconnect fires, the connection closes, and a half-closed
//    client gets no answer to a request still pending. An answer the handler gives before it
//    returns (health, errors, listings) is not pending: it is always written. With it off, EOF
//    only means "no more requests": the response is still written, and a disconnect is seen
//    only when a write fails (for a stream, within about two chunks of the client going away;
//    a non-streaming client that closed is not seen until its answer is written).
//
// TLS (when TlsOptions::cert_file is set): TLS 1.2 (ECDHE with AES-GCM or ChaCha20-Poly1305
// only) or 1.3; no compression, no renegotiation, the server's cipher order, ALPN "http/1.1".
// The handshake counts against `header_timeout_ms` (a client that never finishes it is closed
// silently). A connection whose first byte is not a TLS handshake record gets a plain-text 400
// ("use https://") and is closed. After a final response the server sends close_notify, then
// lingers as for plain TCP. Everything above (limits, keep-alive, pipelining, streams,
// disconnects, shutdown) works the same over TLS; a TCP close without close_notify counts as
// EOF. reload_tls() swaps the certificate for new connections; open ones keep theirs.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace citadel::server {

struct ServerLimits {
    size_t max_body_bytes = 8u << 20;     // larger bodies: 413 (from Content-Length before reading,
                                          // and while reading chunked bodies)
    size_t max_header_bytes = 16u << 10;  // larger request heads: 431
    int header_timeout_ms = 10000;  // the request head must arrive within this (from the accept
                                    // for a connection's first request, else from its first
                                    // byte): 408 then close; no byte at all: closed silently
    int body_timeout_ms = 30000;    // body must arrive within this after the head: 408 then close
    int idle_timeout_ms = 75000;    // keep-alive connection with no request: closed silently
    int max_connections = 4096;     // beyond: the new connection gets 503 and is closed
    int io_threads = 2;
    // Additions.
    int write_timeout_ms = 30000;     // a write that does not complete within this: disconnect
    bool eof_cancels_request = true;  // see "Disconnects" above
    size_t max_pipelined_bytes = 64u << 10;  // bytes buffered while a response is pending; past
                                             // this the server stops reading until it is done
};

struct Request {
    std::string method;                                        // "GET", "POST", ...
    std::string target;                                        // as sent: "/v1/models?x=1"
    std::string path;                                          // target without query: "/v1/models"
    std::string query;                                         // after '?', may be empty
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
    std::string body;
    std::string remote;                                            // "127.0.0.1:51234"
    int http_version = 11;                                         // 10 or 11 (addition)
    const std::string* header(std::string_view lower_name) const;  // first match or nullptr
    // Additions (TLS).
    bool tls = false;                 // the request arrived over TLS
    std::string client_cert_subject;  // CN of the verified client certificate; empty if none
                                      // (or if the CN is missing or holds control characters)
};

// TLS for the listener. TLS is on when cert_file is set.
struct TlsOptions {
    std::string cert_file;  // PEM: the server certificate, then any intermediates
    std::string key_file;   // PEM private key (not encrypted); empty: read it from cert_file
    // PEM CA certificates. Set: clients are asked for a certificate, which must verify against
    // these CAs if one is presented.
    std::string client_ca_file;
    bool require_client_cert = false;  // mTLS: no client certificate, no connection (needs
                                       // client_ca_file)
    bool tls13_only = false;           // refuse TLS 1.2
};

// One request's answer. Thread-safe: may be called from any thread (the engine's event
// consumer, a timer), any time after the handler returned. Exactly one of send() or
// start_stream()+...+end() should be used; anything after the first response is ignored.
// If the Responder is destroyed without a response, the server answers 500 (a bug guard); if
// it is destroyed in the middle of a stream (no end()), the connection is cut so the client
// sees a truncated response rather than a clean end.
class Responder {
  public:
    virtual ~Responder() = default;
    virtual void send(int status, std::string content_type, std::string body,
                      std::vector<std::pair<std::string, std::string>> headers = {}) = 0;
    // Streaming with chunked transfer encoding (SSE, NDJSON). Writes are queued in order;
    // write() returns false once the client is gone (then the caller should stop). To an
    // HTTP/1.0 client the stream is sent unframed and the connection closed at end().
    virtual void start_stream(int status, std::string content_type,
                              std::vector<std::pair<std::string, std::string>> headers = {}) = 0;
    virtual bool write(std::string chunk) = 0;
    virtual void end() = 0;
    // Called at most once, on an I/O thread, if the client disconnects (see "Disconnects"
    // above) before the response finished, including while the handler is still waiting for the
    // engine (no bytes written yet), and for responses cut by shutdown(). Set it in the handler
    // (before returning); if set after the disconnect it is still called (posted to the I/O
    // thread). Must be cheap and thread-safe (e.g. engine.cancel(id)).
    virtual void on_disconnect(std::function<void()> callback) = 0;
    virtual bool disconnected() const = 0;
};

using Handler = std::function<void(Request&&, std::shared_ptr<Responder>)>;

struct ServerCore;  // internal shared state (connection.h)

class HttpServer {
  public:
    // Binds (port 0: any free port), starts the I/O threads, accepts. Error names host/port and
    // the reason (for TLS: the file and OpenSSL's reason). Raises the RLIMIT_NOFILE soft limit
    // to the hard limit.
    static Result<std::unique_ptr<HttpServer>> start(const std::string& host, int port,
                                                     ServerLimits limits, Handler handler,
                                                     TlsOptions tls = {});
    // shutdown(0) unless shut down already. Like shutdown(), never from an I/O thread (a
    // handler or a callback): joining its own thread is a bug and aborts.
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    int port() const;       // the bound port
    void stop_accepting();  // close the listener; open connections continue
    size_t open_connections() const;
    size_t requests_in_flight() const;  // handlers called whose response has not finished
    // Graceful: stop accepting, close idle keep-alive connections (and ones whose request has
    // not fully arrived) at once, wait up to `deadline_ms` for in-flight responses to finish,
    // then close everything (cut responses get on_disconnect) and join the I/O threads.
    // Returns the number of responses that were still unfinished and got cut. Idempotent.
    size_t shutdown(int deadline_ms);
    // Re-reads the certificate, key and client CA files named at start() (on SIGHUP). New
    // connections use them; open ones keep the old ones. On any error the old ones stay in use
    // and the error (naming the file) is returned; also an error when TLS is off. Thread-safe.
    Status reload_tls();

  private:
    explicit HttpServer(std::shared_ptr<ServerCore> core);
    std::shared_ptr<ServerCore> core_;
};

}  // namespace citadel::server
