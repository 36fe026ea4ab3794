// HttpServer over real sockets on 127.0.0.1: framing, keep-alive, pipelining, limits, timeouts,
// streaming, disconnect detection, shutdown and hostile input.
#include "server/http_server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "server/http_test_client.h"

namespace citadel::server {
namespace {

using testing::HttpResponse;
using testing::TestClient;
using testing::wait_until;

std::unique_ptr<HttpServer> start_server(Handler handler, ServerLimits limits = {}) {
    auto started = HttpServer::start("127.0.0.1", 0, limits, std::move(handler));
    EXPECT_TRUE(started.ok()) << started.error();
    return started.ok() ? std::move(started).value() : nullptr;
}

void echo(Request&& req, std::shared_ptr<Responder> res) {
    std::string out = req.method + " " + req.path + " q=" + req.query + " body=" + req.body;
    if (const std::string* h = req.header("x-test")) out += " x=" + *h;
    res->send(200, "text/plain", out, {{"X-Echo", "1"}});
}

std::string get(std::string_view path, std::string_view extra = "") {
    return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

// A handler that keeps every request and responder for the test to answer, and counts
// disconnects.
struct Held {
    std::mutex mu;
    std::vector<std::shared_ptr<Responder>> responders;
    std::vector<std::string> paths;
    std::atomic<int> disconnects{0};

    Handler handler(bool watch_disconnect = true) {
        return [this, watch_disconnect](Request&& req, std::shared_ptr<Responder> res) {
            if (watch_disconnect) res->on_disconnect([this] { disconnects.fetch_add(1); });
            std::lock_guard lock(mu);
            paths.push_back(req.path);
            responders.push_back(std::move(res));
        };
    }
    size_t count() {
        std::lock_guard lock(mu);
        return responders.size();
    }
    std::shared_ptr<Responder> at(size_t i) {
        if (!wait_until([&] { return count() > i; })) return nullptr;
        std::lock_guard lock(mu);
        return responders[i];
    }
};

bool is_error_json(const HttpResponse& r, std::string_view type) {
    return r.header("content-type") == "application/json" &&
           r.body.find(R"({"error":{"message":")") == 0 &&
           r.body.find("\"type\":\"" + std::string(type) + "\"") != std::string::npos &&
           r.body.find(R"("param":null,"code":null}})") != std::string::npos;
}

TEST(HttpServer, EchoesGetAndPost) {
    auto server = start_server(echo);
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(c.send(get("/v1/models?x=1", "X-Test: hi\r\n")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "GET /v1/models q=x=1 body= x=hi");
    EXPECT_EQ(r->header("x-echo"), "1");
    EXPECT_EQ(r->header("server"), "citadel");
    EXPECT_EQ(r->header("date").size(), 29u) << r->header("date");  // IMF-fixdate
    EXPECT_EQ(r->header("content-type"), "text/plain");

    ASSERT_TRUE(c.send("POST /v1/chat HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
    r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "POST /v1/chat q= body=hello");

    ASSERT_TRUE(
        c.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
               "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
    r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "POST /c q= body=abcde");
}

TEST(HttpServer, KeepAliveAndConnectionClose) {
    auto server = start_server(echo);
    ASSERT_TRUE(server);
    TestClient c(server->port());
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(c.send(get("/n" + std::to_string(i))));
        auto r = c.read_response();
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->body, "GET /n" + std::to_string(i) + " q= body=");
        EXPECT_FALSE(r->has_header("connection"));
    }
    ASSERT_TRUE(c.send(get("/last", "Connection: close\r\n")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.wait_closed());

    TestClient old(server->port());  // HTTP/1.0 closes by default
    ASSERT_TRUE(old.send("GET /a HTTP/1.0\r\n\r\n"));
    r = old.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(old.wait_closed());

    TestClient old_ka(server->port());  // HTTP/1.0 with keep-alive stays open
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(old_ka.send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        r = old_ka.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->header("connection"), "keep-alive");
    }
}

TEST(HttpServer, PipelinedRequestsAnsweredInOrder) {
    Held held;
    auto server = start_server(held.handler());
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(c.send(get("/a") + get("/b") + get("/c")));
    auto first = held.at(0);
    ASSERT_TRUE(first);
    // The next request is read only once the current response is finished.
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_EQ(held.count(), 1u);
    first->send(200, "text/plain", "a");
    held.at(1)->send(200, "text/plain", "b");
    held.at(2)->send(200, "text/plain", "c");
    for (const char* want : {"a", "b", "c"}) {
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->body, want);
    }
    std::lock_guard lock(held.mu);
    EXPECT_EQ(held.paths, (std::vector<std::string>{"/a", "/b", "/c"}));
}

TEST(HttpServer, BodyOverLimitByContentLengthIs413) {
    std::atomic<int> calls{0};
    auto server = start_server(
        [&](Request&&, std::shared_ptr<Responder> res) {
            ++calls;
            res->send(200, "text/plain", "no");
        },
        {.max_body_bytes = 1000});
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10485760\r\n\r\nabc"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(is_error_json(*r, "invalid_request_error")) << r->body;
    EXPECT_NE(r->body.find("request body of 10485760 bytes exceeds the limit of 1000 bytes"),
              std::string::npos)
        << r->body;
    EXPECT_TRUE(c.wait_closed());
    EXPECT_EQ(calls.load(), 0);
}

TEST(HttpServer, ChunkedBodyOverLimitIs413) {
    auto server = start_server(echo, {.max_body_bytes = 1000});
    ASSERT_TRUE(server);
    TestClient c(server->port());
    const std::string chunk = "258\r\n" + std::string(600, 'x') + "\r\n";  // 0x258 = 600
    ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk +
                       chunk + "0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413);
    EXPECT_NE(r->body.find("exceeds the limit of 1000 bytes"), std::string::npos) << r->body;
    EXPECT_TRUE(c.wait_closed());
}

TEST(HttpServer, HugeHeaderIs431) {
    auto server = start_server(echo, {.max_header_bytes = 1024});
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(c.send(get("/", "X-Big: " + std::string(4000, 'y') + "\r\n")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
    EXPECT_TRUE(is_error_json(*r, "invalid_request_error"));
    EXPECT_NE(r->body.find("1024 bytes"), std::string::npos) << r->body;
    EXPECT_TRUE(c.wait_closed());
}

TEST(HttpServer, SlowHeadIs408AndSilentClientIsClosed) {
    auto server = start_server(echo, {.header_timeout_ms = 200});
    ASSERT_TRUE(server);
    TestClient slow(server->port());
    TestClient silent(server->port());
    const auto t0 = testing::Clock::now();
    ASSERT_TRUE(slow.send("GET / HTTP/1.1\r\nHost: t\r\n"));  // never finishes the head
    auto r = slow.read_response();
    const auto elapsed = testing::Clock::now() - t0;
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 408);
    EXPECT_TRUE(is_error_json(*r, "invalid_request_error"));
    EXPECT_NE(r->body.find("within 200 ms"), std::string::npos) << r->body;
    EXPECT_GE(elapsed, std::chrono::milliseconds(150));
    EXPECT_TRUE(slow.wait_closed());
    EXPECT_TRUE(silent.wait_closed());
    EXPECT_EQ(silent.buffered(), "");
}

TEST(HttpServer, SlowBodyIs408) {
    auto server = start_server(echo, {.body_timeout_ms = 200});
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 408);
    EXPECT_NE(r->body.find("request body not received within 200 ms"), std::string::npos);
    EXPECT_TRUE(c.wait_closed());
}

TEST(HttpServer, ConnectionsBeyondTheLimitGet503) {
    auto server = start_server(echo, {.max_connections = 2});
    ASSERT_TRUE(server);
    TestClient a(server->port()), b(server->port());
    ASSERT_TRUE(wait_until([&] { return server->open_connections() == 2; }));
    TestClient over(server->port());
    auto r = over.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503);
    EXPECT_TRUE(is_error_json(*r, "overloaded_error")) << r->body;
    EXPECT_TRUE(over.wait_closed());
    EXPECT_EQ(server->open_connections(), 2u);

