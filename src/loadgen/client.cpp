// GCC 12 reports a false -Wmaybe-uninitialized inside Beast's parser (see
// gateway/classifier_call.cpp), and, at -O1 (the sanitizer build), a false
// -Wmismatched-new-delete on Asio's coroutine frames: awaitable_frame_base's own operator
// new allocates through thread_info_base, and its matching operator delete frees there;
// after inlining GCC pairs the inner ::operator new with the class's delete.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include "loadgen/client.h"

#include <openssl/ssl.h>
#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>
#include <limits>
#include <nlohmann/json.hpp>

#include "loadgen/sse.h"

namespace citadel::loadgen {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using boost::system::error_code;

constexpr size_t kMaxErrorBodyBytes = 1u << 20;

double ms_between(Clock::time_point a, Clock::time_point b) {
    return std::chrono::duration<double, std::milli>(b - a).count();
}

auto with(error_code& ec) {
    return asio::redirect_error(asio::use_awaitable, ec);
}

std::string host_port(const Endpoint& e) {
    return e.host + ":" + e.port;
}

// The reason a network step failed, naming the timeout when that was it.
std::string why(const error_code& ec, const std::string& step, const Target& t) {
    if (ec == beast::error::timeout)
        return "no complete answer within " + std::to_string(t.timeout_ms) + " ms (--timeout)";
    return step + ": " + ec.message();
}

http::request<http::string_body> make_request(const Target& t, http::verb verb,
                                              const std::string& path, std::string body) {
    http::request<http::string_body> req{verb, path, 11};
    req.set(http::field::host, t.endpoint.host_header);
    req.set(http::field::user_agent, "citadel-bench-serve");
    if (!t.api_key.empty()) req.set(http::field::authorization, "Bearer " + t.api_key);
    if (verb == http::verb::post) {
        req.set(http::field::content_type, "application/json");
        req.set(http::field::accept, "text/event-stream");
    }
    req.keep_alive(true);
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
}

// Streams the body of a 200 answer into `r`, chunk by chunk.
struct StreamReader {
    const Target& target;
    RequestRecord& r;
    Clock::time_point t0;
    const std::function<void()>& on_chunk;
    SseParser sse;
    std::vector<std::string> events;
    Clock::time_point last_chunk{};

    void on_bytes(std::string_view bytes, Clock::time_point now) {
        events.clear();
        sse.feed(bytes, events);
        for (const std::string& data : events) on_event(data, now);
    }

