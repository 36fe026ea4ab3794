// GCC 12 with the sanitizers reports a false -Wmaybe-uninitialized inside Beast's parser (a
// boost::optional in basic_parser::content_length_unchecked, inlined into put()), as in
// server/connection.cpp.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "gateway/classifier_call.h"

#include <boost/asio/connect.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <exception>
#include <nlohmann/json.hpp>

#include "core/log.h"

namespace citadel::gateway {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using nlohmann::json;

bool has_space_or_control(std::string_view s) {
    for (unsigned char c : s) {
        if (c <= ' ' || c == 0x7f) return true;
    }
    return false;
}

bool parse_port(std::string_view text, std::string& out) {
    if (text.empty() || text.size() > 5) return false;
    unsigned value = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + unsigned(c - '0');
    }
    if (value == 0 || value > 65535) return false;
    out = std::to_string(value);
    return true;
}

// Splits "host", "host:port", "[v6]" or "[v6]:port".
bool split_authority(std::string_view authority, ClassifierEndpoint& out) {
    std::string_view port_text;
    if (authority.starts_with('[')) {
        const size_t close = authority.find(']');
        if (close == std::string_view::npos) return false;
        out.host = authority.substr(1, close - 1);
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty() && !after.starts_with(':')) return false;
        if (!after.empty()) port_text = after.substr(1);
    } else {
        const size_t colon = authority.find(':');
        if (colon != std::string_view::npos &&
            authority.find(':', colon + 1) != std::string_view::npos) {
            return false;  // an IPv6 address needs brackets
        }
        out.host = authority.substr(0, colon);
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (out.host.empty()) return false;
    out.port = "80";
    return port_text.empty() ? authority.back() != ':' : parse_port(port_text, out.port);
}

std::string read_failure(const error_code& ec, bool got_some) {
    if ((ec == http::error::end_of_stream || ec == asio::error::eof) && !got_some) {
        return "the classifier closed the connection without answering";
    }
    if (ec == http::error::body_limit) return "the classifier's answer is larger than 64 KiB";
    if (ec == http::error::header_limit) return "the classifier's answer headers are too large";
    return "cannot read the classifier's answer: " + ec.message();
}

}  // namespace

Result<ClassifierEndpoint> parse_classifier_url(std::string_view url) {
    auto bad = [&](const std::string& why) {
        return Status::error("classifier url \"" + std::string(url) + "\": " + why);
    };
    if (url.starts_with("https://")) {
        return bad(
            "https is not supported; the classifier is asked over plain http:// on a "
            "trusted network");
    }
    constexpr std::string_view kScheme = "http://";
    if (!url.starts_with(kScheme)) return bad("expected http://host:port/path");
    if (has_space_or_control(url)) return bad("contains spaces or control characters");
    const std::string_view rest = url.substr(kScheme.size());
    const size_t path_at = std::min(rest.find_first_of("/?#"), rest.size());
    const std::string_view authority = rest.substr(0, path_at);
    std::string_view target = rest.substr(path_at);
    if (target.find('#') != std::string_view::npos) return bad("a fragment (#) is not allowed");
    if (authority.find('@') != std::string_view::npos) return bad("user@ is not supported");
    ClassifierEndpoint out;
    if (!split_authority(authority, out)) return bad("expected a host and optional :port");
    out.target =
        target.empty() || target.starts_with('?') ? "/" + std::string(target) : std::string(target);
    out.host_header = std::string(authority);
    return out;
}

ClassifierVerdict classifier_failure(std::string reason, bool fail_open) {
    ClassifierVerdict verdict;
    verdict.allow = fail_open;
    verdict.failed = true;
    verdict.reason = std::move(reason);
    return verdict;
}

ClassifierVerdict classifier_verdict(unsigned status, std::string_view body, bool fail_open) {
    if (status != 200) {
        return classifier_failure("the classifier answered HTTP " + std::to_string(status),
                                  fail_open);
    }
    const json answer = json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (answer.is_discarded() || !answer.is_object()) {
        return classifier_failure("the classifier's answer is not a JSON object", fail_open);
    }
    auto allow = answer.find("allow");
    if (allow == answer.end() || !allow->is_boolean()) {
        return classifier_failure("the classifier's answer has no boolean \"allow\"", fail_open);
    }
    ClassifierVerdict verdict;
    verdict.allow = allow->get<bool>();
    auto flag = answer.find("flag");
    verdict.flagged = flag != answer.end() && flag->is_boolean() && flag->get<bool>();
    auto reason = answer.find("reason");
    if (reason != answer.end() && reason->is_string()) verdict.reason = reason->get<std::string>();
    return verdict;
}

