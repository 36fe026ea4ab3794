// GCC 12 reports a false -Wmaybe-uninitialized inside Beast's parser (see
// gateway/classifier_call.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "api/upstream_call.h"

#include <boost/asio/connect.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <limits>

#include "api/respond.h"
#include "core/log.h"

namespace citadel::api {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;
using nlohmann::ordered_json;

constexpr size_t kMaxWholeAnswerBytes = 64u << 20;

std::string dump(const ordered_json& j) {
    return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

std::string random_hex(std::mt19937_64& rng, int digits) {
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < digits; ++i) out += kHex[rng() % 16];
    return out;
}

// {"error": {...}} as one SSE event, then the end of the stream.
std::string sse_error(const std::string& message) {
    ordered_json e = {{"error",
                       {{"message", message},
                        {"type", "server_error"},
                        {"param", nullptr},
                        {"code", "upstream_error"}}}};
    return "data: " + dump(e) + "\n\n";
}

}  // namespace

UpstreamCall::UpstreamCall(UpstreamShared& shared, UpstreamEntry& entry, ProxiedRequest request,
                           Scope scope, std::shared_ptr<server::Responder> res)
    : shared_(shared),
      entry_(entry),
      request_(std::move(request)),
      scope_(std::move(scope)),
      res_(std::move(res)),
      id_(++shared.next_id),
      stream_(shared.io),
      resolver_(shared.io),
      timer_(shared.io) {
    auto [scanner, mode] = scope_->gateway().output_guard(*scope_);
    if (scanner && mode != gateway::PiiMode::kOff && mode != gateway::PiiMode::kLog) {
        scanner_ = std::move(scanner);
        pii_mode_ = mode;
    }
}

UpstreamCall::~UpstreamCall() {
    if (endpoint_) entry_.pool->finish(*endpoint_, false, false);
}

void UpstreamCall::start() {
    if (shared_.stopping) return abort("the server is shutting down");
    if (res_->disconnected()) return finish();
    shared_.active.emplace(id_, weak_from_this());
    http_request_.method(http::verb::post);
    http_request_.version(11);
    http_request_.set(http::field::content_type, "application/json");
    http_request_.set(http::field::accept,
                      request_.stream ? "text/event-stream" : "application/json");
    http_request_.set("x-request-id", scope_->request_id());
    http_request_.set("traceparent", request_.traceparent.empty()
                                         ? "00-" + random_hex(shared_.rng, 32) + "-" +
                                               random_hex(shared_.rng, 16) + "-01"
                                         : request_.traceparent);
    if (!entry_.spec.api_key.empty())
        http_request_.set(http::field::authorization, "Bearer " + entry_.spec.api_key);
    http_request_.keep_alive(false);
    http_request_.body() = request_.body;
    http_request_.prepare_payload();
    attempt();
}

void UpstreamCall::attempt() {
    ops::UpstreamPick pick = entry_.pool->pick(tried_, shared_.rng());
    if (!pick.endpoint) {
        const int64_t secs = std::max<int64_t>(1, (pick.retry_after_ms + 999) / 1000);
        ApiError e{
            .status = 503,
            .message = "upstream model '" + entry_.spec.name + "' is unavailable: " + pick.why,
            .type = "overloaded_error",
            .code = "upstream_unavailable"};
        e.headers.emplace_back("Retry-After", std::to_string(secs));
        send_error(*res_, e);
        return finish();
    }
    ++attempt_;
    endpoint_ = *pick.endpoint;
    tried_.push_back(*endpoint_);
    connect(*endpoint_);
}

void UpstreamCall::connect(size_t endpoint) {
    const UpstreamEndpoint& at = entry_.endpoints[endpoint];
    http_request_.target(at.base + request_.path);
    http_request_.set(http::field::host, at.host_header);
    stream_.reset(at.tls ? shared_.tls.get() : nullptr);
    arm(shared_.timeouts.connect_ms,
        "no connection within " + std::to_string(shared_.timeouts.connect_ms) + " ms");
    resolver_.async_resolve(
        at.host, at.port,
        [self = shared_from_this(), n = attempt_](const error_code& ec, auto eps) {
            if (self->stale(n)) return;
            if (ec) return self->retry_or_fail("cannot resolve the host: " + ec.message());
            asio::async_connect(self->stream_.socket(), eps,
                                [self, n](const error_code& ec, const auto&) {
                                    if (self->stale(n)) return;
                                    if (ec)
                                        return self->on_error("cannot connect: " + ec.message());
                                    self->handshake();
                                });
        });
}