    void on_event(const std::string& data, Clock::time_point now) {
        Result<StreamChunk> c = parse_chunk(data, target.api);
        if (!c) {
            if (r.error.empty()) r.error = c.error();
            return;
        }
        if (!c->error.empty() && r.error.empty()) r.error = "error event mid-stream: " + c->error;
        if (c->prompt_tokens) r.prompt_tokens = *c->prompt_tokens;
        if (c->completion_tokens) {
            r.output_tokens = *c->completion_tokens;
            r.usage_reported = true;
        }
        if (c->content_chars == 0) return;
        if (r.content_chunks == 0) {
            r.ttft_ms = ms_between(t0, now);
        } else {
            r.itl_ms.push_back(ms_between(last_chunk, now));
        }
        last_chunk = now;
        ++r.content_chunks;
        if (on_chunk) on_chunk();
    }
};

template <class Stream>
asio::awaitable<void> read_error_body(Stream& s, Connection& c,
                                      http::response_parser<http::buffer_body>& parser,
                                      RequestRecord& r) {
    std::string body;
    char buf[8192];
    error_code ec;
    while (!parser.is_done() && body.size() < kMaxErrorBodyBytes) {
        parser.get().body().data = buf;
        parser.get().body().size = sizeof buf;
        co_await http::async_read_some(s, c.buffer(), parser, with(ec));
        if (ec == http::error::need_buffer) ec = {};
        body.append(buf, sizeof buf - parser.get().body().size);
        if (ec) break;
    }
    r.error = "HTTP " + std::to_string(r.http_status) + ": " + error_message_of(body);
    if (ec || !parser.is_done() || !parser.keep_alive()) c.close();
}

// The server closed the connection before any byte of an answer: on a kept-alive connection
// that is a server closing it as idle while this request was on its way, and it never read it.
bool closed_before_answer(const error_code& ec) {
    return ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
           ec == asio::error::broken_pipe;
}

// Returns true when the connection closed before any answer (see closed_before_answer).
template <class Stream>
asio::awaitable<bool> exchange(Stream& s, Connection& c, http::request<http::string_body>& req,
                               RequestRecord& r, Clock::time_point t0, Clock::time_point deadline,
                               const std::function<void()>& on_chunk) {
    const Target& t = c.target();
    error_code ec;
    c.tcp().expires_at(deadline);
    co_await http::async_write(s, req, with(ec));
    if (ec) {
        r.error = why(ec, "cannot send the request to " + host_port(t.endpoint), t);
        co_return closed_before_answer(ec);
    }
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    co_await http::async_read_header(s, c.buffer(), parser, with(ec));
    if (ec) {
        r.error = why(ec, "no answer from " + host_port(t.endpoint), t);
        co_return closed_before_answer(ec);
    }
    r.http_status = int(parser.get().result_int());
    if (r.http_status != 200) {
        co_await read_error_body(s, c, parser, r);
        co_return false;
    }
    StreamReader reader{t, r, t0, on_chunk};
    char buf[16384];
    while (!parser.is_done()) {
        parser.get().body().data = buf;
        parser.get().body().size = sizeof buf;
        co_await http::async_read_some(s, c.buffer(), parser, with(ec));
        const Clock::time_point now = Clock::now();
        if (ec == http::error::need_buffer) ec = {};
        reader.on_bytes(std::string_view(buf, sizeof buf - parser.get().body().size), now);
        if (ec) {
            if (r.error.empty()) r.error = why(ec, "the stream was cut", t);
            c.close();
            co_return false;
        }
    }
    if (!parser.keep_alive()) c.close();
    if (!r.error.empty()) co_return false;
    if (!r.usage_reported) r.output_tokens = r.content_chunks;
    r.ok = true;
    co_return false;
}

}  // namespace

std::string request_body(const Target& t, const Prompt& prompt) {
    nlohmann::json body = {{"model", t.model},
                           {"max_tokens", prompt.max_tokens},
                           {"stream", true},
                           {"stream_options", {{"include_usage", true}}}};
    if (t.api == Api::kChat) {
        body["messages"] = nlohmann::json::array({{{"role", "user"}, {"content", prompt.text}}});
    } else {
        body["prompt"] = prompt.text;
    }
    if (t.ignore_eos) body["ignore_eos"] = true;
    if (t.temperature >= 0) body["temperature"] = t.temperature;
    return body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::shared_ptr<ssl::context>> make_tls_context(const Target& t) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    error_code ec;
    ctx->set_default_verify_paths(ec);
    if (!t.ca_file.empty()) {
        ctx->load_verify_file(t.ca_file, ec);
        if (ec) return Status::error("cannot load --ca-file " + t.ca_file + ": " + ec.message());
    }
    ctx->set_verify_mode(t.insecure_tls ? ssl::verify_none : ssl::verify_peer);
    return ctx;
}

Connection::Connection(asio::io_context& io, const Target& target,
                       std::shared_ptr<ssl::context> tls)
    : io_(io), target_(target), tls_context_(std::move(tls)) {}