    a.close();
    ASSERT_TRUE(wait_until([&] { return server->open_connections() == 1; }));
    TestClient next(server->port());
    ASSERT_TRUE(next.send(get("/ok")));
    r = next.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST(HttpServer, StreamsChunksPromptlyAndInOrder) {
    Held held;
    auto server = start_server(held.handler());
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(c.send(get("/stream")));
    auto res = held.at(0);
    ASSERT_TRUE(res);
    res->start_stream(200, "text/event-stream",
                      {{"Cache-Control", "no-cache"}, {"X-Accel-Buffering", "no"}});
    auto head = c.read_head();
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 200);
    EXPECT_TRUE(head->chunked);
    EXPECT_EQ(head->header("content-type"), "text/event-stream");
    EXPECT_EQ(head->header("cache-control"), "no-cache");
    EXPECT_EQ(head->header("x-accel-buffering"), "no");
    EXPECT_FALSE(head->has_header("content-length"));
    // Each chunk arrives before the next is written: nothing waits for the end of the stream.
    for (int i = 0; i < 3; ++i) {
        const std::string event = "data: {\"i\":" + std::to_string(i) + "}\n\n";
        EXPECT_TRUE(res->write(event));
        auto chunk = c.read_chunk(1000);
        ASSERT_TRUE(chunk) << i;
        EXPECT_EQ(*chunk, event);
    }
    res->end();
    auto last = c.read_chunk(1000);
    ASSERT_TRUE(last);
    EXPECT_EQ(*last, "");
    EXPECT_FALSE(res->write("late"));
    // The connection stays usable after the stream.
    ASSERT_TRUE(c.send(get("/next")));
    held.at(1)->send(200, "text/plain", "after");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "after");
    EXPECT_EQ(held.disconnects.load(), 0);
}