void UpstreamCall::handshake() {
    const UpstreamEndpoint& at = entry_.endpoints[*endpoint_];
    stream_.handshake(at.host, [self = shared_from_this(), n = attempt_](const error_code& ec) {
        if (self->stale(n)) return;
        if (ec) return self->on_error("TLS handshake failed: " + ec.message());
        self->send();
    });
}

void UpstreamCall::send() {
    arm(shared_.timeouts.first_byte_ms,
        "no answer within " + std::to_string(shared_.timeouts.first_byte_ms) + " ms");
    http::async_write(stream_, http_request_,
                      [self = shared_from_this(), n = attempt_](const error_code& ec, size_t) {
                          if (self->stale(n)) return;
                          if (ec) return self->on_error("cannot send the request: " + ec.message());
                          self->read_head();
                      });
}

void UpstreamCall::read_head() {
    parser_.emplace();
    // Not boost::none: Boost 1.74 compares a Content-Length with an empty limit as exceeded.
    // Streams are bounded by the idle timeout instead; whole answers by on_bytes().
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    buffer_.clear();
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this(), n = attempt_](const error_code& ec, size_t) {
            if (self->stale(n)) return;
            if (ec) return self->on_error("cannot read the answer: " + ec.message());
            self->on_head();
        });
}

void UpstreamCall::on_head() {
    const unsigned status = parser_->get().result_int();
    if (status >= 500) {
        return retry_or_fail("answered HTTP " + std::to_string(status));
    }
    if (status != 200) {
        mode_ = Mode::kRelay;
    } else if (request_.stream) {
        mode_ = Mode::kStream;
        res_->start_stream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
    } else {
        mode_ = Mode::kWhole;
    }
    read_more();
}

void UpstreamCall::read_more() {
    auto& body = parser_->get().body();
    body.data = chunk_;
    body.size = sizeof chunk_;
    arm(shared_.timeouts.idle_ms,
        "nothing arrived for " + std::to_string(shared_.timeouts.idle_ms) + " ms");
    http::async_read_some(stream_, buffer_, *parser_,
                          [self = shared_from_this(), n = attempt_](error_code ec, size_t) {
                              if (self->stale(n)) return;
                              const size_t got =
                                  sizeof self->chunk_ - self->parser_->get().body().size;
                              if (ec == http::error::need_buffer) ec = {};
                              if (ec) return self->on_error("the answer was cut: " + ec.message());
                              if (got > 0) self->on_bytes(std::string_view(self->chunk_, got));
                              if (self->stale(n)) return;
                              if (self->parser_->is_done()) return self->on_body_end();
                              self->read_more();
                          });
}

void UpstreamCall::on_bytes(std::string_view bytes) {
    if (mode_ != Mode::kStream) {
        body_.append(bytes);
        if (body_.size() > kMaxWholeAnswerBytes) on_error("the answer is larger than 64 MiB");
        return;
    }
    for (char c : bytes) {
        if (c != '\r') sse_pending_ += c;
    }
    size_t end;
    while (!finished_ && (end = sse_pending_.find("\n\n")) != std::string::npos) {
        const std::string event = sse_pending_.substr(0, end);
        sse_pending_.erase(0, end + 2);
        on_sse_event(event);
    }
}

void UpstreamCall::on_sse_event(std::string_view event) {
    size_t at = 0;
    while (at < event.size() && !finished_) {
        const size_t nl = std::min(event.find('\n', at), event.size());
        std::string_view line = event.substr(at, nl - at);
        at = nl + 1;
        if (!line.starts_with("data:")) continue;  // comments, event:, id:
        line.remove_prefix(5);
        if (line.starts_with(' ')) line.remove_prefix(1);
        on_sse_data(line);
    }
}