bool Connection::peer_closed() {
    if (!open_) return true;
    if (buffer_.size() > 0) return true;  // bytes nobody asked for: the stream is out of step
    char byte;
    const ssize_t n = ::recv(tcp().socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n > 0) return !tls_;  // TLS may have records pending (session tickets): that is fine
    return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

void Connection::close() {
    error_code ignored;
    if (tcp_ || tls_) tcp().socket().close(ignored);
    tls_.reset();
    tcp_.reset();
    buffer_.clear();
    open_ = false;
}

asio::awaitable<std::string> Connection::ensure_open(Clock::time_point deadline) {
    if (open_) co_return std::string();
    close();
    const Endpoint& e = target_.endpoint;
    error_code ec;
    asio::ip::tcp::resolver resolver(io_);
    auto endpoints = co_await resolver.async_resolve(e.host, e.port, with(ec));
    if (ec) co_return "cannot resolve " + e.host + ": " + ec.message();
    if (e.tls) {
        if (!tls_context_) co_return std::string("https needs a TLS context");
        tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(io_, *tls_context_);
    } else {
        tcp_ = std::make_unique<beast::tcp_stream>(io_);
    }
    tcp().expires_at(deadline);
    co_await tcp().async_connect(endpoints, with(ec));
    if (ec) co_return why(ec, "cannot connect to " + host_port(e), target_);
    tcp().socket().set_option(asio::ip::tcp::no_delay(true), ec);
    if (tls_) {
        SSL_set_tlsext_host_name(tls_->native_handle(), e.host.c_str());
        if (!target_.insecure_tls) tls_->set_verify_callback(ssl::host_name_verification(e.host));
        co_await tls_->async_handshake(ssl::stream_base::client, with(ec));
        if (ec)
            co_return why(ec,
                          "TLS handshake with " + host_port(e) +
                              " failed (--ca-file trusts a CA, --insecure skips the checks)",
                          target_);
    }
    open_ = true;
    co_return std::string();
}

asio::awaitable<RequestRecord> send_request(Connection& c, const Prompt& prompt,
                                            Clock::time_point run_start,
                                            const std::function<void()>& on_chunk) {
    const Target& t = c.target();
    RequestRecord r;
    const Clock::time_point t0 = Clock::now();
    r.start_s = std::chrono::duration<double>(t0 - run_start).count();
    const Clock::time_point deadline = t0 + std::chrono::milliseconds(t.timeout_ms);
    auto req =
        make_request(t, http::verb::post, api_path(t.endpoint, t.api), request_body(t, prompt));
    // A keep-alive connection the server has closed since its last answer is noticed before
    // sending; when the close crosses the request on the wire (the server never read it), the
    // request goes once more on a new connection, its clock still running. Nothing else is
    // retried: a retry could run a request twice and skew the counts.
    if (c.is_open() && c.peer_closed()) c.close();
    for (int attempt = 0; attempt < 2; ++attempt) {
        const bool reused = c.is_open();
        r = RequestRecord{.start_s = r.start_s};
        bool closed_early = false;
        if (std::string err = co_await c.ensure_open(deadline); !err.empty()) {
            r.error = err;
        } else if (c.tls()) {  // (no co_await inside ?: -- GCC 12 miscompiles that)
            closed_early = co_await exchange(*c.tls(), c, req, r, t0, deadline, on_chunk);
        } else {
            closed_early = co_await exchange(c.tcp(), c, req, r, t0, deadline, on_chunk);
        }
        if (!r.ok && r.http_status == 0) c.close();
        if (!(closed_early && reused)) break;
    }
    r.e2e_ms = ms_between(t0, Clock::now());
    co_return r;
}

asio::awaitable<std::pair<int, std::string>> get_json(Connection& c, const std::string& path) {
    const Target& t = c.target();
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(t.timeout_ms);
    if (std::string err = co_await c.ensure_open(deadline); !err.empty())
        co_return std::pair{0, err};
    auto req = make_request(t, http::verb::get, t.endpoint.base + path, "");
    error_code ec;
    c.tcp().expires_at(deadline);
    http::response_parser<http::string_body> parser;
    parser.body_limit(8u << 20);
    if (c.tls()) {
        co_await http::async_write(*c.tls(), req, with(ec));
        if (!ec) co_await http::async_read(*c.tls(), c.buffer(), parser, with(ec));
    } else {
        co_await http::async_write(c.tcp(), req, with(ec));
        if (!ec) co_await http::async_read(c.tcp(), c.buffer(), parser, with(ec));
    }
    if (ec) {
        c.close();
        co_return std::pair{0, why(ec, "GET " + path + " from " + host_port(t.endpoint), t)};
    }
    if (!parser.keep_alive()) c.close();
    co_return std::pair{int(parser.get().result_int()), parser.get().body()};
}

}  // namespace citadel::loadgen
