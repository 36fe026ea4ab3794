// One HTTP request's generation: one engine request per choice; each choice's tokens go
// through its text pipeline (detokenizer -> stop strings -> tool-call parser) and out in the
// wire format the client asked for, streamed (SSE / NDJSON) or as one body at the end.
//
// Metrics (when the model has them): time to first token and between tokens per choice, each
// choice's end-to-end latency and finish reason, and the engine's queue, prefill and decode
// times from its finish event.
//
// Threads: start() runs on an I/O thread; events arrive on the engine thread; a client that
// goes away cancels every choice through Responder::on_disconnect (an I/O thread). All state
// is guarded by one mutex per job; nothing here blocks (Responder queues its writes).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/errors.h"
#include "api/openai_response.h"
#include "api/tool_calls.h"
#include "engine/request.h"
#include "gateway/classifier.h"
#include "gateway/pii_stream.h"
#include "gateway/request_scope.h"
#include "ops/model_registry.h"
#include "server/http_server.h"
#include "text/stop_strings.h"
#include "text/stream_decoder.h"

namespace citadel::api {

enum class Wire { kChat, kCompletion, kOllamaChat, kOllamaGenerate };

struct JobSpec {
    Wire wire = Wire::kChat;
    bool stream = false;
    bool include_usage = false;
    ResponseMeta meta;                           // id, created, model name as the client gave it
    std::vector<std::string> stop;               // stop strings
    ToolFormat tool_format = ToolFormat::kNone;  // kNone: replies are plain text
    bool logprobs = false;                       // report each token's logprob (and top_logprobs)
    int n = 1;                                   // choices per prompt (they share its usage)
    // The gateway's view of the request: tokens are charged to it as they stream, the
    // completion's text is recorded when the audit log wants it. Null in unit tests.
    std::shared_ptr<gateway::RequestScope> scope;
    // Shown the finished reply before it is delivered (non-streamed: a refusal replaces it
    // with a 400; streamed: an error event ends the stream). Null: not asked.
    gateway::Classifier* output_classifier = nullptr;
};

struct ChoiceSpec {
    GenerationRequest request;
    std::string echo;  // completions with echo: the prompt text, sent before the reply
};

class GenerationJob : public std::enable_shared_from_this<GenerationJob> {
  public:
    GenerationJob(JobSpec spec, std::shared_ptr<ops::LoadedModel> model,
                  std::shared_ptr<server::Responder> responder);
    // PII in the reply: redacted as it streams (kRedact), noted (kLog), or it ends the choice
    // with finish_reason "content_filter" (kBlock). Before start().
    void scan_output(std::shared_ptr<const gateway::PiiScanner> scanner, gateway::PiiMode mode);
    ~GenerationJob();

    // Submits every choice. If one is refused, the others are cancelled and the client gets
    // the error (503 when the engine queue is full, 400 otherwise).
    void start(std::vector<ChoiceSpec> choices);

  private:
    struct Choice;

    void on_event(size_t index, EngineEvent&& e);
    void on_token(Choice& c, const EngineEvent& e);
    void on_finished(Choice& c, const EngineEvent& e);
    void emit(Choice& c, std::string text, std::vector<TokenInfo> logprobs, bool final_text);
    std::string screen(Choice& c, std::string text, bool last);
    void finish_choice(Choice& c, std::string reason);
    void begin_stream();
    void write_delta(Choice& c, const std::string& content, const std::vector<ToolCall>& calls,
                     const std::vector<TokenInfo>* logprobs, const std::string* finish_reason);
    void complete();
    void deliver(std::optional<gateway::ClassifierVerdict> verdict);
    bool refused(const std::optional<gateway::ClassifierVerdict>& verdict);
    void cancel_all();
    void cancel_all_locked();
    TokenInfo token_info(const EngineEvent& e) const;
    UsageInfo total_usage() const;
    void time_token(Choice& c);
    void time_engine(const RequestTimes& t);
    void trace_engine(const RequestTimes& t);
    void count_finish(const std::string& reason);

    // The model's latency series (null without metrics); looked up once per job.
    struct Timers {
        ops::Series* ttft = nullptr;
        ops::Series* itl = nullptr;
        ops::Series* e2e = nullptr;
        ops::Series* queue = nullptr;
        ops::Series* prefill = nullptr;
        ops::Series* decode = nullptr;
    };

    JobSpec spec_;
    std::shared_ptr<ops::LoadedModel> model_;
    Engine* engine_;  // the model's; outlives every request it runs (its destructor ends them)
    std::shared_ptr<server::Responder> responder_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<Choice>> choices_;
    size_t finished_ = 0;
    bool failed_ = false;
    bool gone_ = false;                                      // the client disconnected
    std::shared_ptr<const gateway::PiiScanner> output_pii_;  // null: output not scanned
    gateway::PiiMode output_mode_ = gateway::PiiMode::kOff;
    std::chrono::steady_clock::time_point started_;
    std::optional<std::chrono::steady_clock::time_point> first_token_;
    Timers timers_;
};

}  // namespace citadel::api
