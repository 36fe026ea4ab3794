// The classifier hook against a real HTTP server on a loopback port: verdicts, every kind of
// failure (timeout, refused, 500, garbage, oversize, closed connection), fail_open, keep-alive
// reuse and its retry, concurrency, and shutdown with checks pending.

// GCC 12 with the sanitizers reports a false -Wmaybe-uninitialized inside Beast's parser (a
// boost::optional in basic_parser::content_length_unchecked, inlined into put()), as in
// server/connection.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "gateway/classifier.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <list>
#include <mutex>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <thread>

#include "gateway/classifier_call.h"

namespace citadel::gateway {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;

// A classifier stand-in: one thread per connection, blocking I/O, keep-alive. What it does
// depends on the request's text:
//   allow / deny / flag    a verdict          slow        never answers (until the client goes)
//   500                    HTTP 500           garbage     200 with a body that is not JSON
//   noallow                200 without allow  big         200 with a 100 KiB body
//   big-chunked            the same, chunked
//   close                  closes at once     allow-bye   allows, then closes the connection
class TestClassifierServer {
  public:
    TestClassifierServer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
        accept_thread_ = std::thread([this] { accept_loop(); });
    }
    ~TestClassifierServer() {
        stopping_ = true;
        error_code ec;
        tcp::socket wake(io_);
        wake.connect(acceptor_.local_endpoint(), ec);  // unblocks accept()
        accept_thread_.join();
        std::lock_guard lock(mu_);
        for (tcp::socket& s : sockets_) ::shutdown(s.native_handle(), SHUT_RDWR);
        for (std::thread& t : threads_) t.join();
    }

    std::string url() const {
        return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) +
               "/v1/classify";
    }
    int connections() const { return connections_.load(); }
    nlohmann::json last_request() {
        std::lock_guard lock(mu_);
        return last_request_;
    }
    std::string last_target() {
        std::lock_guard lock(mu_);
        return last_target_;
    }
    // Waits (bounded) until `n` requests have arrived.
    bool wait_for_requests(int n) {
        std::unique_lock lock(mu_);
        return requests_cv_.wait_for(lock, 20s, [&] { return requests_ >= n; });
    }

  private:
    void accept_loop() {
        for (;;) {
            tcp::socket socket(io_);
            error_code ec;
            acceptor_.accept(socket, ec);
            if (stopping_) return;
            if (ec) continue;
            ++connections_;
            std::lock_guard lock(mu_);
            tcp::socket& kept = sockets_.emplace_back(std::move(socket));
            threads_.emplace_back([this, &kept] { serve(kept); });
        }
    }

    void serve(tcp::socket& socket) {
        boost::beast::flat_buffer buffer;
        for (;;) {
            http::request<http::string_body> request;
            error_code ec;
            http::read(socket, buffer, request, ec);
            if (ec) return;
            const std::string text = note(request);
            if (text == "slow") continue;  // the next read returns when the client goes
            if (text == "close") return (void)::shutdown(socket.native_handle(), SHUT_RDWR);
            http::write(socket, answer(text, request.version()), ec);
            if (ec) return;
            if (text == "allow-bye") return (void)::shutdown(socket.native_handle(), SHUT_RDWR);
        }
    }

    std::string note(const http::request<http::string_body>& request) {
        auto body = nlohmann::json::parse(request.body(), nullptr, false);
        std::lock_guard lock(mu_);
        last_request_ = body;
        last_target_ = std::string(request.target());
        ++requests_;
        requests_cv_.notify_all();
        return body.is_object() && body["text"].is_string() ? body["text"].get<std::string>() : "";
    }

    static http::response<http::string_body> answer(const std::string& text, unsigned version) {
        http::response<http::string_body> response(http::status::ok, version);
        response.set(http::field::content_type, "application/json");
        if (text == "allow" || text == "allow-bye") {
            response.body() = R"({"allow":true,"reason":"fine"})";
        } else if (text == "deny") {
            response.body() = R"({"allow":false,"reason":"violence"})";
        } else if (text == "flag") {
            response.body() = R"({"allow":true,"flag":true,"reason":"borderline"})";
        } else if (text == "500") {
            response.result(http::status::internal_server_error);
            response.body() = "oops";
        } else if (text == "noallow") {
            response.body() = R"({"reason":"no verdict"})";
        } else if (text == "big" || text == "big-chunked") {
            response.body() = R"({"allow":true,"reason":")" + std::string(100 << 10, 'x') + "\"}";
        } else {
            response.body() = "this is not json {";
        }
        response.keep_alive(true);
        response.prepare_payload();
        if (text == "big-chunked") response.chunked(true);
        return response;
    }

    asio::io_context io_;
    tcp::acceptor acceptor_;
    std::thread accept_thread_;
    std::atomic<bool> stopping_{false};
    std::atomic<int> connections_{0};
    std::mutex mu_;
    std::condition_variable requests_cv_;
    int requests_ = 0;
    nlohmann::json last_request_;
    std::string last_target_;
    std::list<tcp::socket> sockets_;  // closed only at destruction (no fd reuse races)
    std::vector<std::thread> threads_;
};