TEST(HttpServer, ConcurrentStreamWritersKeepTheirOrder) {
    Held held;
    auto server = start_server(held.handler());
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(c.send(get("/stream")));
    auto res = held.at(0);
    ASSERT_TRUE(res);
    res->start_stream(200, "application/x-ndjson");
    auto writer = [&](char tag) {
        for (int i = 0; i < 50; ++i) res->write(std::string(1, tag) + std::to_string(i) + "\n");
    };
    std::thread ta(writer, 'a'), tb(writer, 'b');
    ta.join();
    tb.join();
    res->end();
    auto r = c.read_response();
    ASSERT_TRUE(r);
    int next_a = 0, next_b = 0;
    size_t pos = 0;
    while (pos < r->body.size()) {
        const size_t eol = r->body.find('\n', pos);
        ASSERT_NE(eol, std::string::npos);
        const std::string line = r->body.substr(pos, eol - pos);
        pos = eol + 1;
        int& next = line[0] == 'a' ? next_a : next_b;
        EXPECT_EQ(std::stoi(line.substr(1)), next) << line;
        ++next;
    }
    EXPECT_EQ(next_a, 50);
    EXPECT_EQ(next_b, 50);
}

TEST(HttpServer, ClientClosingMidStreamFiresOnDisconnect) {
    Held held;
    auto server = start_server(held.handler());
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(c.send(get("/stream")));
    auto res = held.at(0);
    ASSERT_TRUE(res);
    res->start_stream(200, "text/event-stream");
    ASSERT_TRUE(res->write("data: 1\n\n"));
    ASSERT_TRUE(c.read_head());
    ASSERT_TRUE(c.read_chunk());
    c.close();
    EXPECT_TRUE(wait_until([&] { return held.disconnects.load() == 1; }));
    EXPECT_TRUE(res->disconnected());
    EXPECT_FALSE(res->write("data: 2\n\n"));
    EXPECT_TRUE(wait_until([&] { return server->requests_in_flight() == 0; }));
}

TEST(HttpServer, FailedWritesDetectAClosedStreamClient) {
    Held held;
    auto server = start_server(held.handler(), {.eof_cancels_request = false});
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(c.send(get("/stream")));
    auto res = held.at(0);
    ASSERT_TRUE(res);
    res->start_stream(200, "text/event-stream");
    ASSERT_TRUE(res->write("data: 0\n\n"));
    ASSERT_TRUE(c.read_head());
    ASSERT_TRUE(c.read_chunk());
    c.close();
    // Here EOF alone does not cancel; the first write draws a reset, a following one fails.
    int writes = 0;
    EXPECT_TRUE(wait_until([&] {
        if (held.disconnects.load() == 1) return true;
        if (writes < 100 && res->write("data: x\n\n")) ++writes;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        return false;
    }));
    EXPECT_LE(writes, 4);
    EXPECT_FALSE(res->write("data: y\n\n"));
}

TEST(HttpServer, StalledWriteCountsAsDisconnect) {
    Held held;
    auto server = start_server(held.handler(), {.write_timeout_ms = 100});
    ASSERT_TRUE(server);
    TestClient c(server->port());  // never reads
    ASSERT_TRUE(c.send(get("/big")));
    auto res = held.at(0);
    ASSERT_TRUE(res);
    res->start_stream(200, "application/octet-stream");
    const std::string megabyte(1u << 20, 'z');
    for (int i = 0; i < 32 && res->write(megabyte); ++i) {
    }
    EXPECT_TRUE(wait_until([&] { return held.disconnects.load() == 1; }));
    EXPECT_FALSE(res->write("more"));
}

