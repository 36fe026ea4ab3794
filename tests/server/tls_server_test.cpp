// HttpServer over TLS on 127.0.0.1, with certificates made at test time: versions and ciphers,
// plain HTTP on the TLS port, limits, keep-alive, pipelining, streams and disconnects over TLS,
// client certificates (mTLS), certificate reload, start errors, handshake timeouts, shutdown.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "server/http_server.h"
#include "server/http_test_client.h"
#include "server/tls_test_client.h"
#include "server/tls_test_util.h"

namespace citadel::server {
namespace {

using testing::CertKind;
using testing::TestClient;
using testing::TlsClientOptions;
using testing::TlsTestClient;
using testing::wait_until;

std::string get(std::string_view path, std::string_view extra = "") {
    return "GET " + std::string(path) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

// Answers with what the server knows about the request and its connection.
struct EchoTls {
    std::atomic<int> calls{0};
    Handler handler() {
        return [this](Request&& req, std::shared_ptr<Responder> res) {
            calls.fetch_add(1);
            res->send(200, "text/plain",
                      req.method + " " + req.path + " body=" + req.body +
                          " tls=" + (req.tls ? "1" : "0") + " subject=" + req.client_cert_subject);
        };
    }
};

// Keeps every responder for the test to answer, and counts disconnects.
struct Held {
    std::mutex mu;
    std::vector<std::shared_ptr<Responder>> responders;
    std::atomic<int> disconnects{0};

    Handler handler() {
        return [this](Request&&, std::shared_ptr<Responder> res) {
            res->on_disconnect([this] { disconnects.fetch_add(1); });
            std::lock_guard lock(mu);
            responders.push_back(std::move(res));
        };
    }
    std::shared_ptr<Responder> at(size_t i) {
        const bool there = wait_until([&] {
            std::lock_guard lock(mu);
            return responders.size() > i;
        });
        std::lock_guard lock(mu);
        return there ? responders[i] : nullptr;
    }
};

class TlsServer : public ::testing::Test {
  protected:
    void SetUp() override {
        pki_ = testing::make_test_pki();
        ASSERT_TRUE(pki_) << "cannot make test certificates";
    }

    TlsOptions server_tls() const {
        TlsOptions tls;
        tls.cert_file = pki_->server_cert;
        tls.key_file = pki_->server_key;
        return tls;
    }
    TlsOptions mtls(bool required) const {
        TlsOptions tls = server_tls();
        tls.client_ca_file = pki_->ca_cert;
        tls.require_client_cert = required;
        return tls;
    }
    TlsClientOptions client(int version = 0) const {
        TlsClientOptions options;
        options.ca_file = pki_->ca_cert;
        if (version != 0) options.min_version = options.max_version = version;
        return options;
    }
    TlsClientOptions client_with_cert(const std::string& cert, const std::string& key,
                                      int version = 0) const {
        TlsClientOptions options = client(version);
        options.cert_file = cert;
        options.key_file = key;
        return options;
    }

    std::unique_ptr<HttpServer> start(Handler handler, ServerLimits limits = {},
                                      std::optional<TlsOptions> tls = std::nullopt) {
        auto started = HttpServer::start("127.0.0.1", 0, limits, std::move(handler),
                                         tls ? *tls : server_tls());
        EXPECT_TRUE(started.ok()) << started.error();
        return started.ok() ? std::move(started).value() : nullptr;
    }

    std::unique_ptr<testing::TestPki> pki_;
};

// The server refused the client's TLS: at the handshake, or (TLS 1.3, where the client
// finishes first) by closing instead of answering.
void expect_refused(TlsTestClient& c) {
    if (!c.handshake_ok()) return;
    c.send(get("/refused"));
    EXPECT_FALSE(c.read_response(2000)) << "the server answered a refused client";
    EXPECT_TRUE(c.wait_closed());
}

// ---- Protocol -------------------------------------------------------------------------------

TEST_F(TlsServer, GetAndPostOverTls12And13) {
    EchoTls echo;
    auto server = start(echo.handler());
    ASSERT_TRUE(server);
    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        TlsTestClient c(server->port(), client(version));
        ASSERT_TRUE(c.handshake_ok()) << c.error();
        EXPECT_EQ(c.version(), version == TLS1_2_VERSION ? "TLSv1.2" : "TLSv1.3");
        EXPECT_EQ(c.alpn(), "http/1.1");
        EXPECT_EQ(c.server_cn(), "server-one");
        ASSERT_TRUE(c.send(get("/v1/models")));
        auto r = c.read_response();
        ASSERT_TRUE(r) << c.error();
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "GET /v1/models body= tls=1 subject=");
        ASSERT_TRUE(c.send("POST /v1/chat HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
        r = c.read_response();
        ASSERT_TRUE(r) << c.error();
        EXPECT_EQ(r->body, "POST /v1/chat body=hello tls=1 subject=");
    }
    EXPECT_EQ(echo.calls.load(), 4);
}

TEST_F(TlsServer, Tls12OffersOnlyEcdheWithAeadInTheServersOrder) {
    EchoTls echo;
    auto server = start(echo.handler());
    ASSERT_TRUE(server);
    TlsClientOptions cbc = client(TLS1_2_VERSION);
    cbc.cipher_list = "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA";
    EXPECT_FALSE(TlsTestClient(server->port(), cbc).handshake_ok());

    TlsClientOptions chacha = client(TLS1_2_VERSION);
    chacha.cipher_list = "ECDHE-ECDSA-CHACHA20-POLY1305";
    TlsTestClient c(server->port(), chacha);
    ASSERT_TRUE(c.handshake_ok()) << c.error();
    EXPECT_EQ(c.cipher(), "ECDHE-ECDSA-CHACHA20-POLY1305");

    TlsClientOptions prefers_aes256 = client(TLS1_2_VERSION);
    prefers_aes256.cipher_list = "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256";
    TlsTestClient ordered(server->port(), prefers_aes256);
    ASSERT_TRUE(ordered.handshake_ok()) << ordered.error();
    EXPECT_EQ(ordered.cipher(), "ECDHE-ECDSA-AES128-GCM-SHA256");  // the server's first choice
}

TEST_F(TlsServer, Tls13OnlyRefusesTls12) {
    EchoTls echo;
    TlsOptions tls = server_tls();
    tls.tls13_only = true;
    auto server = start(echo.handler(), {}, tls);
    ASSERT_TRUE(server);
    {
        TlsTestClient old(server->port(), client(TLS1_2_VERSION));
        EXPECT_FALSE(old.handshake_ok());
    }
    TlsTestClient modern(server->port(), client());
    ASSERT_TRUE(modern.handshake_ok()) << modern.error();
    EXPECT_EQ(modern.version(), "TLSv1.3");
    ASSERT_TRUE(modern.send(get("/ok")));
    ASSERT_TRUE(modern.read_response());
    modern.close();
    EXPECT_TRUE(wait_until([&] { return server->open_connections() == 0; }));
}

TEST_F(TlsServer, PlainHttpToTheTlsPortGets400InPlainText) {
    EchoTls echo;
    auto server = start(echo.handler());
    ASSERT_TRUE(server);
    TestClient plain(server->port());
    ASSERT_TRUE(plain.send(get("/v1/models")));
    auto r = plain.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->header("content-type"), "text/plain");
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_NE(r->body.find("expects HTTPS (TLS); use https://"), std::string::npos) << r->body;
    EXPECT_TRUE(plain.wait_closed());
    EXPECT_EQ(echo.calls.load(), 0);

    TlsTestClient tls(server->port(), client());  // TLS still works
    ASSERT_TRUE(tls.handshake_ok()) << tls.error();
    ASSERT_TRUE(tls.send(get("/after")));
    ASSERT_TRUE(tls.read_response());
}

// ---- HTTP behaviour over TLS ----------------------------------------------------------------

TEST_F(TlsServer, KeepAlivePipeliningAndCloseNotify) {
    EchoTls echo;
    auto server = start(echo.handler());
    ASSERT_TRUE(server);
    TlsTestClient c(server->port(), client());
    ASSERT_TRUE(c.handshake_ok()) << c.error();
    for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(c.send(get("/n" + std::to_string(i))));
        auto r = c.read_response();
        ASSERT_TRUE(r) << i;
        EXPECT_EQ(r->body, "GET /n" + std::to_string(i) + " body= tls=1 subject=");
    }
    ASSERT_TRUE(c.send(get("/a") + get("/b") + get("/c")));  // one TLS record, three requests
    for (const char* want : {"/a", "/b", "/c"}) {
        auto r = c.read_response();
        ASSERT_TRUE(r) << want;
        EXPECT_EQ(r->body, "GET " + std::string(want) + " body= tls=1 subject=");
    }
    ASSERT_TRUE(c.send(get("/last", "Connection: close\r\n")));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.wait_closed());
    EXPECT_TRUE(c.got_close_notify());  // a clean TLS close, not a truncation
}

