#include "api/generation.h"

#include "api/ollama.h"
#include "api/respond.h"
#include "core/log.h"

namespace citadel::api {

struct GenerationJob::Choice {
    Choice(size_t i, const text::Tokenizer& tok, std::vector<std::string> stop, ToolFormat tf)
        : index(i),
          // With tools, special tokens are text: some formats mark calls with them
          // ([TOOL_CALLS], <|python_tag|>).
          decoder(tok, tf == ToolFormat::kNone, true),
          stops(std::move(stop)) {
        if (tf != ToolFormat::kNone) tools.emplace(tf);
    }
    size_t index;
    uint64_t engine_id = 0;
    std::string echo;
    text::StreamDecoder decoder;
    text::StopMatcher stops;
    std::optional<ToolCallStream> tools;
    // What the reply holds so far (non-streaming answers are built from it).
    std::string content;
    std::vector<ToolCall> calls;
    std::vector<TokenInfo> logprobs;
    int64_t completion_tokens = 0;
    Usage usage;
    std::optional<gateway::PiiStreamRedactor> pii;  // output PII scanning
    size_t pii_types_seen = 0;
    bool blocked = false;  // PII in block mode: the choice ends with "content_filter"
    bool stopped = false;  // a stop string matched (or blocked): later tokens are dropped
    bool done = false;
    std::string finish_reason;
    std::optional<std::chrono::steady_clock::time_point> last_token;  // for the metrics
};

namespace {

using Clock = std::chrono::steady_clock;

int64_t nanos(Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

ApiError submit_error(const Submitted& s) {
    switch (s.code) {
        case SubmitCode::kOverloaded:
            return {.status = 503, .message = s.error, .type = "overloaded_error"};
        case SubmitCode::kShutdown:
            return {.status = 503, .message = s.error, .type = "server_error"};
        case SubmitCode::kContextExceeded:
            return {.status = 400,
                    .message = s.error,
                    .type = "invalid_request_error",
                    .code = "context_length_exceeded"};
        default:
            return {.status = 400, .message = s.error};
    }
}

// Characters (code points) of UTF-8 text: the unit of the legacy logprobs' text_offset.
int64_t code_points(std::string_view s) {
    int64_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

bool ollama(Wire w) {
    return w == Wire::kOllamaChat || w == Wire::kOllamaGenerate;
}

}  // namespace

GenerationJob::GenerationJob(JobSpec spec, std::shared_ptr<ops::LoadedModel> model,
                             std::shared_ptr<server::Responder> responder)
    : spec_(std::move(spec)),
      model_(std::move(model)),
      engine_(model_->engine.get()),
      responder_(std::move(responder)) {
    if (ops::Metrics* m = model_->metrics) {
        using ops::Metric;
        const std::string& name = model_->name;
        timers_ = {.ttft = &m->series(Metric::kTimeToFirstToken, {name}),
                   .itl = &m->series(Metric::kInterTokenLatency, {name}),
                   .e2e = &m->series(Metric::kE2eLatency, {name}),
                   .queue = &m->series(Metric::kQueueTime, {name}),
                   .prefill = &m->series(Metric::kPrefillTime, {name}),
                   .decode = &m->series(Metric::kDecodeTime, {name})};
    }
}

GenerationJob::~GenerationJob() = default;

void GenerationJob::scan_output(std::shared_ptr<const gateway::PiiScanner> scanner,
                                gateway::PiiMode mode) {
    output_pii_ = std::move(scanner);
    output_mode_ = output_pii_ ? mode : gateway::PiiMode::kOff;
}

void GenerationJob::start(std::vector<ChoiceSpec> choices) {
    std::lock_guard<std::mutex> lock(mutex_);
    started_ = Clock::now();
    for (size_t i = 0; i < choices.size(); ++i) {
        choices_.push_back(
            std::make_unique<Choice>(i, *model_->tokenizer, spec_.stop, spec_.tool_format));
        choices_.back()->echo = std::move(choices[i].echo);
        if (output_pii_) choices_.back()->pii.emplace(output_pii_);
    }
    std::weak_ptr<GenerationJob> weak = weak_from_this();
    for (size_t i = 0; i < choices.size(); ++i) {
        auto self = shared_from_this();  // the engine keeps the job alive until its finish
        Submitted s = engine_->submit(std::move(choices[i].request), [self, i](EngineEvent&& e) {
            self->on_event(i, std::move(e));
        });
        if (!s.ok()) {
            failed_ = true;
            for (size_t j = 0; j < i; ++j) engine_->cancel(choices_[j]->engine_id);
            send_error(*responder_, submit_error(s), ollama(spec_.wire));
            return;
        }
        choices_[i]->engine_id = s.id;
    }
    responder_->on_disconnect([weak] {
        if (auto job = weak.lock()) job->cancel_all();
    });
    if (spec_.stream) begin_stream();
}

void GenerationJob::cancel_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    gone_ = true;
    cancel_all_locked();
}

void GenerationJob::cancel_all_locked() {
    for (auto& c : choices_) {
        if (!c->done) engine_->cancel(c->engine_id);
    }
}

void GenerationJob::begin_stream() {
    const bool event_stream = !ollama(spec_.wire);
    std::vector<std::pair<std::string, std::string>> headers = {{"Cache-Control", "no-cache"},
                                                                {"X-Accel-Buffering", "no"}};
    responder_->start_stream(200, event_stream ? "text/event-stream" : "application/x-ndjson",
                             std::move(headers));
    for (auto& c : choices_) {
        if (spec_.wire == Wire::kChat) {
            ChatDelta d{.index = int(c->index), .role = true, .content = std::string()};
            responder_->write(sse(chat_chunk(spec_.meta, d)));
        } else if (spec_.wire == Wire::kCompletion && !c->echo.empty()) {
            CompletionChoice cc{.index = int(c->index), .text = c->echo};
            responder_->write(sse(completion_chunk(spec_.meta, cc, false)));
        }
    }
}

void GenerationJob::on_event(size_t index, EngineEvent&& e) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failed_ || index >= choices_.size()) return;
    Choice& c = *choices_[index];
    if (e.kind == EngineEvent::Kind::kFinished) {
        time_engine(e.times);
        trace_engine(e.times);
    }
    if (c.done) return;
    if (e.kind == EngineEvent::Kind::kToken) {
        if (!first_token_) first_token_ = Clock::now();
        time_token(c);
        on_token(c, e);
    } else {
        on_finished(c, e);
    }
}