TEST(HttpServer, StreamToHttp10ClientIsUnframedAndCloses) {
    Held held;
    auto server = start_server(held.handler());
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(c.send("GET /s HTTP/1.0\r\n\r\n"));
    auto res = held.at(0);
    ASSERT_TRUE(res);
    res->start_stream(200, "text/plain");
    res->write("ab");
    res->write("cd");
    res->end();
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->chunked);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_EQ(r->body, "abcd");
    EXPECT_TRUE(c.wait_closed());
}

TEST(HttpServer, ClientClosingWhileWaitingFiresOnDisconnect) {
    Held held;
    auto server = start_server(held.handler());
    ASSERT_TRUE(server);
    TestClient closes(server->port()), resets(server->port());
    ASSERT_TRUE(closes.send(get("/slow")));
    ASSERT_TRUE(held.at(0));
    ASSERT_TRUE(resets.send(get("/slow")));
    ASSERT_TRUE(held.at(1));
    EXPECT_EQ(server->requests_in_flight(), 2u);
    closes.close();  // FIN, no bytes written by the server yet
    EXPECT_TRUE(wait_until([&] { return held.disconnects.load() == 1; }));
    EXPECT_TRUE(held.at(0)->disconnected());
    resets.reset();  // RST
    EXPECT_TRUE(wait_until([&] { return held.disconnects.load() == 2; }));
    EXPECT_TRUE(wait_until([&] { return server->requests_in_flight() == 0; }));
    held.at(0)->send(200, "text/plain", "too late");  // ignored, no crash
    held.at(1)->on_disconnect([] { ADD_FAILURE() << "a second callback ran"; });
}

TEST(HttpServer, OnDisconnectSetAfterTheDisconnectStillRuns) {
    Held held;
    auto server = start_server(held.handler(/*watch_disconnect=*/false));
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(c.send(get("/slow")));
    auto res = held.at(0);
    ASSERT_TRUE(res);
    c.close();
    ASSERT_TRUE(wait_until([&] { return res->disconnected(); }));
    std::atomic<int> late{0};
    res->on_disconnect([&] { ++late; });
    EXPECT_TRUE(wait_until([&] { return late.load() == 1; }));
}

TEST(HttpServer, HalfClosedClientIsAnsweredWhenEofDoesNotCancel) {
    Held held;
    auto server = start_server(held.handler(), {.eof_cancels_request = false});
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(c.send(get("/half")));
    c.shutdown_write();
    auto res = held.at(0);
    ASSERT_TRUE(res);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the EOF arrive
    EXPECT_FALSE(res->disconnected());
    res->send(200, "text/plain", "still here");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "still here");
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.wait_closed());
    EXPECT_EQ(held.disconnects.load(), 0);
}

// A whole request and then the client's FIN: an answer the handler gives at once is never
// lost to the EOF, whichever I/O thread sees the EOF first (this raced with 2 I/O threads).
TEST(HttpServer, HalfClosedClientGetsAnAnswerGivenAtOnce) {
    auto server = start_server(echo, {.io_threads = 4});
    ASSERT_TRUE(server);
    int answered = 0;
    for (int i = 0; i < 300; ++i) {
        TestClient c(server->port());
        ASSERT_TRUE(c.send(get("/now")));
        c.shutdown_write();
        auto r = c.read_response();
        answered += r && r->status == 200 ? 1 : 0;
    }
    EXPECT_EQ(answered, 300);
}

TEST(HttpServer, HalfCloseCancelsByDefault) {
    Held held;
    auto server = start_server(held.handler());
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(c.send(get("/half")));
    c.shutdown_write();
    EXPECT_TRUE(wait_until([&] { return held.disconnects.load() == 1; }));
}