std::unique_ptr<Classifier> make_classifier(const std::string& url, int timeout_ms = 5000,
                                            bool fail_open = false) {
    ClassifierOptions options;
    options.url = url;
    options.timeout_ms = timeout_ms;
    options.fail_open = fail_open;
    auto classifier = Classifier::create(options);
    EXPECT_TRUE(classifier.ok()) << classifier.error();
    return classifier.ok() ? std::move(*classifier) : nullptr;
}

// Asks and waits (bounded) for the verdict. A second call of `done` would throw
// (promise already satisfied) inside the classifier, which logs it; the tests that count
// calls check "exactly once" directly.
ClassifierVerdict ask(Classifier& classifier, const std::string& text,
                      const std::string& stage = "input") {
    auto promise = std::make_shared<std::promise<ClassifierVerdict>>();
    auto verdict = promise->get_future();
    classifier.check(stage, text, "qwen", "req-1",
                     [promise](ClassifierVerdict v) { promise->set_value(std::move(v)); });
    if (verdict.wait_for(30s) != std::future_status::ready) {
        ADD_FAILURE() << "no verdict for \"" << text << "\"";
        return {};
    }
    return verdict.get();
}

void expect_failure(const ClassifierVerdict& v, bool fail_open, const std::string& reason_part) {
    EXPECT_TRUE(v.failed);
    EXPECT_EQ(v.allow, fail_open);
    EXPECT_FALSE(v.flagged);
    EXPECT_NE(v.reason.find(reason_part), std::string::npos) << v.reason;
}

TEST(ClassifierTest, AllowDenyFlagVerdicts) {
    TestClassifierServer server;
    auto classifier = make_classifier(server.url());
    ClassifierVerdict v = ask(*classifier, "allow");
    EXPECT_TRUE(v.allow);
    EXPECT_FALSE(v.flagged);
    EXPECT_FALSE(v.failed);
    EXPECT_EQ(v.reason, "fine");
    v = ask(*classifier, "deny");
    EXPECT_FALSE(v.allow);
    EXPECT_FALSE(v.failed);
    EXPECT_EQ(v.reason, "violence");
    v = ask(*classifier, "flag", "output");
    EXPECT_TRUE(v.allow);
    EXPECT_TRUE(v.flagged);
    EXPECT_FALSE(v.failed);
    EXPECT_EQ(v.reason, "borderline");
}

TEST(ClassifierTest, SendsTheDocumentedRequest) {
    TestClassifierServer server;
    auto classifier = make_classifier(server.url());
    ask(*classifier, "allow", "output");
    const nlohmann::json request = server.last_request();
    EXPECT_EQ(request["stage"], "output");
    EXPECT_EQ(request["text"], "allow");
    EXPECT_EQ(request["model"], "qwen");
    EXPECT_EQ(request["request_id"], "req-1");
    EXPECT_EQ(server.last_target(), "/v1/classify");
}

TEST(ClassifierTest, FailuresFollowFailOpen) {
    TestClassifierServer server;
    for (bool fail_open : {false, true}) {
        auto classifier = make_classifier(server.url(), 5000, fail_open);
        expect_failure(ask(*classifier, "500"), fail_open, "HTTP 500");
        expect_failure(ask(*classifier, "garbage"), fail_open, "not a JSON object");
        expect_failure(ask(*classifier, "noallow"), fail_open, "no boolean \"allow\"");
        expect_failure(ask(*classifier, "close"), fail_open, "closed the connection");
        expect_failure(ask(*classifier, "big"), fail_open, "larger than 64 KiB");
        expect_failure(ask(*classifier, "big-chunked"), fail_open, "larger than 64 KiB");
        EXPECT_TRUE(ask(*classifier, "allow").allow);  // still usable afterwards
    }
}