static double seconds(Clock::duration d) {
    return std::chrono::duration<double>(d).count();
}

// Time to first token (from submission) or since the choice's previous token.
void GenerationJob::time_token(Choice& c) {
    if (!timers_.ttft) return;
    const Clock::time_point now = Clock::now();
    if (c.last_token) {
        timers_.itl->observe(seconds(now - *c.last_token));
    } else {
        timers_.ttft->observe(seconds(now - started_));
    }
    c.last_token = now;
}

// The engine's stages of one finished request: queued (admitted to its first step), prefill
// (to its first token), decode (to now, its end). Stages never reached are not observed.
void GenerationJob::time_engine(const RequestTimes& t) {
    if (!timers_.queue) return;
    const Clock::time_point never{}, now = Clock::now();
    if (t.scheduled == never) return;
    timers_.queue->observe(seconds(t.scheduled - t.admitted));
    if (t.first_token == never) return;
    timers_.prefill->observe(seconds(t.first_token - t.scheduled));
    timers_.decode->observe(seconds(now - t.first_token));
}

// The same stages as phases of the request's trace span (steady clock -> Unix time).
void GenerationJob::trace_engine(const RequestTimes& t) {
    if (!spec_.scope) return;
    const Clock::time_point never{}, now = Clock::now();
    const int64_t unix_now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    auto unix_of = [&](Clock::time_point p) { return unix_now - nanos(now - p); };
    const std::pair<Clock::time_point, Clock::time_point> stages[] = {
        {t.admitted, t.scheduled}, {t.scheduled, t.first_token}, {t.first_token, now}};
    const char* names[] = {"engine.queue", "engine.prefill", "engine.decode"};
    for (int i = 0; i < 3; ++i) {
        if (stages[i].first == never || stages[i].second == never) return;
        spec_.scope->add_phase({.name = names[i],
                                .start_unix_ns = unix_of(stages[i].first),
                                .end_unix_ns = unix_of(stages[i].second)});
    }
}