ClassifierCall::ClassifierCall(ClassifierShared& shared, const ClassifierQuestion& question,
                               std::function<void(ClassifierVerdict)> done)
    : shared_(shared),
      id_(++shared.next_id),
      done_(std::move(done)),
      socket_(shared.io),
      resolver_(shared.io),
      deadline_(shared.io) {
    json body;
    body["stage"] = question.stage;
    body["text"] = question.text;
    body["model"] = question.model;
    body["request_id"] = question.request_id;
    request_.method(http::verb::post);
    request_.target(shared.endpoint.target);
    request_.version(11);
    request_.set(http::field::host, shared.endpoint.host_header);
    request_.set(http::field::content_type, "application/json");
    request_.keep_alive(true);
    request_.body() = body.dump(-1, ' ', false, json::error_handler_t::replace);
    request_.prepare_payload();
}

void ClassifierCall::start() {
    if (shared_.stopping) return fail("the classifier is shut down");
    shared_.active.emplace(id_, shared_from_this());
    deadline_.expires_after(std::chrono::milliseconds(shared_.options.timeout_ms));
    deadline_.async_wait([self = shared_from_this()](const error_code& ec) {
        if (ec) return;  // cancelled: the call completed
        self->fail("no answer from the classifier within " +
                   std::to_string(self->shared_.options.timeout_ms) + " ms");
    });
    connect();
}

void ClassifierCall::connect() {
    if (!retried_ && !shared_.idle.empty()) {
        socket_ = std::move(shared_.idle.back());
        shared_.idle.pop_back();
        reused_ = true;
        return send();
    }
    reused_ = false;
    const ClassifierEndpoint& at = shared_.endpoint;
    resolver_.async_resolve(
        at.host, at.port, [self = shared_from_this()](const error_code& ec, auto endpoints) {
            if (self->completed_) return;
            const ClassifierEndpoint& at = self->shared_.endpoint;
            if (ec)
                return self->fail("cannot resolve the classifier host " + at.host + ": " +
                                  ec.message());
            asio::async_connect(self->socket_, endpoints,
                                [self](const error_code& ec, const asio::ip::tcp::endpoint&) {
                                    if (self->completed_) return;
                                    if (!ec) return self->send();
                                    self->fail("cannot connect to the classifier at " +
                                               self->shared_.endpoint.host_header + ": " +
                                               ec.message());
                                });
        });
}

void ClassifierCall::send() {
    http::async_write(socket_, request_, [self = shared_from_this()](const error_code& ec, size_t) {
        if (self->completed_) return;
        if (!ec) return self->read();
        if (self->retry_on_fresh_connection()) return;
        self->fail("cannot send to the classifier: " + ec.message());
    });
}

// The head first, then the body: Boost 1.74's parser drops a Content-Length over body_limit when
// the body arrives in the same read as the head (boostorg/beast#2201); reading the head alone
// reports it.
void ClassifierCall::read() {
    parser_.emplace();
    parser_->body_limit(kClassifierMaxAnswerBytes);
    buffer_.clear();
    http::async_read_header(socket_, buffer_, *parser_,
                            [self = shared_from_this()](const error_code& ec, size_t) {
                                if (self->completed_) return;
                                if (!ec) return self->read_body();
                                self->on_read_error(ec);
                            });
}

void ClassifierCall::read_body() {
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](const error_code& ec, size_t) {
                         if (self->completed_) return;
                         if (!ec) return self->on_answer();
                         self->on_read_error(ec);
                     });
}

void ClassifierCall::on_read_error(const error_code& ec) {
    const bool got_some = parser_->got_some();
    if (!got_some && retry_on_fresh_connection()) return;
    fail(read_failure(ec, got_some));
}

bool ClassifierCall::retry_on_fresh_connection() {
    if (!reused_ || retried_) return false;
    retried_ = true;
    error_code ignored;
    socket_.close(ignored);
    connect();
    return true;
}

void ClassifierCall::on_answer() {
    const auto& answer = parser_->get();
    if (answer.body().size() > kClassifierMaxAnswerBytes) {  // see read(); never trust one check
        return fail(read_failure(http::error::body_limit, true));
    }
    ClassifierVerdict verdict =
        classifier_verdict(answer.result_int(), answer.body(), shared_.options.fail_open);
    const bool reusable = answer.keep_alive() && buffer_.size() == 0 && !shared_.stopping &&
                          shared_.idle.size() < kClassifierMaxIdleConnections;
    if (reusable) shared_.idle.push_back(std::move(socket_));
    complete(std::move(verdict));
}

void ClassifierCall::fail(std::string reason) {
    complete(classifier_failure(std::move(reason), shared_.options.fail_open));
}

void ClassifierCall::complete(ClassifierVerdict verdict) {
    if (completed_) return;
    completed_ = true;
    error_code ignored;
    deadline_.cancel();
    resolver_.cancel();
    socket_.close(ignored);
    shared_.active.erase(id_);  // the caller holds a reference: `this` stays alive
    auto done = std::move(done_);
    try {
        done(std::move(verdict));
    } catch (const std::exception& e) {
        CITADEL_LOG_WARN("classifier: a check's done callback threw: %s", e.what());
    } catch (...) {
        CITADEL_LOG_WARN("classifier: a check's done callback threw");
    }
}

}  // namespace citadel::gateway