TEST_F(TlsServer, LimitsAnswer413And431And408OverTls) {
    EchoTls echo;
    auto server =
        start(echo.handler(),
              {.max_body_bytes = 1000, .max_header_bytes = 1024, .header_timeout_ms = 300});
    ASSERT_TRUE(server);
    {
        TlsTestClient c(server->port(), client());
        ASSERT_TRUE(c.handshake_ok()) << c.error();
        ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10485760\r\n\r\nabc"));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 413);
        EXPECT_TRUE(c.wait_closed());
        EXPECT_TRUE(c.got_close_notify());
    }
    {
        TlsTestClient c(server->port(), client());
        ASSERT_TRUE(c.handshake_ok()) << c.error();
        ASSERT_TRUE(c.send(get("/", "X-Big: " + std::string(4000, 'y') + "\r\n")));
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 431);
        EXPECT_TRUE(c.wait_closed());
    }
    {
        const auto t0 = testing::Clock::now();
        TlsTestClient c(server->port(), client());
        ASSERT_TRUE(c.handshake_ok()) << c.error();
        ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: t\r\n"));  // never finishes the head
        auto r = c.read_response();
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 408);
        EXPECT_GE(testing::Clock::now() - t0, std::chrono::milliseconds(250));
        EXPECT_TRUE(c.wait_closed());
    }
    EXPECT_EQ(echo.calls.load(), 0);
}