void GenerationJob::count_finish(const std::string& reason) {
    ops::Metrics* m = model_->metrics;
    if (!m) return;
    m->add(ops::Metric::kRequestSuccess, {model_->name, reason});
    timers_.e2e->observe(seconds(Clock::now() - started_));
}

TokenInfo GenerationJob::token_info(const EngineEvent& e) const {
    const text::Tokenizer& tok = *model_->tokenizer;
    TokenInfo t{.text = tok.token_bytes(e.token), .logprob = e.logprob};
    for (const TokenLogprob& alt : e.top)
        t.top.emplace_back(tok.token_bytes(alt.token), alt.logprob);
    return t;
}

void GenerationJob::on_token(Choice& c, const EngineEvent& e) {
    if (c.stopped) return;
    ++c.completion_tokens;
    if (spec_.scope) spec_.scope->charge_completion(1);
    std::vector<TokenInfo> lp;
    if (spec_.logprobs) lp.push_back(token_info(e));
    emit(c, c.decoder.push(e.token), std::move(lp), false);
}

void GenerationJob::on_finished(Choice& c, const EngineEvent& e) {
    c.usage = e.usage;
    if (e.reason == FinishReason::kError) {
        CITADEL_LOG_WARN("request %s failed in the engine: %s", spec_.meta.id.c_str(),
                         e.error.c_str());
        if (!spec_.stream) {
            failed_ = true;
            count_finish("error");
            send_error(
                *responder_,
                {.status = 500, .message = "generation failed: " + e.error, .type = "server_error"},
                ollama(spec_.wire));
            cancel_all_locked();
            return;
        }
        finish_choice(c, "error");
        return;
    }
    emit(c, c.decoder.finish(), {}, true);
    if (c.done) return;  // a stop string matched in the last text
    if (e.reason == FinishReason::kCancelled) {
        finish_choice(c, "abort");
    } else if (!c.calls.empty() && spec_.wire != Wire::kCompletion) {
        finish_choice(c, "tool_calls");
    } else {
        finish_choice(c, e.reason == FinishReason::kLength ? "length" : "stop");
    }
}

// Sends text that the detokenizer released through the stop strings and the tool-call
// parser; `final_text` flushes whatever they hold back.
void GenerationJob::emit(Choice& c, std::string text, std::vector<TokenInfo> logprobs,
                         bool final_text) {
    text::StopMatcher::Out s = c.stops.push(text);
    std::string out = std::move(s.text);
    if (s.stopped) {
        c.stopped = true;
        engine_->cancel(c.engine_id);
    } else if (final_text) {
        out += c.stops.flush();
    }
    out = screen(c, std::move(out), s.stopped || final_text);
    if (c.blocked && !s.stopped) {
        c.stopped = true;
        engine_->cancel(c.engine_id);
    }
    std::vector<ToolCall> calls;
    if (c.tools) {
        ToolCallStream::Out t = c.tools->push(out);
        if (s.stopped || final_text || c.blocked) {
            ToolCallStream::Out rest = c.tools->finish();
            t.content += rest.content;
            for (ToolCall& call : rest.calls) t.calls.push_back(std::move(call));
        }
        out = std::move(t.content);
        calls = std::move(t.calls);
    }
    if (spec_.stream && !gone_ && (!out.empty() || !calls.empty() || !logprobs.empty())) {
        write_delta(c, out, calls, spec_.logprobs ? &logprobs : nullptr, nullptr);
    }
    if (spec_.scope && spec_.scope->wants_text()) spec_.scope->add_completion_text(out);
    c.content += out;
    for (ToolCall& call : calls) c.calls.push_back(std::move(call));
    for (TokenInfo& t : logprobs) c.logprobs.push_back(std::move(t));
    if (c.blocked) {
        finish_choice(c, "content_filter");
    } else if (s.stopped) {
        finish_choice(c, c.calls.empty() ? "stop" : "tool_calls");
    }
}

