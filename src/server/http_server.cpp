#include "server/http_server.h"

#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <exception>
#include <system_error>

#include "core/log.h"
#include "server/connection.h"
#include "server/server_core.h"

namespace citadel::server {
namespace asio = boost::asio;
using boost::system::error_code;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr int kAcceptRetryMs = 50;     // after EMFILE and friends
constexpr size_t kMaxRejecting = 256;  // 503 answers in progress; beyond: plain close
constexpr auto kCloseGrace = std::chrono::seconds(2);  // for closing handlers and threads

// Many idle keep-alive connections need many descriptors.
void raise_fd_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max) return;
    const rlim_t old = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
        lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 1u << 20);
        if (setrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    }
    CITADEL_LOG_DEBUG("http: raised the open-file limit from %llu to %llu",
                      static_cast<unsigned long long>(old),
                      static_cast<unsigned long long>(lim.rlim_cur));
}

void run_io(ServerCore* core) {
    for (;;) {
        try {
            core->ioc.run();
            break;
        } catch (const std::exception& e) {
            CITADEL_LOG_WARN("http: I/O thread caught: %s", e.what());
        } catch (...) {
            CITADEL_LOG_WARN("http: I/O thread caught an unknown exception");
        }
    }
    std::lock_guard lock(core->mu);
    --core->running_threads;
    core->cv.notify_all();
}

Result<tcp::endpoint> resolve(asio::io_context& ioc, const std::string& host, int port) {
    const std::string name = host.empty() ? "0.0.0.0" : host;
    error_code ec;
    const auto address = asio::ip::make_address(name, ec);
    if (!ec) return tcp::endpoint(address, static_cast<unsigned short>(port));
    tcp::resolver resolver(ioc);
    const auto results = resolver.resolve(name, std::to_string(port), ec);
    if (ec) return Status::error(ec.message());
    if (results.empty()) return Status::error("the host name resolves to no address");
    return results.begin()->endpoint();
}

Status listen(ServerCore& core, const tcp::endpoint& endpoint) {
    error_code ec;
    auto& acceptor = core.acceptor;
    acceptor.open(endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor.bind(endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::error(ec.message());
    core.port = acceptor.local_endpoint(ec).port();
    if (ec) return Status::error(ec.message());
    return ok_status();
}

// Null when TLS is off. TLS options without a certificate are a mistake, not plain HTTP.
Result<std::unique_ptr<ServerTls>> load_tls(TlsOptions tls) {
    if (!tls.cert_file.empty()) return ServerTls::load(std::move(tls));
    if (!tls.key_file.empty() || !tls.client_ca_file.empty() || tls.require_client_cert ||
        tls.tls13_only) {
        return Status::error("TLS options were given without a certificate file");
    }
    return std::unique_ptr<ServerTls>();
}

}  // namespace

const std::string* Request::header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lower_name) return &value;
    }
    return nullptr;
}

// ---- ServerCore -----------------------------------------------------------------------------

ServerCore::ServerCore(ServerLimits limits_in, Handler handler_in)
    : limits(std::move(limits_in)),
      handler(std::move(handler_in)),
      ioc(std::max(limits.io_threads, 1)),
      acceptor(asio::make_strand(ioc)),
      accept_retry(ioc) {}

void ServerCore::accept_next() {
    if (!accepting) return;
    acceptor.async_accept(asio::make_strand(ioc),
                          [self = shared_from_this()](const error_code& ec, tcp::socket socket) {
                              self->on_accept(ec, std::move(socket));
                          });
}

void ServerCore::on_accept(const error_code& ec, tcp::socket socket) {
    std::lock_guard lock(accept_mu);
    if (!accepting) {
        error_code ignored;
        socket.close(ignored);
        return;
    }
    if (ec) {
        // Out of descriptors or memory: back off instead of spinning on the same error.
        CITADEL_LOG_WARN("http: accept failed: %s", ec.message().c_str());
        accept_retry.expires_after(std::chrono::milliseconds(kAcceptRetryMs));
        accept_retry.async_wait([self = shared_from_this()](const error_code& wait_ec) {
            if (wait_ec) return;
            std::lock_guard relock(self->accept_mu);
            self->accept_next();
        });
        return;
    }
    const bool over = open_connections.load() >= static_cast<size_t>(limits.max_connections);
    if (over && rejecting.load() >= kMaxRejecting) {
        error_code ignored;
        socket.close(ignored);  // a flood: no 503 for everyone
    } else {
        start_connection(std::move(socket), !over);
    }
    accept_next();
}

void ServerCore::start_connection(tcp::socket socket, bool counted) {
    try {
        auto conn = std::make_shared<Connection>(shared_from_this(), std::move(socket), counted,
                                                 tls ? tls->context() : nullptr);
        add(conn, counted);
        conn->post_start();
    } catch (const std::exception& e) {  // out of memory, or OpenSSL could not make a session
        CITADEL_LOG_WARN("http: cannot set up a connection, closing it: %s", e.what());
    }
}

void ServerCore::close_acceptor() {
    std::lock_guard lock(accept_mu);
    accepting = false;
    error_code ec;
    acceptor.close(ec);
    accept_retry.cancel();
}

void ServerCore::add(const std::shared_ptr<Connection>& conn, bool counted) {
    std::lock_guard lock(mu);
    connections.emplace(conn.get(), conn);
    (counted ? open_connections : rejecting).fetch_add(1);
}

void ServerCore::remove(const Connection* conn, bool counted) {
    std::lock_guard lock(mu);
    if (connections.erase(conn) == 0) return;
    (counted ? open_connections : rejecting).fetch_sub(1);
}