// The client is still sending its body when the 413 goes out: the server keeps reading (and
// discarding) after close_notify, so the client's unread bytes cause no reset that could
// destroy the answer before the client reads it.
TEST_F(TlsServer, RejectedUploadStillReadsItsAnswer) {
    EchoTls echo;
    auto server = start(echo.handler(), {.max_body_bytes = 1000});
    ASSERT_TRUE(server);
    TlsTestClient c(server->port(), client());
    ASSERT_TRUE(c.handshake_ok()) << c.error();
    ASSERT_TRUE(c.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 10485760\r\n\r\n"));
    ASSERT_TRUE(c.send(std::string(512u << 10, 'u')));
    auto r = c.read_response();
    ASSERT_TRUE(r) << c.error();
    EXPECT_EQ(r->status, 413);
    EXPECT_TRUE(c.wait_closed());
}

TEST_F(TlsServer, ConnectionsBeyondTheLimitGet503OverTls) {
    EchoTls echo;
    auto server = start(echo.handler(), {.max_connections = 2});
    ASSERT_TRUE(server);
    TlsTestClient a(server->port(), client()), b(server->port(), client());
    ASSERT_TRUE(a.handshake_ok() && b.handshake_ok());
    ASSERT_TRUE(wait_until([&] { return server->open_connections() == 2; }));
    TlsTestClient over(server->port(), client());
    ASSERT_TRUE(over.handshake_ok()) << over.error();
    auto r = over.read_response();
    ASSERT_TRUE(r) << over.error();
    EXPECT_EQ(r->status, 503);
    EXPECT_TRUE(over.wait_closed());
    EXPECT_EQ(server->open_connections(), 2u);
}

TEST_F(TlsServer, StreamsChunksOverTls) {
    Held held;
    auto server = start(held.handler());
    ASSERT_TRUE(server);
    TlsTestClient c(server->port(), client());
    ASSERT_TRUE(c.handshake_ok()) << c.error();
    ASSERT_TRUE(c.send(get("/stream")));
    auto res = held.at(0);
    ASSERT_TRUE(res);
    res->start_stream(200, "text/event-stream");
    auto head = c.read_head();
    ASSERT_TRUE(head);
    EXPECT_TRUE(head->chunked);
    for (int i = 0; i < 3; ++i) {
        const std::string event = "data: " + std::to_string(i) + "\n\n";
        EXPECT_TRUE(res->write(event));
        auto chunk = c.read_chunk(1000);
        ASSERT_TRUE(chunk) << i;
        EXPECT_EQ(*chunk, event);
    }
    res->end();
    auto last = c.read_chunk(1000);
    ASSERT_TRUE(last);
    EXPECT_EQ(*last, "");
    ASSERT_TRUE(c.send(get("/next")));  // the connection stays usable
    held.at(1)->send(200, "text/plain", "after");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "after");
    EXPECT_EQ(held.disconnects.load(), 0);
}