// Output PII: what may be sent of `text` (redacted, or held back while a match may still be
// forming); `last` releases the rest. New types found are noted in the request's audit
// record; in block mode the first one ends the choice.
std::string GenerationJob::screen(Choice& c, std::string text, bool last) {
    if (!c.pii) return text;
    std::string safe = c.pii->push(text);
    if (last) safe += c.pii->finish();
    const std::vector<std::string>& found = c.pii->found_types();
    for (; c.pii_types_seen < found.size(); ++c.pii_types_seen) {
        if (spec_.scope) {
            spec_.scope->note_guard(std::string("pii.output:") +
                                    gateway::pii_mode_name(output_mode_) + ":" +
                                    found[c.pii_types_seen]);
        }
        if (output_mode_ == gateway::PiiMode::kBlock) c.blocked = true;
    }
    // Log mode: the reply goes out as generated (the redactor only detects); it is flushed
    // at the end so nothing is held back.
    if (output_mode_ == gateway::PiiMode::kLog) return text;
    return safe;
}

void GenerationJob::write_delta(Choice& c, const std::string& content,
                                const std::vector<ToolCall>& calls,
                                const std::vector<TokenInfo>* logprobs,
                                const std::string* finish_reason) {
    const int index = int(c.index);
    switch (spec_.wire) {
        case Wire::kChat: {
            ChatDelta d{
                .index = index, .tool_calls = calls, .first_tool_index = int(c.calls.size())};
            if (!content.empty()) d.content = content;
            if (finish_reason) d.finish_reason = *finish_reason;
            if (logprobs) d.logprobs = *logprobs;
            responder_->write(sse(chat_chunk(spec_.meta, d)));
            return;
        }
        case Wire::kCompletion: {
            CompletionChoice cc{.index = index, .text = content};
            cc.text_offset0 = code_points(c.echo) + code_points(c.content);
            if (finish_reason) cc.finish_reason = *finish_reason;
            if (logprobs) cc.logprobs = *logprobs;
            responder_->write(sse(completion_chunk(spec_.meta, cc, finish_reason != nullptr)));
            return;
        }
        case Wire::kOllamaChat:
            if (finish_reason) return;  // the final line comes from complete()
            responder_->write(
                ollama_chat_line(spec_.meta.model, content, calls, false, "", nullptr));
            return;
        case Wire::kOllamaGenerate:
            if (finish_reason) return;
            responder_->write(ollama_generate_line(spec_.meta.model, content, false, "", nullptr));
            return;
    }
}

void GenerationJob::finish_choice(Choice& c, std::string reason) {
    if (c.done) return;
    c.done = true;
    c.finish_reason = std::move(reason);
    count_finish(c.finish_reason);
    if (spec_.stream && !gone_) write_delta(c, "", {}, nullptr, &c.finish_reason);
    if (++finished_ == choices_.size()) complete();
}

UsageInfo GenerationJob::total_usage() const {
    // Choices of the same prompt share it: count each prompt once.
    UsageInfo u;
    const size_t per_prompt = std::max<size_t>(spec_.n, 1);
    for (const auto& c : choices_) {
        u.completion_tokens += c->completion_tokens;
        if (c->index % per_prompt == 0) {
            u.prompt_tokens += c->usage.prompt_tokens;
            u.cached_tokens += c->usage.cached_tokens;
        }
    }
    return u;
}

// Every choice has finished. With an output classifier the reply is first shown to it
// (asynchronously); then it is delivered.
void GenerationJob::complete() {
    gateway::Classifier* c = spec_.output_classifier;
    if (!c || (spec_.stream && gone_)) return deliver(std::nullopt);
    std::string text;
    for (const auto& choice : choices_) {
        text += (text.empty() ? "" : "\n") + choice->content;
        for (const ToolCall& call : choice->calls) text += "\n" + call.name + " " + call.arguments;
    }
    const std::string request_id = spec_.scope ? spec_.scope->request_id() : spec_.meta.id;
    c->check("output", std::move(text), spec_.meta.model, request_id,
             [self = shared_from_this()](gateway::ClassifierVerdict v) {
                 std::lock_guard<std::mutex> lock(self->mutex_);
                 self->deliver(std::move(v));
             });
}

