// The models one `citadel serve` process offers, and when each is in memory. Pinned models
// load on a background thread at start (the server answers /health at once and /ready once
// they are loaded) and stay. On-demand models load on their first request (which waits, in a
// bounded queue) and unload after `idle_unload_ms` without requests. A memory budget across
// models (file size + KV arena each) evicts the least recently used idle unpinned model when
// a new one would not fit. A loaded model owns its engine; requests share it through a
// shared_ptr, and a model is idle when nobody but the registry holds it.
//
// Threads: every method is thread-safe. One loader thread loads, evicts and unloads; the
// callbacks of acquire() run on the caller's thread (model ready, unknown or failed) or on
// the loader thread (after a load).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/constraint/token_constraint.h"
#include "engine/engine.h"
#include "model/model.h"
#include "ops/metrics.h"
#include "text/template/chat_template.h"
#include "text/tokenizer.h"

namespace citadel::ops {

struct ModelSpec {
    std::string name;  // the id clients ask for
    std::string path;  // GGUF file
    // Where the file comes from when `path` is not there yet (hf://, https://, s3://): it is
    // downloaded (resumed, checksummed) into `path` by the load, before the model loads.
    std::string source;
    std::string sha256;              // expected digest of the download (hex); empty: the server's
    std::string s3_endpoint;         // for s3:// sources
    std::string chat_template_file;  // empty: the model's own (ChatML if it has none)
    bool on_demand = false;          // loaded on first use (else pinned: loaded at start, kept)
    int64_t idle_unload_ms = 0;      // on-demand models: unloaded after this idle (0: never)
    // Overrides of the server-wide engine options for this model (0: the server's).
    int64_t n_ctx = 0;        // context per sequence
    size_t kv_mem_bytes = 0;  // KV arena
    int max_seqs = 0;         // sequences per engine step
};

// The engine options `spec` runs with: the server's, with the model's overrides.
EngineOptions engine_options_for(const ModelSpec& spec, const EngineOptions& server);

struct RegistryOptions {
    size_t memory_budget = 0;  // bytes for all loaded models (file + KV arena); 0: no limit
    size_t max_waiting = 64;   // requests waiting for one model's load; more get 503
    // How long a load waits for the models in the way to finish their requests (they are
    // evicted as soon as they are idle) before its requests get 503.
    int64_t room_wait_ms = 30000;
};

enum class ModelState { kUnloaded, kLoading, kReady, kFailed };
const char* model_state_name(ModelState s);

// A model ready to serve: weights, tokenizer, chat template, and its engine.
struct LoadedModel {
    std::string name;
    std::string path;
    std::shared_ptr<const Model> model;
    std::shared_ptr<const text::Tokenizer> tokenizer;
    std::shared_ptr<const jinja::ChatTemplate> chat_template;
    std::string template_source;
    bool template_fallback = false;  // the model had no template: ChatML
    std::unique_ptr<Engine> engine;
    std::shared_ptr<const VocabBytes> vocab_bytes;  // for constrained replies (JSON, tool calls)
    int64_t created_unix = 0;                       // file modification time
    uint64_t file_bytes = 0;
    double load_seconds = 0;
    Metrics* metrics = nullptr;  // where its requests are counted (null: nowhere)
};

class ModelRegistry {
  public:
    // `engine` applies to every model (model_id is set per model). `metrics` (may be null)
    // is handed to every loaded model; it must outlive the registry.
    ModelRegistry(std::vector<ModelSpec> specs, EngineOptions engine, RegistryOptions options = {},
                  Metrics* metrics = nullptr);
    ~ModelRegistry();  // shutdown()
    ModelRegistry(const ModelRegistry&) = delete;
    ModelRegistry& operator=(const ModelRegistry&) = delete;

    void start_loading();  // starts the loader; it loads the pinned models in order
    void wait_loaded();    // until every pinned model is ready or failed (or shutdown)

    // The model, loaded: `done(model, 200, "")` at once when it is ready, after its load when
    // it is not (the load starts if needed), or `done(nullptr, status, message)`: 404 not
    // configured, 503 failed to load / too many waiting / no room in the memory budget.
    using Acquired = std::function<void(std::shared_ptr<LoadedModel>, int, std::string)>;
    void acquire(const std::string& name, Acquired done);
    // Operators: start loading `name` (no-op when loaded or loading); unload it now (an error
    // when requests are using it or it is not loaded).
    Status load(const std::string& name);
    Status unload(const std::string& name);

    struct Entry {
        std::string name;
        ModelState state = ModelState::kUnloaded;
        std::string error;                    // kFailed
        std::shared_ptr<LoadedModel> loaded;  // kReady
        bool on_demand = false;
        int64_t last_used_ms = 0;  // steady clock ms of the last acquire
    };
    std::optional<Entry> find(const std::string& name) const;  // nullopt: not configured
    std::vector<Entry> list() const;                           // in configuration order
    bool all_ready() const;                                    // every pinned model is ready
    bool any_failed() const;                                   // a pinned model failed

    // Stops the engines (their requests finish as cancelled) and the loader.
    void shutdown();

  private:
    void run_loader();
    void load_one(size_t index);
    bool make_room(size_t index, std::vector<std::shared_ptr<LoadedModel>>& evicted);
    bool wait_for_room(size_t index, std::vector<std::shared_ptr<LoadedModel>>& evicted);
    void unload_idle(std::vector<std::shared_ptr<LoadedModel>>& out);
    size_t estimate(size_t index) const;
    std::optional<size_t> index_of(const std::string& name) const;
    void queue_load_locked(size_t index);

    std::vector<ModelSpec> specs_;
    EngineOptions engine_options_;
    RegistryOptions options_;
    Metrics* metrics_;
    mutable std::mutex mutex_;
    std::vector<Entry> entries_;
    std::vector<std::vector<Acquired>> waiters_;  // per entry, while it loads
    std::vector<size_t> load_queue_;
    std::condition_variable work_cv_;
    std::condition_variable loaded_cv_;
    bool pinned_done_ = false;
    std::thread loader_;
    std::atomic<bool> stopping_{false};
};

// Loads one model with its tokenizer, chat template and engine (used by the registry).
Result<std::shared_ptr<LoadedModel>> load_model_for_serving(const ModelSpec& spec,
                                                            const EngineOptions& engine);

}  // namespace citadel::ops