TEST_F(TlsServer, StreamToHttp10ClientEndsWithCloseNotify) {
    Held held;
    auto server = start(held.handler());
    ASSERT_TRUE(server);
    TlsTestClient c(server->port(), client());
    ASSERT_TRUE(c.handshake_ok()) << c.error();
    ASSERT_TRUE(c.send("GET /s HTTP/1.0\r\n\r\n"));
    auto res = held.at(0);
    ASSERT_TRUE(res);
    res->start_stream(200, "text/plain");
    res->write("ab");
    res->write("cd");
    res->end();
    auto r = c.read_response();  // unframed: the body ends with the close
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "abcd");
    EXPECT_TRUE(c.got_close_notify());
}

TEST_F(TlsServer, ClientLeavingMidStreamFiresOnDisconnect) {
    Held held;
    auto server = start(held.handler());
    ASSERT_TRUE(server);
    TlsTestClient drops(server->port(), client()), notifies(server->port(), client());
    ASSERT_TRUE(drops.handshake_ok() && notifies.handshake_ok());
    ASSERT_TRUE(drops.send(get("/stream")));
    auto res = held.at(0);
    ASSERT_TRUE(res);
    ASSERT_TRUE(notifies.send(get("/stream")));
    auto res2 = held.at(1);
    ASSERT_TRUE(res2);
    for (const auto& r : {res, res2}) {
        r->start_stream(200, "text/event-stream");
        ASSERT_TRUE(r->write("data: 1\n\n"));
    }
    ASSERT_TRUE(drops.read_head() && drops.read_chunk());
    drops.close();  // TCP close, no close_notify
    EXPECT_TRUE(wait_until([&] { return held.disconnects.load() == 1; }));
    EXPECT_TRUE(res->disconnected());
    EXPECT_FALSE(res->write("data: 2\n\n"));

    ASSERT_TRUE(notifies.read_head() && notifies.read_chunk());
    notifies.send_close_notify();  // a clean TLS close
    EXPECT_TRUE(wait_until([&] { return held.disconnects.load() == 2; }));
    EXPECT_TRUE(res2->disconnected());
    EXPECT_TRUE(wait_until([&] { return server->requests_in_flight() == 0; }));
    EXPECT_TRUE(wait_until([&] { return server->open_connections() == 0; }));
}

TEST_F(TlsServer, HalfClosedClientIsAnsweredWhenEofDoesNotCancel) {
    Held held;
    auto server = start(held.handler(), {.eof_cancels_request = false});
    ASSERT_TRUE(server);
    TlsTestClient c(server->port(), client());
    ASSERT_TRUE(c.handshake_ok()) << c.error();
    ASSERT_TRUE(c.send(get("/half")));
    auto res = held.at(0);
    ASSERT_TRUE(res);
    c.send_close_notify();  // the client is done sending, and still reads
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // let the close_notify arrive
    EXPECT_FALSE(res->disconnected());
    res->send(200, "text/plain", "still here");
    auto r = c.read_response();
    ASSERT_TRUE(r) << c.error();
    EXPECT_EQ(r->body, "still here");
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_EQ(held.disconnects.load(), 0);
}

