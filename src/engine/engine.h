// The serving engine: continuous batching of many generation requests over one model.
// One engine thread owns all mutable state (scheduler, paged KV cache, samplers, the forward
// pass's scratch); callers talk to it only through submit() and cancel(), which queue a
// command, and through each request's EventSink, which the engine thread calls.
//
// Each step: the scheduler picks which sequences advance by how many tokens within the token
// budget (new prompts in chunks, running sequences by one); the model runs one batched
// forward pass over all of them; each sequence that reached the end of its tokens samples one
// with its own sampler, and its event goes out.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "engine/kv/kv_manager.h"
#include "engine/request.h"
#include "engine/scheduler.h"
#include "model/forward.h"

namespace citadel {

struct EngineOptions {
    int n_threads = 0;                      // compute threads; 0: one per core
    size_t kv_mem_bytes = size_t(1) << 30;  // KV arena (all blocks), allocated at start
    KvType kv_type = KvType::kF16;
    int block_size = 16;
    int64_t max_batch_tokens = 512;  // tokens per step (the token budget)
    int max_seqs = 16;               // sequences per step
    int64_t n_ctx = 0;               // positions per sequence; 0: the model's training context
    bool prefix_cache = true;
    size_t max_waiting = 1024;  // queued requests beyond which submit() answers kOverloaded
    std::string model_id;       // keys the prefix cache (two models never share blocks)
};

enum class SubmitCode { kOk, kInvalid, kContextExceeded, kOverloaded, kShutdown };

struct Submitted {
    uint64_t id = 0;
    SubmitCode code = SubmitCode::kOk;
    std::string error;  // names the problem when code != kOk
    bool ok() const { return code == SubmitCode::kOk; }
};

struct EngineStats {
    int running = 0;
    int waiting = 0;
    int64_t kv_blocks_total = 0;
    int64_t kv_blocks_used = 0;
    int64_t kv_blocks_peak = 0;  // most blocks in use at once since start
    size_t kv_bytes = 0;
    int64_t n_ctx = 0;
    int64_t prefix_queried_tokens = 0;  // prompt tokens looked up in the prefix cache
    int64_t prefix_hit_tokens = 0;      // ... of which were found
    int64_t preemptions = 0;
    int64_t steps = 0;
    int64_t prompt_tokens = 0;    // prompt tokens of finished and running requests
    int64_t computed_tokens = 0;  // tokens run through the model (prompts, recomputation)
    int64_t generated_tokens = 0;
};

class Engine {
  public:
    // Allocates the KV arena and starts the engine thread. `eog_tokens` are the model's
    // end-of-generation ids (requests stop on them unless ignore_eos).
    static Result<std::unique_ptr<Engine>> create(std::shared_ptr<const Model> model,
                                                  std::vector<int32_t> eog_tokens,
                                                  const EngineOptions& options);
    ~Engine();  // cancels what is left (each gets its finish event) and joins the thread
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Validates and queues a request; its events go to `sink`. Never blocks on the engine.
    Submitted submit(GenerationRequest request, EventSink sink);
    // Finishes a request (reason kCancelled) and frees its KV blocks within one step.
    // Unknown or already finished ids are ignored.
    void cancel(uint64_t id);

    EngineStats stats() const;
    int64_t n_ctx() const { return n_ctx_; }
    const Model& model() const { return *model_; }

  private:
    struct Active;  // a request inside the engine thread

    Engine(std::shared_ptr<const Model> model, std::vector<int32_t> eog,
           const EngineOptions& options, int64_t n_blocks, int64_t n_ctx);
    void loop();
    bool take_commands();  // false when stopping
    void admit(GenerationRequest&& r, uint64_t id, EventSink&& sink);
    void step();
    void build_batch(const StepPlan& plan);
    void sample(const StepPlan& plan);
    const float* constrain(Active& a, uint64_t id, const float* logits, int64_t n_vocab);
    void finish(uint64_t id, FinishReason reason, int32_t stop_token = -1, std::string error = {});
    bool stops(const Active& a, int32_t token) const;
    void publish_stats();

    std::shared_ptr<const Model> model_;
    std::vector<int32_t> eog_;
    EngineOptions options_;
    int64_t n_ctx_;

    // Engine-thread state.
    ForwardState forward_;
    KvManager kv_;
    Scheduler scheduler_;
    std::unordered_map<uint64_t, std::unique_ptr<Active>> active_;
    Batch batch_;
    std::vector<float> masked_;  // [n_vocab] a constrained request's logits row, masked
    EngineStats counters_;

    // Shared with callers (guarded by mutex_).
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    struct Pending {
        uint64_t id;
        GenerationRequest request;
        EventSink sink;
    };
    std::vector<Pending> inbox_;
    std::vector<uint64_t> cancels_;
    size_t queued_ = 0;  // submitted and not yet finished
    uint64_t next_id_ = 1;
    bool stopping_ = false;
    EngineStats published_;

    std::thread thread_;
};

}  // namespace citadel