// The classifier's verdict on the reply, in the audit record; whether it refused it.
bool GenerationJob::refused(const std::optional<gateway::ClassifierVerdict>& v) {
    if (!v) return false;
    if (spec_.scope && (!v->allow || v->flagged || v->failed)) {
        const std::string how = v->failed ? "failed" : v->allow ? "flag" : "block";
        spec_.scope->note_guard("classifier.output:" + how +
                                (v->reason.empty() ? "" : ":" + v->reason));
    }
    return !v->allow;
}

void GenerationJob::deliver(std::optional<gateway::ClassifierVerdict> verdict) {
    const bool blocked = refused(verdict);
    const ApiError blocked_error{
        .message =
            "The reply was withheld by the content classifier" +
            (verdict && !verdict->reason.empty() ? ": " + verdict->reason + "." : std::string(".")),
        .code = "content_blocked"};
    const UsageInfo usage = total_usage();
    const Clock::time_point now = Clock::now();
    OllamaTimings timings{.total_ns = nanos(now - started_),
                          .prompt_eval_ns = nanos(first_token_.value_or(now) - started_),
                          .eval_ns = nanos(now - first_token_.value_or(now)),
                          .prompt_eval_count = usage.prompt_tokens,
                          .eval_count = usage.completion_tokens};
    const Choice& first = *choices_.front();
    if (spec_.stream) {
        if (gone_) return;
        if (blocked) {  // what was streamed cannot be taken back: an error event ends it
            responder_->write(ollama(spec_.wire) ? ollama_error_body(blocked_error) + "\n"
                                                 : sse(error_body(blocked_error)));
        }
        if (spec_.wire == Wire::kOllamaChat) {
            responder_->write(
                ollama_chat_line(spec_.meta.model, "", {}, true, first.finish_reason, &timings));
        } else if (spec_.wire == Wire::kOllamaGenerate) {
            responder_->write(
                ollama_generate_line(spec_.meta.model, "", true, first.finish_reason, &timings));
        } else {
            if (spec_.include_usage)
                responder_->write(sse(usage_chunk(spec_.meta, usage, spec_.wire == Wire::kChat)));
            responder_->write(sse_done());
        }
        responder_->end();
        return;
    }
    std::string body;
    switch (spec_.wire) {
        case Wire::kChat: {
            std::vector<ChatChoice> out;
            for (const auto& c : choices_) {
                ChatChoice cc{.index = int(c->index),
                              .content = c->content,
                              .tool_calls = c->calls,
                              .finish_reason = c->finish_reason};
                if (spec_.logprobs) cc.logprobs = c->logprobs;
                out.push_back(std::move(cc));
            }
            body = chat_completion(spec_.meta, out, usage);
            break;
        }
        case Wire::kCompletion: {
            std::vector<CompletionChoice> out;
            for (const auto& c : choices_) {
                CompletionChoice cc{.index = int(c->index),
                                    .text = c->echo + c->content,
                                    .finish_reason = c->finish_reason};
                if (spec_.logprobs) cc.logprobs = c->logprobs;
                out.push_back(std::move(cc));
            }
            body = completion(spec_.meta, out, usage);
            break;
        }
        case Wire::kOllamaChat:
            body = ollama_chat_line(spec_.meta.model, first.content, first.calls, true,
                                    first.finish_reason, &timings);
            break;
        case Wire::kOllamaGenerate:
            body = ollama_generate_line(spec_.meta.model, first.content, true, first.finish_reason,
                                        &timings);
            break;
    }
    // The engine's share of the request (submit to last event): clients and benchmarks
    // subtract it from their latency to see the server's own overhead.
    char timing[64];
    std::snprintf(timing, sizeof timing, "engine;dur=%.3f", double(nanos(now - started_)) / 1e6);
    if (blocked) return send_error(*responder_, blocked_error, ollama(spec_.wire));
    responder_->send(200, "application/json", std::move(body), {{"Server-Timing", timing}});
}

}  // namespace citadel::api