TEST_F(TlsServer, StalledWriteCountsAsDisconnect) {
    Held held;
    auto server = start(held.handler(), {.write_timeout_ms = 100});
    ASSERT_TRUE(server);
    TlsTestClient c(server->port(), client());  // never reads after this
    ASSERT_TRUE(c.handshake_ok()) << c.error();
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

TEST_F(TlsServer, ManyClientsAtOnce) {
    EchoTls echo;
    auto server = start(echo.handler(), {.io_threads = 2});
    ASSERT_TRUE(server);
    std::atomic<int> answered{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int n = 0; n < 4; ++n) {
                TlsTestClient c(server->port(), client(n % 2 ? TLS1_2_VERSION : 0));
                for (int i = 0; i < 3 && c.handshake_ok(); ++i) {
                    const std::string path = "/t" + std::to_string(t) + "/" + std::to_string(i);
                    auto r = c.send(get(path)) ? c.read_response() : std::nullopt;
                    if (r && r->body == "GET " + path + " body= tls=1 subject=") ++answered;
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(answered.load(), 4 * 4 * 3);
    EXPECT_TRUE(wait_until([&] { return server->open_connections() == 0; }));
}

// ---- Client certificates --------------------------------------------------------------------

TEST_F(TlsServer, RequiredClientCertificate) {
    EchoTls echo;
    auto server = start(echo.handler(), {}, mtls(/*required=*/true));
    ASSERT_TRUE(server);
    for (const int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        TlsTestClient none(server->port(), client(version));
        expect_refused(none);
        TlsTestClient stranger(server->port(),
                               client_with_cert(pki_->stranger_cert, pki_->stranger_key, version));
        expect_refused(stranger);
    }
    EXPECT_EQ(echo.calls.load(), 0);

    TlsTestClient good(server->port(), client_with_cert(pki_->client_cert, pki_->client_key));
    ASSERT_TRUE(good.handshake_ok()) << good.error();
    ASSERT_TRUE(good.send(get("/me")));
    auto r = good.read_response();
    ASSERT_TRUE(r) << good.error();
    EXPECT_EQ(r->body, "GET /me body= tls=1 subject=client-one");
    good.close();
    EXPECT_TRUE(wait_until([&] { return server->open_connections() == 0; }));  // none leaked
}

TEST_F(TlsServer, OptionalClientCertificate) {
    EchoTls echo;
    auto server = start(echo.handler(), {}, mtls(/*required=*/false));
    ASSERT_TRUE(server);
    TlsTestClient none(server->port(), client());
    ASSERT_TRUE(none.handshake_ok()) << none.error();
    ASSERT_TRUE(none.send(get("/anon")));
    auto r = none.read_response();
    ASSERT_TRUE(r) << none.error();
    EXPECT_EQ(r->body, "GET /anon body= tls=1 subject=");

    TlsTestClient good(server->port(), client_with_cert(pki_->client_cert, pki_->client_key));
    ASSERT_TRUE(good.handshake_ok()) << good.error();
    ASSERT_TRUE(good.send(get("/me")));
    r = good.read_response();
    ASSERT_TRUE(r) << good.error();
    EXPECT_EQ(r->body, "GET /me body= tls=1 subject=client-one");

    // Optional, but a certificate that is presented must verify.
    TlsTestClient stranger(server->port(),
                           client_with_cert(pki_->stranger_cert, pki_->stranger_key));
    expect_refused(stranger);
    EXPECT_EQ(echo.calls.load(), 2);
}

// ---- Certificates: reload and start errors --------------------------------------------------

TEST_F(TlsServer, ReloadServesTheNewCertificateToNewConnections) {
    EchoTls echo;
    auto server = start(echo.handler());
    ASSERT_TRUE(server);
    TlsTestClient before(server->port(), client());
    ASSERT_TRUE(before.handshake_ok()) << before.error();
    EXPECT_EQ(before.server_serial(), 2);

    auto renewed = testing::make_cert(CertKind::kServer, "server-two", 77, &pki_->ca);
    ASSERT_TRUE(renewed);
    std::string cert_path, key_path;
    ASSERT_TRUE(pki_->write("server", renewed, cert_path, key_path));  // over the old files
    ASSERT_TRUE(server->reload_tls().ok());
    TlsTestClient after(server->port(), client());
    ASSERT_TRUE(after.handshake_ok()) << after.error();
    EXPECT_EQ(after.server_serial(), 77);
    EXPECT_EQ(after.server_cn(), "server-two");
    ASSERT_TRUE(after.send(get("/new")));
    ASSERT_TRUE(after.read_response());
    ASSERT_TRUE(before.send(get("/old")));  // the open connection goes on as it was
    auto r = before.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);

    ASSERT_TRUE(testing::write_text(pki_->server_cert, "not a certificate\n"));
    const Status broken = server->reload_tls();
    ASSERT_FALSE(broken.ok());
    EXPECT_NE(broken.message().find(pki_->server_cert), std::string::npos) << broken.message();
    TlsTestClient still(server->port(), client());
    ASSERT_TRUE(still.handshake_ok()) << still.error();
    EXPECT_EQ(still.server_serial(), 77);  // the last good certificate
}

TEST_F(TlsServer, StartErrorsNameTheFileAndTheReason) {
    EchoTls echo;
    auto start_error = [&](const TlsOptions& tls) {
        auto started = HttpServer::start("127.0.0.1", 0, {}, echo.handler(), tls);
        return started.ok() ? std::string("(started)") : started.error();
    };
    const std::string missing = pki_->dir.file("missing.pem");
    TlsOptions tls = server_tls();
    tls.cert_file = missing;
    std::string error = start_error(tls);
    EXPECT_NE(error.find(missing), std::string::npos) << error;
    EXPECT_NE(error.find("No such file"), std::string::npos) << error;

    tls = server_tls();
    tls.key_file = missing;
    error = start_error(tls);
    EXPECT_NE(error.find("key file '" + missing), std::string::npos) << error;

    const std::string garbage = pki_->dir.file("garbage.pem");
    ASSERT_TRUE(testing::write_text(garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n"));
    tls = server_tls();
    tls.cert_file = garbage;
    error = start_error(tls);
    EXPECT_NE(error.find(garbage), std::string::npos) << error;

    tls = server_tls();
    tls.key_file = pki_->client_key;  // another certificate's key
    error = start_error(tls);
    EXPECT_NE(error.find(pki_->client_key), std::string::npos) << error;
    EXPECT_NE(error.find("does not match the certificate"), std::string::npos) << error;

    tls = mtls(true);
    tls.client_ca_file = garbage;
    error = start_error(tls);
    EXPECT_NE(error.find("client CA file '" + garbage), std::string::npos) << error;

    tls = server_tls();
    tls.require_client_cert = true;  // without a CA
    error = start_error(tls);
    EXPECT_NE(error.find("client CA file"), std::string::npos) << error;

    tls = TlsOptions();
    tls.key_file = pki_->server_key;  // no certificate: a mistake, not plain HTTP
    error = start_error(tls);
    EXPECT_NE(error.find("without a certificate file"), std::string::npos) << error;

    auto plain = HttpServer::start("127.0.0.1", 0, {}, echo.handler());
    ASSERT_TRUE(plain.ok());
    EXPECT_FALSE((*plain)->reload_tls().ok());
}

// ---- Handshake timeouts and shutdown --------------------------------------------------------

TEST_F(TlsServer, ClientsThatNeverFinishTheHandshakeAreClosed) {
    EchoTls echo;
    auto server = start(echo.handler(), {.header_timeout_ms = 200});
    ASSERT_TRUE(server);
    const auto t0 = testing::Clock::now();
    TestClient silent(server->port()), partial(server->port()), garbage(server->port());
    ASSERT_TRUE(partial.send(std::string("\x16\x03\x01", 3)));  // a ClientHello that stops
    ASSERT_TRUE(garbage.send(std::string("\x16\x03\x01\x00\x05hello", 10)));
    EXPECT_TRUE(garbage.wait_closed());  // not a handshake: refused at once
    EXPECT_TRUE(silent.wait_closed());
    EXPECT_TRUE(partial.wait_closed());
    EXPECT_GE(testing::Clock::now() - t0, std::chrono::milliseconds(150));
    EXPECT_EQ(silent.buffered(), "");
    EXPECT_TRUE(wait_until([&] { return server->open_connections() == 0; }));
    EXPECT_EQ(echo.calls.load(), 0);
}

TEST_F(TlsServer, ShutdownWithTlsConnectionsOpenDoesNotHang) {
    Held held;
    auto server = start(held.handler());
    ASSERT_TRUE(server);
    TlsTestClient streaming(server->port(), client()), idle(server->port(), client());
    TestClient mid_handshake(server->port());
    ASSERT_TRUE(streaming.handshake_ok() && idle.handshake_ok());
    ASSERT_TRUE(mid_handshake.send(std::string("\x16\x03\x01", 3)));
    ASSERT_TRUE(streaming.send(get("/stream")));
    auto res = held.at(0);
    ASSERT_TRUE(res);
    res->start_stream(200, "text/event-stream");
    res->write("data: 0\n\n");
    ASSERT_TRUE(wait_until([&] { return server->open_connections() == 3; }));

    const auto t0 = testing::Clock::now();
    EXPECT_EQ(server->shutdown(200), 1u);
    EXPECT_LT(testing::Clock::now() - t0, std::chrono::milliseconds(1500));
    EXPECT_EQ(held.disconnects.load(), 1);
    EXPECT_EQ(server->open_connections(), 0u);
    EXPECT_TRUE(idle.wait_closed(500));
    EXPECT_TRUE(mid_handshake.wait_closed(500));
}

}  // namespace
}  // namespace citadel::server
