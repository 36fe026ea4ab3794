// State shared by the server, its acceptor and its connections. Connections hold a shared_ptr
// to it, so the io_context outlives every socket even when the application keeps a Responder
// after the HttpServer is gone.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "server/http_server.h"
#include "server/tls_context.h"

namespace citadel::server {

class Connection;

struct ServerCore : std::enable_shared_from_this<ServerCore> {
    ServerCore(ServerLimits limits, Handler handler);

    // Acceptor. accept_mu serialises every use of the acceptor and of `accepting`.
    void accept_next();  // needs accept_mu held
    void close_acceptor();

    // Connection registry and counters.
    void add(const std::shared_ptr<Connection>& conn, bool counted);
    void remove(const Connection* conn, bool counted);
    std::vector<std::shared_ptr<Connection>> snapshot();
    void request_started();
    void request_finished();
    bool on_io_thread() const;

    const ServerLimits limits;
    const Handler handler;
    std::unique_ptr<ServerTls> tls;  // null: plain HTTP. Set before accepting, never replaced.
    boost::asio::io_context ioc;
    std::atomic<bool> shutting_down{false};
    std::atomic<size_t> open_connections{0};
    std::atomic<size_t> rejecting{0};  // connections being answered 503 (not counted above)
    std::atomic<size_t> in_flight{0};

    std::mutex mu;  // guards connections, running_threads; cv signals in_flight and threads
    std::condition_variable cv;
    std::unordered_map<const Connection*, std::weak_ptr<Connection>> connections;
    int running_threads = 0;

    std::mutex accept_mu;
    boost::asio::ip::tcp::acceptor acceptor;
    boost::asio::steady_timer accept_retry;
    bool accepting = false;
    int port = 0;

    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
    std::vector<std::thread> threads;
    std::mutex shutdown_mu;
    bool stopped = false;  // guarded by shutdown_mu

  private:
    void on_accept(const boost::system::error_code& ec, boost::asio::ip::tcp::socket socket);
    void start_connection(boost::asio::ip::tcp::socket socket, bool counted);
};

}  // namespace citadel::server
