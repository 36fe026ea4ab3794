// One question to the content classifier (classifier.h has the protocol): connect (or take a
// kept-alive connection), send, read, interpret, all under one deadline; and the state the
// calls of one Classifier share (its endpoint, idle connections, calls in flight).
//
// Threading: everything here runs on the Classifier's I/O thread; nothing is locked.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "gateway/classifier.h"

namespace citadel::gateway {

inline constexpr size_t kClassifierMaxAnswerBytes = 64 * 1024;
inline constexpr size_t kClassifierMaxIdleConnections = 16;

struct ClassifierEndpoint {
    std::string host;    // without brackets for IPv6
    std::string port;    // "80" when the url names none
    std::string target;  // path and query, "/" when empty
    std::string host_header;
};

// http://host[:port][/path][?query]; anything else is an error naming the url.
Result<ClassifierEndpoint> parse_classifier_url(std::string_view url);

// The verdict for an HTTP answer (status and body), failures included.
ClassifierVerdict classifier_verdict(unsigned status, std::string_view body, bool fail_open);
ClassifierVerdict classifier_failure(std::string reason, bool fail_open);

class ClassifierCall;

// What the calls of one Classifier share. I/O thread only.
struct ClassifierShared {
    ClassifierShared(boost::asio::io_context& io, ClassifierEndpoint endpoint,
                     ClassifierOptions options)
        : io(io), endpoint(std::move(endpoint)), options(std::move(options)) {}

    boost::asio::io_context& io;
    const ClassifierEndpoint endpoint;
    const ClassifierOptions options;
    bool stopping = false;
    std::vector<boost::asio::ip::tcp::socket> idle;  // kept-alive connections, newest last
    std::unordered_map<uint64_t, std::shared_ptr<ClassifierCall>> active;
    uint64_t next_id = 0;
};

struct ClassifierQuestion {
    std::string stage, text, model, request_id;
};

class ClassifierCall : public std::enable_shared_from_this<ClassifierCall> {
  public:
    ClassifierCall(ClassifierShared& shared, const ClassifierQuestion& question,
                   std::function<void(ClassifierVerdict)> done);
    void start();
    void fail(std::string reason);  // completes the call now (unless it already completed)

  private:
    void connect();
    void send();
    void read();
    void read_body();
    void on_read_error(const boost::system::error_code& ec);
    void on_answer();
    // A kept-alive connection that was closed before any answer arrived: once more, fresh.
    bool retry_on_fresh_connection();
    void complete(ClassifierVerdict verdict);

    ClassifierShared& shared_;
    uint64_t id_;
    std::function<void(ClassifierVerdict)> done_;
    boost::asio::ip::tcp::socket socket_;
    boost::asio::ip::tcp::resolver resolver_;
    boost::asio::steady_timer deadline_;
    boost::beast::http::request<boost::beast::http::string_body> request_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::response_parser<boost::beast::http::string_body>> parser_;
    bool reused_ = false;   // socket_ came from the idle list
    bool retried_ = false;  // the one retry on a fresh connection was used
    bool completed_ = false;
};

}  // namespace citadel::gateway
