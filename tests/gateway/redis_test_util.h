// A real redis-server for tests: started on a free loopback port with no persistence
// (--save '' --appendonly no) in a temporary directory, optionally with a password; waits
// until it answers PING; stop() kills it like a crash (SIGKILL) and start() brings it back on
// the same port; the destructor kills it and removes the directory. A missing redis-server is
// an error (the tests then FAIL and say to run scripts/bootstrap.sh), never a skip.
//
// Threading: one test thread drives a RedisTestServer.
#pragma once

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/status.h"
#include "gateway/redis_client.h"

extern char** environ;

namespace citadel::gateway::testing {

inline constexpr const char* kRedisServerPath = "/usr/bin/redis-server";

// A port nothing listens on right now (the kernel's pick for a socket bound to port 0).
inline int free_loopback_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    int port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    close(fd);
    return port;
}

class RedisTestServer {
  public:
    explicit RedisTestServer(std::string password = "") : password_(std::move(password)) {}
    ~RedisTestServer() {
        stop();
        if (!dir_.empty()) std::filesystem::remove_all(dir_);
    }
    RedisTestServer(const RedisTestServer&) = delete;
    RedisTestServer& operator=(const RedisTestServer&) = delete;

    // First call: a free port; after stop(): the same port again.
    Status start() {
        if (access(kRedisServerPath, X_OK) != 0) {
            return Status::error(std::string("redis-server not found at ") + kRedisServerPath +
                                 ": run scripts/bootstrap.sh");
        }
        if (dir_.empty()) {
            char tmpl[] = "/tmp/citadel-redis-XXXXXX";
            if (mkdtemp(tmpl) == nullptr) return Status::error("mkdtemp failed");
            dir_ = tmpl;
        }
        const bool fixed_port = port_ != 0;
        for (int attempt = 0; attempt < 5; ++attempt) {
            if (!fixed_port) port_ = free_loopback_port();
            Status started = spawn_and_wait();
            if (started.ok() || fixed_port) return started;  // a taken port: try another
        }
        return Status::error("redis-server would not start; see " + dir_ + "/redis.log");
    }

    void stop() {  // SIGKILL: no goodbye to the clients, like a crash
        if (pid_ <= 0) return;
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        pid_ = 0;
    }

    int port() const { return port_; }
    // With the password when there is one.
    std::string url(int db = 0) const {
        const std::string auth = password_.empty() ? "" : ":" + password_ + "@";
        return "redis://" + auth + "127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
    }
    std::string url_without_password(int db = 0) const {
        return "redis://127.0.0.1:" + std::to_string(port_) + "/" + std::to_string(db);
    }

    // A command on a connection of its own (for looking at what the code under test wrote).
    Result<RedisReply> command(const std::vector<std::string>& argv, int db = 0) {
        RedisPoolOptions options;
        auto url_parsed = parse_redis_url(url(db));
        if (!url_parsed.ok()) return url_parsed.status();
        options.url = *url_parsed;
        options.timeout_ms = 2000;
        options.pool_size = 1;
        RedisPool pool(options);
        return pool.command(argv);
    }

  private:
    Status spawn_and_wait() {
        const std::string log = dir_ + "/redis.log";
        std::vector<std::string> args = {kRedisServerPath,
                                         "--port",
                                         std::to_string(port_),
                                         "--bind",
                                         "127.0.0.1",
                                         "--save",
                                         "",
                                         "--appendonly",
                                         "no",
                                         "--dir",
                                         dir_,
                                         "--daemonize",
                                         "no",
                                         "--logfile",
                                         log};
        if (!password_.empty()) {
            args.push_back("--requirepass");
            args.push_back(password_);
        }
        std::vector<char*> argv;
        for (auto& arg : args) argv.push_back(arg.data());
        argv.push_back(nullptr);
        if (posix_spawn(&pid_, kRedisServerPath, nullptr, nullptr, argv.data(), environ) != 0) {
            pid_ = 0;
            return Status::error("cannot run redis-server: run scripts/bootstrap.sh");
        }
        return wait_until_ping_answers(log);
    }

    Status wait_until_ping_answers(const std::string& log) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
                pid_ = 0;
                return Status::error("redis-server exited: " + read_file(log));
            }
            if (answers_ping()) return ok_status();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        stop();
        return Status::error("redis-server did not answer PING within 10 s: " + read_file(log));
    }

    bool answers_ping() const {  // any reply counts, NOAUTH included: the server is up
        timeval timeout{0, 200'000};
        redisContext* context = redisConnectWithTimeout("127.0.0.1", port_, timeout);
        if (context == nullptr) return false;
        bool up = false;
        if (context->err == 0) {
            auto* reply = static_cast<redisReply*>(redisCommand(context, "PING"));
            up = reply != nullptr;
            if (reply != nullptr) freeReplyObject(reply);
        }
        redisFree(context);
        return up;
    }

    static std::string read_file(const std::string& path) {
        std::ifstream in(path);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

    std::string password_;
    std::string dir_;
    int port_ = 0;
    pid_t pid_ = 0;
};

}  // namespace citadel::gateway::testing
