#include "engine/engine.h"

#include <algorithm>

namespace citadel {

const char* finish_reason_name(FinishReason r) {
    switch (r) {
        case FinishReason::kStop:
            return "stop";
        case FinishReason::kLength:
            return "length";
        case FinishReason::kCancelled:
            return "cancelled";
        case FinishReason::kError:
            return "error";
    }
    return "error";
}

struct Engine::Active {
    EventSink sink;
    Sampler sampler;
    GenerationRequest request;
    int64_t generated = 0;
    int64_t cached_tokens = -1;  // known once admitted
    RequestTimes times{};
};

namespace {

Status check_options(const Model& model, const EngineOptions& o, int64_t n_blocks) {
    CITADEL_TRY(KvCache::check(model.hp, o.kv_type));
    if (o.block_size < 1 || o.block_size > 1024) {
        return Status::error("block size must be in [1, 1024], got " +
                             std::to_string(o.block_size));
    }
    if (o.max_seqs < 1 || o.max_batch_tokens < 1) {
        return Status::error("max-seqs and max-batch-tokens must be at least 1");
    }
    if (n_blocks < 2) {
        return Status::error(
            "a KV budget of " + std::to_string(o.kv_mem_bytes) +
            " bytes holds fewer than 2 blocks of " +
            std::to_string(KvCache::block_bytes(model.hp, o.block_size, o.kv_type)) +
            " bytes; raise --kv-mem");
    }
    return ok_status();
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::create(std::shared_ptr<const Model> model,
                                               std::vector<int32_t> eog_tokens,
                                               const EngineOptions& options) {
    const size_t per_block =
        KvCache::block_bytes(model->hp, std::max(options.block_size, 1), options.kv_type);
    const int64_t n_blocks = int64_t(options.kv_mem_bytes / per_block);
    CITADEL_TRY(check_options(*model, options, n_blocks));
    // A sequence may use the whole context, but never more positions than the cache holds.
    int64_t n_ctx = options.n_ctx > 0 ? options.n_ctx : model->hp.n_ctx_train;
    n_ctx = std::min(n_ctx, n_blocks * options.block_size);
    return std::unique_ptr<Engine>(
        new Engine(std::move(model), std::move(eog_tokens), options, n_blocks, n_ctx));
}

Engine::Engine(std::shared_ptr<const Model> model, std::vector<int32_t> eog, const EngineOptions& o,
               int64_t n_blocks, int64_t n_ctx)
    : model_(std::move(model)),
      eog_(std::move(eog)),
      options_(o),
      n_ctx_(n_ctx),
      forward_(*model_, ForwardOptions{.n_threads = o.n_threads,
                                       .kv_blocks = n_blocks,
                                       .block_size = o.block_size,
                                       .kv_type = o.kv_type}),
      kv_(KvManagerConfig{.n_blocks = int32_t(n_blocks),
                          .block_size = o.block_size,
                          .enable_prefix_cache = o.prefix_cache,
                          .model_salt = o.model_id}),
      scheduler_(SchedulerConfig{.max_batch_tokens = o.max_batch_tokens,
                                 .max_seqs = o.max_seqs,
                                 .max_model_len = n_ctx},
                 kv_) {
    counters_.kv_blocks_total = n_blocks;
    counters_.kv_bytes = forward_.kv.bytes();
    counters_.n_ctx = n_ctx;
    published_ = counters_;
    thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

Submitted Engine::submit(GenerationRequest r, EventSink sink) {
    Submitted s;
    s.code = SubmitCode::kInvalid;
    const HParams& hp = model_->hp;
    if (r.prompt.empty()) {
        s.error = "the prompt is empty";
        return s;
    }
    for (int32_t t : r.prompt) {
        if (t < 0 || t >= hp.n_vocab) {
            s.error = "prompt token " + std::to_string(t) + " is out of range (vocabulary size " +
                      std::to_string(hp.n_vocab) + ")";
            return s;
        }
    }
    if (int64_t(r.prompt.size()) >= n_ctx_) {
        s.code = SubmitCode::kContextExceeded;
        s.error = "the prompt has " + std::to_string(r.prompt.size()) +
                  " tokens but the context holds " + std::to_string(n_ctx_) +
                  " (prompt and generated tokens together)";
        return s;
    }
    if (r.max_tokens < 1) {
        s.error = "max_tokens must be at least 1, got " + std::to_string(r.max_tokens);
        return s;
    }
    if (Status v = validate(r.sampling, hp.n_vocab); !v.ok()) {
        s.error = v.message();
        return s;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) {
        s.code = SubmitCode::kShutdown;
        s.error = "the engine is shutting down";
        return s;
    }
    if (queued_ >= options_.max_waiting + size_t(options_.max_seqs)) {
        s.code = SubmitCode::kOverloaded;
        s.error = "the engine's queue is full (" + std::to_string(queued_) + " requests)";
        return s;
    }
    s.code = SubmitCode::kOk;
    s.id = next_id_++;
    ++queued_;
    inbox_.push_back({s.id, std::move(r), std::move(sink)});
    wake_.notify_all();
    return s;
}

void Engine::cancel(uint64_t id) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        cancels_.push_back(id);
    }
    wake_.notify_all();
}

EngineStats Engine::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return published_;
}

void Engine::loop() {
    while (take_commands()) {
        if (!active_.empty()) step();
        publish_stats();
    }
    std::vector<uint64_t> left;
    for (const auto& [id, a] : active_) left.push_back(id);
    for (uint64_t id : left) finish(id, FinishReason::kCancelled);
    publish_stats();
}

// Moves queued submissions and cancellations into the engine; waits while there is nothing
// to do. Returns false once the engine is stopping.
bool Engine::take_commands() {
    std::vector<Pending> inbox;
    std::vector<uint64_t> cancels;
    {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] {
            return stopping_ || !inbox_.empty() || !cancels_.empty() || !active_.empty();
        });
        if (stopping_) return false;
        inbox.swap(inbox_);
        cancels.swap(cancels_);
    }
    for (Pending& p : inbox) admit(std::move(p.request), p.id, std::move(p.sink));
    for (uint64_t id : cancels) {
        if (active_.count(id)) finish(id, FinishReason::kCancelled);
    }
    return true;
}

