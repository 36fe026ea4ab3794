// One request's passage through the gateway: who asked, what was decided, what it cost.
// Created when the request arrives; whoever still needs it (the responder, a generation job)
// holds a shared_ptr. When the response ends (finish(), or the last holder lets go) the
// request is over: the limiter's concurrency slot and the model slot are released, usage is
// recorded for the identity, one access-log event is logged and one audit record is written
// (routes marked unaudited, the probes, write neither).
//
// Threads: the setters may be called from any thread (I/O threads, the engine thread, the
// classifier's thread); a mutex guards the record.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "gateway/identity.h"

namespace citadel::gateway {

class Gateway;

class RequestScope {
  public:
    RequestScope(Gateway& gateway, std::string request_id, std::string route, std::string client,
                 bool audited);
    ~RequestScope();
    RequestScope(const RequestScope&) = delete;
    RequestScope& operator=(const RequestScope&) = delete;

    // The response is complete (or the client left): release the slots, record usage, write
    // the audit record. Once; later calls (and the destructor) do nothing.
    void finish();

    Gateway& gateway() const { return gateway_; }
    const std::string& request_id() const { return request_id_; }
    bool authenticated() const { return identity_.has_value(); }
    const Identity& identity() const;  // only when authenticated()
    void set_identity(Identity id);
    // The W3C trace this request belongs to and its own span id (set once, on arrival).
    void set_trace(std::string trace_id, std::string span_id, std::string parent_span_id);
    const std::string& trace_id() const { return trace_id_; }
    const std::string& span_id() const { return span_id_; }
    const std::string& parent_span_id() const { return parent_span_id_; }
    void set_model(std::string model);
    std::string model() const;

    // The answer's status (the first one set wins) and, for refusals, why.
    void set_status(int status, std::string error = {});
    // "pii.input:redact:EMAIL", "injection:flag:ignore-previous-en", ...
    void note_guard(std::string note);
    std::vector<std::string> guard_notes() const;  // until finish() (which hands them on)
    // Tokens as they are produced: charged to the identity's limits through the accountant.
    void charge_prompt(int64_t tokens);
    void charge_completion(int64_t tokens);
    // Text for the audit record (kept only when the audit log records text).
    bool wants_text() const { return wants_text_; }
    void set_prompt_text(std::string text);
    void add_completion_text(std::string_view text);

    // Timed stages of the request (the engine's queue, prefill, decode) for its trace span:
    // name and Unix-epoch nanoseconds.
    struct Phase {
        std::string name;
        int64_t start_unix_ns = 0, end_unix_ns = 0;
    };
    void add_phase(Phase phase);
    std::vector<Phase> phases() const;

    // Filled by Gateway::admit.
    void hold_limits(KeyLimits limits, std::string model_slot);
    void set_rate_headers(std::vector<std::pair<std::string, std::string>> headers);
    std::vector<std::pair<std::string, std::string>> rate_headers() const;

  private:
    void log_request() const;

    Gateway& gateway_;
    const std::string request_id_;
    const std::string route_;
    const std::string client_;
    const bool audited_;
    const bool wants_text_;
    const std::chrono::steady_clock::time_point started_;
    const int64_t started_unix_ms_;

    std::string trace_id_, span_id_, parent_span_id_;  // written once, before sharing
    mutable std::mutex mu_;
    std::optional<Identity> identity_;
    std::string model_;
    int status_ = 0;
    std::string error_;
    std::vector<std::string> guards_;
    int64_t prompt_tokens_ = 0;
    int64_t completion_tokens_ = 0;
    std::optional<std::string> prompt_text_;
    std::optional<std::string> completion_text_;
    std::optional<KeyLimits> held_limits_;  // a limiter slot to release
    std::string model_slot_;                // a model slot to release
    std::vector<std::pair<std::string, std::string>> rate_headers_;
    bool finished_ = false;
    std::vector<Phase> phases_;
};

}  // namespace citadel::gateway