TEST(HttpServer, DroppedResponderGets500) {
    auto server = start_server([](Request&&, std::shared_ptr<Responder>) {});
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(c.send(get("/drop")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
    EXPECT_TRUE(is_error_json(*r, "server_error")) << r->body;
    // The connection stays usable.
    ASSERT_TRUE(c.send(get("/drop")));
    r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
}

TEST(HttpServer, ShutdownWaitsForFinishingStreamAndCutsTheRest) {
    Held held;
    auto server = start_server(held.handler());
    ASSERT_TRUE(server);
    TestClient finishing(server->port()), hanging(server->port()), idle(server->port());
    ASSERT_TRUE(finishing.send(get("/finishing")));
    auto res_finishing = held.at(0);
    ASSERT_TRUE(res_finishing);
    ASSERT_TRUE(hanging.send(get("/hanging")));
    auto res_hanging = held.at(1);
    ASSERT_TRUE(res_hanging);
    res_finishing->start_stream(200, "text/event-stream");
    res_hanging->start_stream(200, "text/event-stream");
    res_hanging->write("data: 0\n\n");
    ASSERT_TRUE(wait_until([&] { return server->open_connections() == 3; }));

    std::thread engine([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        res_finishing->write("data: done\n\n");
        res_finishing->end();
    });
    const auto t0 = testing::Clock::now();
    const size_t cut = server->shutdown(400);
    const auto elapsed = testing::Clock::now() - t0;
    engine.join();
    EXPECT_EQ(cut, 1u);
    EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
    EXPECT_GE(elapsed, std::chrono::milliseconds(350));

    auto done = finishing.read_response();
    ASSERT_TRUE(done);
    EXPECT_EQ(done->body, "data: done\n\n");
    EXPECT_TRUE(idle.wait_closed(100));
    EXPECT_EQ(held.disconnects.load(), 1);
    EXPECT_TRUE(res_hanging->disconnected());
    EXPECT_FALSE(res_hanging->write("data: 1\n\n"));
    EXPECT_FALSE(hanging.read_response(200));  // cut: no terminating chunk
    EXPECT_EQ(server->open_connections(), 0u);
    EXPECT_EQ(server->shutdown(100), 0u);  // idempotent
}

TEST(HttpServer, GarbageIs400AndServerKeepsServing) {
    auto server = start_server(echo);
    ASSERT_TRUE(server);
    {
        TestClient c(server->port());
        ASSERT_TRUE(c.send(std::string("\x16\x03\x01\x02\x00garbage\r\n\r\n", 16)));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 400);
        EXPECT_TRUE(is_error_json(*r, "invalid_request_error")) << r->body;
        EXPECT_TRUE(c.wait_closed());
    }
    for (const char* bad :
         {"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999\r\n\r\n",
          "G@T / HTTP/1.1\r\n\r\n", "GET / HTTP/9.9\r\n\r\n",
          "GET / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"}) {
        TestClient c(server->port());
        ASSERT_TRUE(c.send(bad));
        auto r = c.read_response();
        ASSERT_TRUE(r) << bad;
        EXPECT_TRUE(r->status == 400 || r->status == 413) << bad << " -> " << r->status;
        EXPECT_TRUE(c.wait_closed()) << bad;
    }
    {
        TestClient truncated(server->port());
        ASSERT_TRUE(truncated.send("POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc"));
        truncated.close();
    }
    TestClient next(server->port());
    ASSERT_TRUE(next.send(get("/fine")));
    auto r = next.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
}

TEST(HttpServer, ThousandIdleConnectionsThenARequest) {
    auto server = start_server(echo);
    ASSERT_TRUE(server);
    std::vector<std::unique_ptr<TestClient>> idle;
    for (int i = 0; i < 1000; ++i) {
        idle.push_back(std::make_unique<TestClient>(server->port()));
        ASSERT_TRUE(idle.back()->connected()) << i;
    }
    ASSERT_TRUE(wait_until([&] { return server->open_connections() == 1000; }, 5000))
        << server->open_connections();
    TestClient c(server->port());
    ASSERT_TRUE(c.send(get("/alive")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    idle.clear();
    EXPECT_TRUE(wait_until([&] { return server->open_connections() == 1; }));
}

TEST(HttpServer, ExpectContinueAndHead) {
    auto server = start_server(echo);
    ASSERT_TRUE(server);
    TestClient c(server->port());
    ASSERT_TRUE(
        c.send("POST /e HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
               "Expect: 100-continue\r\n\r\n"));
    auto cont = c.read_head();
    ASSERT_TRUE(cont);
    EXPECT_EQ(cont->status, 100);
    ASSERT_TRUE(c.send("hello"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "POST /e q= body=hello");

    ASSERT_TRUE(c.send("HEAD /h HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto head = c.read_head();
    ASSERT_TRUE(head);
    EXPECT_EQ(head->header("content-length"),
              std::to_string(std::string("HEAD /h q= body=").size()));
    ASSERT_TRUE(c.send(get("/after")));  // no body bytes were sent for HEAD
    r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "GET /after q= body=");
}

TEST(HttpServer, StartFailsWithAClearMessage) {
    auto first = start_server(echo);
    ASSERT_TRUE(first);
    auto second = HttpServer::start("127.0.0.1", first->port(), {}, echo);
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().find("127.0.0.1:" + std::to_string(first->port())), std::string::npos)
        << second.error();
    EXPECT_FALSE(HttpServer::start("127.0.0.1", 70000, {}, echo).ok());
}

}  // namespace
}  // namespace citadel::server