void UpstreamCall::on_sse_data(std::string_view data) {
    if (data == "[DONE]") {
        saw_done_ = true;
        return;  // written at the end of the body, after any usage fallback
    }
    ordered_json j = ordered_json::parse(data, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        return fail_stream("the upstream sent an event that is not JSON");
    if (j.contains("error")) {
        if (!res_->write("data: " + dump(j) + "\n\n")) return cancel();
        return;
    }
    charge_usage(j);
    auto choices = j.find("choices");
    const bool has_choices = choices != j.end() && choices->is_array() && !choices->empty();
    if (!request_.client_wants_usage) {
        if (!has_choices) return;  // the usage chunk the client did not ask for
        j.erase("usage");
    }
    if (j.contains("model")) j["model"] = request_.reply_model;
    if (has_choices) filter_choices(*choices, true);
    if (!res_->write("data: " + dump(j) + "\n\n")) cancel();
}

// Output redaction on each choice's text (message.content / delta.content / text).
void UpstreamCall::filter_choices(ordered_json& choices, bool streaming) {
    for (ordered_json& c : choices) {
        if (!c.is_object()) continue;
        ordered_json* holder = &c;
        if (request_.text_field == "content") {
            const char* key = streaming ? "delta" : "message";
            if (!c.contains(key) || !c[key].is_object()) continue;
            holder = &c[key];
        }
        auto text = holder->find(request_.text_field);
        const bool has_text = text != holder->end() && text->is_string();
        if (has_text && !text->get_ref<const std::string&>().empty()) ++content_events_;
        if (!scanner_) {
            if (has_text && scope_->wants_text())
                scope_->add_completion_text(text->get_ref<const std::string&>());
            continue;
        }
        const std::string original = has_text ? text->get<std::string>() : "";
        std::string safe;
        if (!streaming) {
            std::vector<gateway::PiiMatch> found;
            safe = scanner_->redact(original, &found);
            for (const auto& m : found) pii_found_.push_back(m.type);
        } else {
            const int64_t index = c.value("index", int64_t(0));
            auto r = redactors_.try_emplace(index, scanner_).first;
            safe = r->second.push(original);
            const bool last = c.contains("finish_reason") && !c["finish_reason"].is_null();
            if (last) {
                safe += r->second.finish();
                for (const std::string& t : r->second.found_types()) pii_found_.push_back(t);
                redactors_.erase(r);
            }
        }
        if (scope_->wants_text()) scope_->add_completion_text(safe);
        if (has_text || !safe.empty()) (*holder)[request_.text_field] = safe;
    }
}

void UpstreamCall::charge_usage(const ordered_json& body) {
    auto usage = body.find("usage");
    if (charged_ || usage == body.end() || !usage->is_object()) return;
    const int64_t prompt = usage->value("prompt_tokens", int64_t(0));
    const int64_t completion = usage->value("completion_tokens", int64_t(0));
    if (prompt > 0) scope_->charge_prompt(prompt);
    if (completion > 0) scope_->charge_completion(completion);
    charged_ = true;
}

void UpstreamCall::on_body_end() {
    if (mode_ == Mode::kRelay) return relay_whole();
    if (mode_ == Mode::kWhole) {
        ordered_json j = ordered_json::parse(body_, nullptr, false);
        if (j.is_discarded() || !j.is_object())
            return retry_or_fail("answered with a body that is not JSON");
        charge_usage(j);
        if (j.contains("model")) j["model"] = request_.reply_model;
        auto choices = j.find("choices");
        if (choices != j.end() && choices->is_array()) filter_choices(*choices, false);
        if (!charged_ && content_events_ > 0) scope_->charge_completion(content_events_);
        release(true);
        send_json(*res_, 200, dump(j));
        return finish();
    }
    // A stream the upstream ended (with or without [DONE]): the client's ends cleanly.
    for (auto& [index, r] : redactors_) {  // choices that never said finish_reason
        std::string rest = r.finish();
        for (const std::string& t : r.found_types()) pii_found_.push_back(t);
        if (rest.empty()) continue;
        ordered_json delta =
            request_.text_field == "content" ? ordered_json{{"content", rest}} : ordered_json();
        ordered_json c = {{"index", index}};
        if (request_.text_field == "content")
            c["delta"] = delta;
        else
            c["text"] = rest;
        c["finish_reason"] = nullptr;
        res_->write("data: " +
                    dump(ordered_json{{"model", request_.reply_model}, {"choices", {c}}}) + "\n\n");
    }
    redactors_.clear();
    if (!charged_ && content_events_ > 0) scope_->charge_completion(content_events_);
    release(true);
    res_->write("data: [DONE]\n\n");
    res_->end();
    finish();
}

void UpstreamCall::relay_whole() {
    release(true);  // it answered: the endpoint works
    const auto& head = parser_->get();
    std::vector<std::pair<std::string, std::string>> headers;
    auto retry = head.find(http::field::retry_after);
    if (retry != head.end()) headers.emplace_back("Retry-After", std::string(retry->value()));
    auto type = head.find(http::field::content_type);
    res_->send(int(head.result_int()),
               type == head.end() ? "application/json" : std::string(type->value()),
               std::move(body_), std::move(headers));
    finish();
}

void UpstreamCall::on_error(const std::string& what) {
    const std::string why = timed_out_.empty() ? what : timed_out_;
    if (mode_ == Mode::kStream) return fail_stream(why);
    retry_or_fail(why);
}

void UpstreamCall::retry_or_fail(const std::string& why, int status) {
    const std::string url = endpoint_ ? entry_.endpoints[*endpoint_].url : "";
    CITADEL_LOG_WARN("upstream %s at %s: %s", entry_.spec.name.c_str(), url.c_str(), why.c_str());
    release(false);
    close_socket();
    timed_out_.clear();
    mode_ = Mode::kHead;
    body_.clear();
    if (tried_.size() < entry_.endpoints.size() && !shared_.stopping && !res_->disconnected()) {
        return attempt();
    }
    send_error(*res_,
               {.status = status,
                .message = "upstream model '" + entry_.spec.name + "' failed: " + url + " " + why,
                .type = "server_error",
                .code = "upstream_error"});
    finish();
}

void UpstreamCall::fail_stream(const std::string& why) {
    const std::string url = endpoint_ ? entry_.endpoints[*endpoint_].url : "";
    CITADEL_LOG_WARN("upstream %s at %s, mid-stream: %s", entry_.spec.name.c_str(), url.c_str(),
                     why.c_str());
    release(false);
    scope_->set_status(502, "upstream failed mid-stream: " + why);
    res_->write(sse_error("upstream model '" + entry_.spec.name + "' failed mid-stream: " + why));
    res_->write("data: [DONE]\n\n");
    res_->end();
    finish();
}

void UpstreamCall::cancel() {
    if (finished_) return;
    release(false, false);
    finish();
}

void UpstreamCall::abort(const std::string& why) {
    if (finished_) return;
    release(false, false);
    if (mode_ == Mode::kStream) {
        res_->write(sse_error(why));
        res_->write("data: [DONE]\n\n");
        res_->end();
    } else {
        send_error(*res_, {.status = 503, .message = why, .type = "server_error"});
    }
    finish();
}

void UpstreamCall::arm(int ms, std::string what) {
    const uint64_t generation = ++timer_generation_;
    timer_.expires_after(std::chrono::milliseconds(ms));
    timer_.async_wait(
        [self = shared_from_this(), generation, what = std::move(what)](const error_code& ec) {
            if (ec || self->finished_ || generation != self->timer_generation_) return;
            self->timed_out_ = what;
            self->resolver_.cancel();
            self->close_socket();
        });
}

void UpstreamCall::release(bool ok, bool counted) {
    if (!endpoint_) return;
    entry_.pool->finish(*endpoint_, ok, counted);
    endpoint_.reset();
}

void UpstreamCall::close_socket() {
    stream_.close();
}

void UpstreamCall::finish() {
    if (finished_) return;
    finished_ = true;
    ++timer_generation_;
    timer_.cancel();
    resolver_.cancel();
    close_socket();
    for (const std::string& t : pii_found_)
        scope_->note_guard(std::string("pii.output:") + gateway::pii_mode_name(pii_mode_) + ":" +
                           t);
    shared_.active.erase(id_);
}

}  // namespace citadel::api