TEST(ClassifierTest, SlowClassifierTimesOut) {
    TestClassifierServer server;
    auto classifier = make_classifier(server.url(), 200);
    const auto start = std::chrono::steady_clock::now();
    expect_failure(ask(*classifier, "slow"), false, "no answer from the classifier within 200 ms");
    const auto elapsed = std::chrono::steady_clock::now() - start;
    EXPECT_GE(elapsed, 200ms);
    EXPECT_LT(elapsed, 10s);
    EXPECT_TRUE(ask(*classifier, "allow").allow);
}

TEST(ClassifierTest, RefusedConnectionFails) {
    std::string url;
    {
        asio::io_context io;
        tcp::acceptor closed(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        url = "http://127.0.0.1:" + std::to_string(closed.local_endpoint().port()) + "/";
    }  // nothing listens there now
    for (bool fail_open : {false, true}) {
        auto classifier = make_classifier(url, 5000, fail_open);
        expect_failure(ask(*classifier, "allow"), fail_open, "cannot connect to the classifier");
    }
}

TEST(ClassifierTest, KeepAliveReusesOneConnection) {
    TestClassifierServer server;
    auto classifier = make_classifier(server.url());
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(ask(*classifier, "allow").allow);
    EXPECT_EQ(server.connections(), 1);
}

TEST(ClassifierTest, ConnectionClosedWhileIdleIsRetriedOnAFreshOne) {
    TestClassifierServer server;
    auto classifier = make_classifier(server.url());
    EXPECT_TRUE(ask(*classifier, "allow-bye").allow);  // answered, then closed by the server
    const ClassifierVerdict v = ask(*classifier, "deny");
    EXPECT_FALSE(v.failed) << v.reason;
    EXPECT_FALSE(v.allow);
    EXPECT_EQ(server.connections(), 2);
}

TEST(ClassifierTest, HundredConcurrentChecksCompleteExactlyOnce) {
    TestClassifierServer server;
    constexpr int kChecks = 100;
    const char* kTexts[] = {"allow", "deny", "flag", "500", "garbage", "close"};
    std::vector<std::atomic<int>> calls(kChecks);
    std::mutex mu;
    std::condition_variable cv;
    int completed = 0, allowed = 0, failed = 0;
    std::thread::id caller = std::this_thread::get_id(), callback_thread;
    {
        auto classifier = make_classifier(server.url());
        for (int i = 0; i < kChecks; ++i) {
            classifier->check("input", kTexts[i % 6], "m", std::to_string(i),
                              [&, i](ClassifierVerdict v) {
                                  ++calls[i];
                                  std::lock_guard lock(mu);
                                  callback_thread = std::this_thread::get_id();
                                  allowed += v.allow;
                                  failed += v.failed;
                                  ++completed;
                                  cv.notify_all();
                              });
        }
        std::unique_lock lock(mu);
        ASSERT_TRUE(cv.wait_for(lock, 60s, [&] { return completed == kChecks; }));
    }  // the destructor joins the I/O thread: any late second call would have happened
    for (int i = 0; i < kChecks; ++i) EXPECT_EQ(calls[i].load(), 1) << "check " << i;
    EXPECT_EQ(completed, kChecks);
    EXPECT_EQ(allowed, 17 + 17);      // allow and flag: i % 6 == 0 or 2 (17 each of 0..99)
    EXPECT_EQ(failed, 17 + 16 + 16);  // 500, garbage, close: i % 6 == 3, 4, 5
    EXPECT_NE(callback_thread, caller);
}

TEST(ClassifierTest, DestructorCompletesPendingChecksAsFailed) {
    TestClassifierServer server;
    constexpr int kChecks = 5;
    std::vector<ClassifierVerdict> verdicts;
    std::vector<int> calls(kChecks, 0);
    {
        auto classifier = make_classifier(server.url(), 600000, /*fail_open=*/true);
        for (int i = 0; i < kChecks; ++i) {
            classifier->check("input", "slow", "m", "r", [&, i](ClassifierVerdict v) {
                ++calls[i];
                verdicts.push_back(std::move(v));  // on the I/O thread only
            });
        }
        ASSERT_TRUE(server.wait_for_requests(kChecks));  // all five are waiting for answers
    }
    ASSERT_EQ(verdicts.size(), size_t(kChecks));
    for (int i = 0; i < kChecks; ++i) EXPECT_EQ(calls[i], 1);
    for (const ClassifierVerdict& v : verdicts) expect_failure(v, true, "shut down");
}

TEST(ClassifierTest, ACallbackThatThrowsDoesNotStopTheClassifier) {
    TestClassifierServer server;
    auto classifier = make_classifier(server.url());
    testing::internal::CaptureStderr();
    auto called = std::make_shared<std::promise<void>>();
    classifier->check("input", "allow", "m", "r", [called](ClassifierVerdict) {
        called->set_value();
        throw std::runtime_error("callback bug");
    });
    ASSERT_EQ(called->get_future().wait_for(30s), std::future_status::ready);
    // Asked after the throw was caught and logged (one I/O thread, in order).
    EXPECT_TRUE(ask(*classifier, "allow").allow);
    EXPECT_NE(testing::internal::GetCapturedStderr().find("callback bug"), std::string::npos);
}

TEST(ClassifierTest, BadOptionsAreRefused) {
    auto error = [](const std::string& url, int timeout_ms = 1000) {
        ClassifierOptions options;
        options.url = url;
        options.timeout_ms = timeout_ms;
        auto classifier = Classifier::create(options);
        return classifier.ok() ? std::string() : classifier.error();
    };
    EXPECT_NE(error("https://127.0.0.1:1/x").find("https is not supported"), std::string::npos);
    EXPECT_NE(error("ftp://host/").find("expected http://"), std::string::npos);
    EXPECT_NE(error("http://").find("expected a host"), std::string::npos);
    EXPECT_NE(error("http://host:0/").find("expected a host"), std::string::npos);
    EXPECT_NE(error("http://host:99999/").find("expected a host"), std::string::npos);
    EXPECT_NE(error("http://host:/").find("expected a host"), std::string::npos);
    EXPECT_NE(error("http://::1/").find("expected a host"), std::string::npos);
    EXPECT_NE(error("http://u:p@host/").find("user@"), std::string::npos);
    EXPECT_NE(error("http://host/a b").find("spaces"), std::string::npos);
    EXPECT_NE(error("http://host/#frag").find("fragment"), std::string::npos);
    EXPECT_NE(error("http://127.0.0.1:8080/x", 0).find("timeout_ms"), std::string::npos);
    EXPECT_EQ(error("http://127.0.0.1:8080/x"), "");
}

TEST(ClassifierTest, UrlsParseIntoEndpoints) {
    auto endpoint = parse_classifier_url("http://[::1]:8080/v1/classify?x=1");
    ASSERT_TRUE(endpoint.ok()) << endpoint.error();
    EXPECT_EQ(endpoint->host, "::1");
    EXPECT_EQ(endpoint->port, "8080");
    EXPECT_EQ(endpoint->target, "/v1/classify?x=1");
    EXPECT_EQ(endpoint->host_header, "[::1]:8080");
    endpoint = parse_classifier_url("http://classifier.internal");
    ASSERT_TRUE(endpoint.ok()) << endpoint.error();
    EXPECT_EQ(endpoint->host, "classifier.internal");
    EXPECT_EQ(endpoint->port, "80");
    EXPECT_EQ(endpoint->target, "/");
}

TEST(ClassifierTest, AnswersAreInterpretedStrictly) {
    EXPECT_TRUE(classifier_verdict(200, R"({"allow":true})", false).allow);
    EXPECT_TRUE(classifier_verdict(200, R"({"allow":"yes"})", false).failed);
    EXPECT_TRUE(classifier_verdict(200, R"([true])", false).failed);
    EXPECT_TRUE(classifier_verdict(204, R"({"allow":true})", false).failed);
    const ClassifierVerdict flagged =
        classifier_verdict(200, R"({"allow":false,"flag":true,"reason":7})", true);
    EXPECT_FALSE(flagged.allow);
    EXPECT_TRUE(flagged.flagged);
    EXPECT_FALSE(flagged.failed);
    EXPECT_EQ(flagged.reason, "");
}

}  // namespace
}  // namespace citadel::gateway
