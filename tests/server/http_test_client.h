// A blocking HTTP/1.1 test client on plain POSIX sockets: sends raw bytes, parses responses
// (Content-Length, chunked, or until close), and can read a stream chunk by chunk. Every read
// has a deadline so a broken server fails a test instead of hanging it. Subclasses (the TLS
// client in tls_test_util.h) replace the byte transport: send_some() and recv_some().
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace citadel::server::testing {

using Clock = std::chrono::steady_clock;

struct HttpResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;
    bool chunked = false;
    std::string header(std::string_view name) const {
        for (const auto& [n, v] : headers) {
            if (n == name) return v;
        }
        return "";
    }
    bool has_header(std::string_view name) const {
        for (const auto& [n, v] : headers) {
            if (n == name) return true;
        }
        return false;
    }
};

// Polls `done` every millisecond until it holds or `timeout_ms` passes.
inline bool wait_until(const std::function<bool()>& done, int timeout_ms = 2000) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!done()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

class TestClient {
  public:
    explicit TestClient(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(static_cast<uint16_t>(port));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
        int one = 1;
        if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    virtual ~TestClient() { close(); }
    TestClient(const TestClient&) = delete;
    TestClient& operator=(const TestClient&) = delete;

    bool connected() const { return fd_ >= 0; }
    void close() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
    // Close with a reset (SO_LINGER 0) instead of a FIN.
    void reset() {
        linger lin{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
        close();
    }

    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = send_some(bytes);
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<size_t>(n));
        }
        return true;
    }

    // Reads one whole response; nullopt if the connection ends or the deadline passes first.
    std::optional<HttpResponse> read_response(int timeout_ms = 3000) {
        auto response = read_head(timeout_ms);
        if (!response) return std::nullopt;
        if (response->chunked) {
            for (;;) {
                auto chunk = read_chunk(timeout_ms);
                if (!chunk) return std::nullopt;
                if (chunk->empty()) break;
                response->body += *chunk;
            }
        } else if (response->has_header("content-length")) {
            const size_t n = std::strtoull(response->header("content-length").c_str(), nullptr, 10);
            if (!fill_to(n, timeout_ms)) return std::nullopt;
            response->body = take(n);
        } else if (response->status != 204 && response->status != 304 &&
                   response->status / 100 != 1) {
            while (fill(deadline_in(timeout_ms))) {
            }
            response->body = take(buffer_.size());
        }
        return response;
    }

    // Reads a response head only (for streams and 100 Continue).
    std::optional<HttpResponse> read_head(int timeout_ms = 3000) {
        const auto deadline = deadline_in(timeout_ms);
        size_t end;
        while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
            if (!fill(deadline)) return std::nullopt;
        }
        const std::string head = take(end + 4);
        HttpResponse response;
        size_t line_end = head.find("\r\n");
        const std::string status_line = head.substr(0, line_end);
        if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0) return std::nullopt;
        response.status = std::atoi(status_line.c_str() + 9);
        size_t pos = line_end + 2;
        while (pos < head.size() - 2) {
            line_end = head.find("\r\n", pos);
            const std::string line = head.substr(pos, line_end - pos);
            pos = line_end + 2;
            const size_t colon = line.find(':');
            if (colon == std::string::npos) return std::nullopt;
            std::string name = line.substr(0, colon);
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            size_t v = colon + 1;
            while (v < line.size() && line[v] == ' ') ++v;
            response.headers.emplace_back(std::move(name), line.substr(v));
        }
        response.chunked = response.header("transfer-encoding") == "chunked";
        return response;
    }

    // One chunk of a chunked body: its data, "" for the last chunk, nullopt on EOF/timeout.
    std::optional<std::string> read_chunk(int timeout_ms = 3000) {
        const auto deadline = deadline_in(timeout_ms);
        size_t eol;
        while ((eol = buffer_.find("\r\n")) == std::string::npos) {
            if (!fill(deadline)) return std::nullopt;
        }
        const size_t size = std::strtoull(buffer_.substr(0, eol).c_str(), nullptr, 16);
        while (buffer_.size() < eol + 2 + size + 2) {
            if (!fill(deadline)) return std::nullopt;
        }
        take(eol + 2);
        std::string data = take(size);
        take(2);
        return data;
    }

    // True if the server closes the connection (EOF or reset) within the timeout. Bytes that
    // arrive first are kept in `buffered()`.
    bool wait_closed(int timeout_ms = 2000) {
        const auto deadline = deadline_in(timeout_ms);
        while (fill(deadline)) {
        }
        return eof_;
    }

    const std::string& buffered() const { return buffer_; }

  protected:
    static constexpr ssize_t kTimedOut = -2;

    static int ms_left(Clock::time_point deadline) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        return left.count() > 0 ? static_cast<int>(left.count()) : 0;
    }

    // Sends some of `bytes`: how many, or <= 0 on error.
    virtual ssize_t send_some(std::string_view bytes) {
        return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    }
    // Receives what is available, waiting until the deadline: the count, 0 on EOF, -1 on an
    // error, kTimedOut.
    virtual ssize_t recv_some(char* buf, size_t size, Clock::time_point deadline) {
        pollfd p{fd_, POLLIN, 0};
        const int left = ms_left(deadline);
        if (left <= 0 || ::poll(&p, 1, left) <= 0) return kTimedOut;
        return ::recv(fd_, buf, size, 0);
    }

    int fd() const { return fd_; }

  private:
    static Clock::time_point deadline_in(int ms) {
        return Clock::now() + std::chrono::milliseconds(ms);
    }

    // Reads what is available (waiting until the deadline); false on EOF, error or timeout.
    bool fill(Clock::time_point deadline) {
        if (fd_ < 0 || eof_) return false;
        if (ms_left(deadline) <= 0) return false;
        char buf[16384];
        const ssize_t n = recv_some(buf, sizeof buf, deadline);
        if (n == kTimedOut) return false;
        if (n <= 0) {
            eof_ = true;
            return false;
        }
        buffer_.append(buf, static_cast<size_t>(n));
        return true;
    }

    bool fill_to(size_t n, int timeout_ms) {
        const auto deadline = deadline_in(timeout_ms);
        while (buffer_.size() < n) {
            if (!fill(deadline)) return false;
        }
        return true;
    }

    std::string take(size_t n) {
        std::string out = buffer_.substr(0, n);
        buffer_.erase(0, n);
        return out;
    }

    int fd_ = -1;
    bool eof_ = false;
    std::string buffer_;
};

}  // namespace citadel::server::testing
