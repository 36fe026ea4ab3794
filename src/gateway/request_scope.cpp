#include "gateway/request_scope.h"

#include <cstdlib>

#include "core/log.h"
#include "gateway/accountant.h"
#include "gateway/audit_log.h"
#include "gateway/clock.h"
#include "gateway/gateway.h"
#include "gateway/key_store.h"
#include "gateway/limiter.h"
#include "gateway/model_gate.h"

namespace citadel::gateway {
namespace {

// "key:abc" -> "abc": the key store's usage rows are per key id.
std::string_view key_id_of(const Identity& id) {
    std::string_view s = id.id;
    return s.starts_with("key:") ? s.substr(4) : std::string_view();
}

}  // namespace

RequestScope::RequestScope(Gateway& gateway, std::string request_id, std::string route,
                           std::string client, bool audited)
    : gateway_(gateway),
      request_id_(std::move(request_id)),
      route_(std::move(route)),
      client_(std::move(client)),
      audited_(audited),
      wants_text_(audited && gateway.audit() && gateway.config().audit->record_text),
      started_(std::chrono::steady_clock::now()),
      started_unix_ms_(unix_now_ms()) {}

RequestScope::~RequestScope() {
    finish();
}

const Identity& RequestScope::identity() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (!identity_) std::abort();  // a bug: asked before authentication
    return *identity_;
}

void RequestScope::set_identity(Identity id) {
    std::lock_guard<std::mutex> lock(mu_);
    identity_ = std::move(id);
}

void RequestScope::set_trace(std::string trace_id, std::string span_id,
                             std::string parent_span_id) {
    trace_id_ = std::move(trace_id);
    span_id_ = std::move(span_id);
    parent_span_id_ = std::move(parent_span_id);
}

void RequestScope::set_model(std::string model) {
    std::lock_guard<std::mutex> lock(mu_);
    model_ = std::move(model);
}

std::string RequestScope::model() const {
    std::lock_guard<std::mutex> lock(mu_);
    return model_;
}

void RequestScope::set_status(int status, std::string error) {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_ != 0) return;
    status_ = status;
    error_ = std::move(error);
}

void RequestScope::note_guard(std::string note) {
    std::lock_guard<std::mutex> lock(mu_);
    guards_.push_back(std::move(note));
}

std::vector<std::string> RequestScope::guard_notes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return guards_;
}

void RequestScope::charge_prompt(int64_t tokens) {
    std::lock_guard<std::mutex> lock(mu_);
    prompt_tokens_ += tokens;
    if (identity_ && held_limits_ && !finished_)
        gateway_.accountant().charge(identity_->id, *held_limits_, tokens);
}

void RequestScope::charge_completion(int64_t tokens) {
    std::lock_guard<std::mutex> lock(mu_);
    completion_tokens_ += tokens;
    if (identity_ && held_limits_ && !finished_)
        gateway_.accountant().charge(identity_->id, *held_limits_, tokens);
}

void RequestScope::set_prompt_text(std::string text) {
    if (!wants_text_) return;
    std::lock_guard<std::mutex> lock(mu_);
    prompt_text_ = std::move(text);
}

void RequestScope::add_completion_text(std::string_view text) {
    if (!wants_text_) return;
    std::lock_guard<std::mutex> lock(mu_);
    if (!completion_text_) completion_text_.emplace();
    completion_text_->append(text);
}

void RequestScope::add_phase(Phase phase) {
    std::lock_guard<std::mutex> lock(mu_);
    phases_.push_back(std::move(phase));
}

std::vector<RequestScope::Phase> RequestScope::phases() const {
    std::lock_guard<std::mutex> lock(mu_);
    return phases_;
}

void RequestScope::hold_limits(KeyLimits limits, std::string model_slot) {
    std::lock_guard<std::mutex> lock(mu_);
    held_limits_ = limits;
    model_slot_ = std::move(model_slot);
}

void RequestScope::set_rate_headers(std::vector<std::pair<std::string, std::string>> headers) {
    std::lock_guard<std::mutex> lock(mu_);
    rate_headers_ = std::move(headers);
}

std::vector<std::pair<std::string, std::string>> RequestScope::rate_headers() const {
    std::lock_guard<std::mutex> lock(mu_);
    return rate_headers_;
}

// The access log line: one structured event per request (mu_ held).
void RequestScope::log_request() const {
    std::string guards;
    for (const std::string& g : guards_) guards += (guards.empty() ? "" : ",") + g;
    const int64_t latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - started_)
                                   .count();
    log_event(status_ >= 500 ? LogLevel::kWarn : LogLevel::kInfo, "request",
              {{"request_id", request_id_},
               {"identity", identity_ ? identity_->id : std::string()},
               {"model", model_},
               {"route", route_},
               {"client", client_},
               {"status", status_ == 0 ? 500 : status_},
               {"latency_ms", latency_ms},
               {"prompt_tokens", prompt_tokens_},
               {"completion_tokens", completion_tokens_},
               {"guards", guards},
               {"error", error_}});
}

void RequestScope::finish() {
    std::lock_guard<std::mutex> lock(mu_);
    if (finished_) return;
    finished_ = true;
    if (held_limits_ && identity_) gateway_.limiter().release(identity_->id);
    if (!model_slot_.empty()) gateway_.model_gate().release(model_slot_);
    const std::string_view key_id = identity_ ? key_id_of(*identity_) : std::string_view();
    if (!key_id.empty() && gateway_.keys() && held_limits_) {
        gateway_.keys()->add_usage(std::string(key_id), prompt_tokens_, completion_tokens_,
                                   started_unix_ms_ / 1000);
    }
    if (!audited_) return;  // probes: neither logged nor audited
    log_request();
    if (!gateway_.audit()) return;
    AuditRecord r;
    r.time_ms = started_unix_ms_;
    r.request_id = request_id_;
    r.identity = identity_ ? identity_->id : "";
    r.role = identity_ ? role_name(identity_->role) : "";
    r.model = model_;
    r.route = route_;
    r.client = client_;
    r.status = status_ == 0 ? 500 : status_;
    r.latency_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - started_)
                       .count();
    r.prompt_tokens = prompt_tokens_;
    r.completion_tokens = completion_tokens_;
    r.guards = std::move(guards_);
    r.error = std::move(error_);
    r.prompt = std::move(prompt_text_);
    r.completion = std::move(completion_text_);
    gateway_.audit()->append(std::move(r));
}

}  // namespace citadel::gateway