std::vector<std::shared_ptr<Connection>> ServerCore::snapshot() {
    std::vector<std::shared_ptr<Connection>> out;
    std::lock_guard lock(mu);
    out.reserve(connections.size());
    for (const auto& [key, weak] : connections) {
        if (auto conn = weak.lock()) out.push_back(std::move(conn));
    }
    return out;
}

void ServerCore::request_started() {
    in_flight.fetch_add(1);
}

void ServerCore::request_finished() {
    std::lock_guard lock(mu);
    in_flight.fetch_sub(1);
    cv.notify_all();
}

bool ServerCore::on_io_thread() const {
    const auto me = std::this_thread::get_id();
    return std::any_of(threads.begin(), threads.end(),
                       [me](const std::thread& t) { return t.get_id() == me; });
}

// ---- HttpServer -----------------------------------------------------------------------------

HttpServer::HttpServer(std::shared_ptr<ServerCore> core) : core_(std::move(core)) {}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& host, int port,
                                                      ServerLimits limits, Handler handler,
                                                      TlsOptions tls) {
    const std::string where = "cannot listen on " + host + ":" + std::to_string(port) + ": ";
    if (port < 0 || port > 65535) return Status::error(where + "the port is out of range");
    if (!handler) return Status::error(where + "no request handler");
    auto server_tls = load_tls(std::move(tls));
    if (!server_tls) {
        return Status::error("cannot start TLS on " + host + ":" + std::to_string(port) + ": " +
                             server_tls.error());
    }
    raise_fd_limit();
    auto core = std::make_shared<ServerCore>(std::move(limits), std::move(handler));
    core->tls = std::move(*server_tls);
    auto endpoint = resolve(core->ioc, host, port);
    if (!endpoint) return Status::error(where + endpoint.error());
    if (Status st = listen(*core, *endpoint); !st) return Status::error(where + st.message());

    core->work.emplace(asio::make_work_guard(core->ioc));
    {
        std::lock_guard lock(core->accept_mu);
        core->accepting = true;
        core->accept_next();
    }
    auto server = std::unique_ptr<HttpServer>(new HttpServer(core));
    const int n_threads = std::max(core->limits.io_threads, 1);
    try {
        for (int i = 0; i < n_threads; ++i) {
            {
                std::lock_guard lock(core->mu);
                ++core->running_threads;
            }
            core->threads.emplace_back(run_io, core.get());
        }
    } catch (const std::system_error& e) {
        {
            std::lock_guard lock(core->mu);
            --core->running_threads;  // the one that failed to start
        }
        server->shutdown(0);
        return Status::error(where + "cannot start I/O threads: " + e.what());
    }
    CITADEL_LOG_DEBUG("http: listening on %s:%d (%s) with %d I/O threads", host.c_str(), core->port,
                      core->tls ? "TLS" : "plain HTTP", n_threads);
    return server;
}

HttpServer::~HttpServer() {
    shutdown(0);
}

int HttpServer::port() const {
    return core_->port;
}

void HttpServer::stop_accepting() {
    core_->close_acceptor();
}

size_t HttpServer::open_connections() const {
    return core_->open_connections.load();
}

size_t HttpServer::requests_in_flight() const {
    return core_->in_flight.load();
}

Status HttpServer::reload_tls() {
    if (!core_->tls) return Status::error("cannot reload TLS: the server was started without TLS");
    return core_->tls->reload();
}

size_t HttpServer::shutdown(int deadline_ms) {
    ServerCore& core = *core_;
    std::lock_guard shutdown_lock(core.shutdown_mu);
    if (core.stopped) return 0;
    // Joining an I/O thread from itself would deadlock: a bug in the caller.
    CITADEL_CHECK(!core.on_io_thread());
    core.shutting_down = true;
    core.close_acceptor();
    for (const auto& conn : core.snapshot()) conn->post_server_shutdown();

    std::unique_lock lock(core.mu);
    core.cv.wait_until(lock, Clock::now() + std::chrono::milliseconds(std::max(deadline_ms, 0)),
                       [&] { return core.in_flight.load() == 0; });
    const size_t cut = core.in_flight.load();
    lock.unlock();
    if (cut > 0) CITADEL_LOG_INFO("http: shutdown cuts %zu unfinished responses", cut);

    // Close everything; cut responses get their on_disconnect.
    const auto conns = core.snapshot();
    auto pending = std::make_shared<std::atomic<size_t>>(conns.size());
    for (const auto& conn : conns) {
        conn->post_abort([&core, pending] {
            std::lock_guard done_lock(core.mu);
            pending->fetch_sub(1);
            core.cv.notify_all();
        });
    }
    lock.lock();
    core.cv.wait_for(lock, kCloseGrace, [&] { return pending->load() == 0; });
    // Without the work guard, run() returns once nothing is pending; stop() if that stalls.
    core.work.reset();
    if (!core.cv.wait_for(lock, kCloseGrace, [&] { return core.running_threads == 0; })) {
        CITADEL_LOG_WARN("http: I/O threads did not finish; stopping them");
        core.ioc.stop();
    }
    lock.unlock();
    for (auto& t : core.threads) {
        if (t.joinable()) t.join();
    }
    core.threads.clear();
    core.stopped = true;
    // Handlers still queued hold connections (which hold the core): run them to release those.
    try {
        core.ioc.restart();
        core.ioc.poll();
    } catch (...) {
        CITADEL_LOG_WARN("http: a handler threw during shutdown");
    }
    return cut;
}

}  // namespace citadel::server