void Engine::admit(GenerationRequest&& r, uint64_t id, EventSink&& sink) {
    auto a = std::make_unique<Active>(Active{std::move(sink), Sampler(r.sampling), {}});
    a->times.admitted = std::chrono::steady_clock::now();
    a->sampler.set_prompt(r.prompt);
    if (Status s = scheduler_.add(id, r.prompt, r.priority, r.cache_salt); !s.ok()) {
        a->request = std::move(r);
        active_.emplace(id, std::move(a));
        finish(id, FinishReason::kError, -1, s.message());
        return;
    }
    a->request = std::move(r);
    active_.emplace(id, std::move(a));
}

void Engine::step() {
    const StepPlan plan = scheduler_.schedule();
    counters_.kv_blocks_peak = std::max<int64_t>(counters_.kv_blocks_peak,
                                                 counters_.kv_blocks_total - kv_.num_free_blocks());
    if (plan.empty()) return;
    const auto now = std::chrono::steady_clock::now();
    for (const ScheduledSeq& q : plan.seqs) {
        RequestTimes& t = active_.at(q.id)->times;
        if (t.scheduled == std::chrono::steady_clock::time_point{}) t.scheduled = now;
    }
    build_batch(plan);
    if (Status s = forward(*model_, batch_, forward_); !s.ok()) {
        // A bug, not bad input (requests were validated): fail the step's requests loudly.
        for (const ScheduledSeq& q : plan.seqs) {
            if (active_.count(q.id)) finish(q.id, FinishReason::kError, -1, s.message());
        }
        return;
    }
    ++counters_.steps;
    counters_.computed_tokens += plan.n_tokens;
    sample(plan);
}

void Engine::build_batch(const StepPlan& plan) {
    batch_.tokens.clear();
    batch_.positions.clear();
    batch_.seq_ids.clear();
    batch_.want_logits.clear();
    batch_.prompt_arithmetic.clear();
    batch_.block_tables.resize(plan.seqs.size());
    for (size_t i = 0; i < plan.seqs.size(); ++i) {
        const ScheduledSeq& q = plan.seqs[i];
        const std::vector<int32_t>& tokens = scheduler_.tokens(q.id);
        // Prompt tokens always take the prompt arithmetic and generated ones the decode
        // arithmetic, however the scheduler chunks, caches or recomputes them.
        const int64_t n_prompt = int64_t(active_.at(q.id)->request.prompt.size());
        for (int64_t p = q.start; p < q.start + q.n_tokens; ++p) {
            batch_.add(tokens[size_t(p)], int32_t(p), int32_t(i),
                       q.sample && p == q.start + q.n_tokens - 1);
            batch_.prompt_arithmetic.push_back(p < n_prompt ? 1 : 0);
        }
        batch_.block_tables[i] = scheduler_.block_table(q.id);
    }
}

bool Engine::stops(const Active& a, int32_t token) const {
    const auto& extra = a.request.stop_tokens;
    if (std::find(extra.begin(), extra.end(), token) != extra.end()) return true;
    const bool eos_stops = !a.request.ignore_eos || a.request.constraint != nullptr;
    return eos_stops && std::find(eog_.begin(), eog_.end(), token) != eog_.end();
}

// Copies the row into masked_ and lets the request's constraint forbid what may not come
// next. `remaining` counts this token: what max_tokens and the context still allow.
const float* Engine::constrain(Active& a, uint64_t id, const float* logits, int64_t n_vocab) {
    masked_.assign(logits, logits + n_vocab);
    const int64_t room = n_ctx_ - int64_t(scheduler_.tokens(id).size());
    const int64_t remaining = std::min(a.request.max_tokens - a.generated, room);
    a.request.constraint->mask(masked_.data(), n_vocab, remaining);
    return masked_.data();
}

// Samples one token for every sequence that reached the end of its tokens this step.
void Engine::sample(const StepPlan& plan) {
    const int64_t n_vocab = model_->hp.n_vocab;
    int64_t row = 0;
    for (const ScheduledSeq& q : plan.seqs) {
        if (!q.sample) continue;
        const float* logits = &forward_.logits[size_t(row++ * n_vocab)];
        Active& a = *active_.at(q.id);
        if (a.cached_tokens < 0) a.cached_tokens = scheduler_.num_cached_tokens(q.id);
        // A complete structure ends the reply with the token sampled next (the mask leaves
        // only end-of-generation ids then), whatever the engine's own EOG list says.
        TokenConstraint* constraint = a.request.constraint.get();
        const bool closed = constraint && constraint->complete();
        if (constraint) logits = constrain(a, q.id, logits, n_vocab);
        SampleResult r = a.sampler.sample_full(logits, n_vocab);
        if (constraint) constraint->accept(r.token);
        if (++a.generated == 1) a.times.first_token = std::chrono::steady_clock::now();
        ++counters_.generated_tokens;
        if (closed || stops(a, r.token)) {
            finish(q.id, FinishReason::kStop, r.token);
            continue;
        }
        a.sink(EngineEvent{.kind = EngineEvent::Kind::kToken,
                           .request_id = q.id,
                           .token = r.token,
                           .logprob = r.logprob,
                           .top = std::move(r.top)});
        const int64_t len = int64_t(scheduler_.tokens(q.id).size()) + 1;
        if (a.generated >= a.request.max_tokens || len >= n_ctx_) {
            finish(q.id, FinishReason::kLength);
            continue;
        }
        if (!scheduler_.append_token(q.id, r.token)) finish(q.id, FinishReason::kLength);
    }
}

void Engine::finish(uint64_t id, FinishReason reason, int32_t stop_token, std::string error) {
    auto it = active_.find(id);
    if (it == active_.end()) return;
    Active& a = *it->second;
    EngineEvent e{.kind = EngineEvent::Kind::kFinished,
                  .request_id = id,
                  .reason = reason,
                  .stop_token = stop_token,
                  .error = std::move(error)};
    e.usage.prompt_tokens = int64_t(a.request.prompt.size());
    e.usage.completion_tokens = a.generated;
    e.usage.cached_tokens = std::max<int64_t>(a.cached_tokens, 0);
    e.times = a.times;
    counters_.prompt_tokens += e.usage.prompt_tokens;
    if (scheduler_.contains(id)) scheduler_.finish(id);
    EventSink sink = std::move(a.sink);
    active_.erase(it);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        --queued_;
    }
    sink(std::move(e));
}

void Engine::publish_stats() {
    counters_.running = int(scheduler_.num_running());
    counters_.waiting = int(scheduler_.num_waiting());
    counters_.kv_blocks_used = counters_.kv_blocks_total - kv_.num_free_blocks();
    counters_.prefix_queried_tokens = kv_.prefix_query_tokens();
    counters_.preemptions = scheduler_.num_preemptions();
    counters_.prefix_hit_tokens = kv_.prefix_hit_tokens();
    std::lock_guard<std::mutex> lock(mutex_);
    published_ = counters_;
}

}  // namespace citadel
