// The models one `citadel serve` process offers: each configured model is loaded on a
// background thread (the server answers /health at once and /ready once all are loaded), and
// then owns its engine. Lookups are thread-safe; a loaded model is shared by the requests
// that use it and lives until the registry is shut down.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
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
    std::string name;                // the id clients ask for
    std::string path;                // GGUF file
    std::string chat_template_file;  // empty: the model's own (ChatML if it has none)
};

enum class ModelState { kLoading, kReady, kFailed };
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
    ModelRegistry(std::vector<ModelSpec> specs, EngineOptions engine, Metrics* metrics = nullptr);
    ~ModelRegistry();  // shutdown()
    ModelRegistry(const ModelRegistry&) = delete;
    ModelRegistry& operator=(const ModelRegistry&) = delete;

    void start_loading();  // loads every model in order on a background thread
    void wait_loaded();    // until every model is ready or failed (or shutdown)

    struct Entry {
        std::string name;
        ModelState state = ModelState::kLoading;
        std::string error;                    // kFailed
        std::shared_ptr<LoadedModel> loaded;  // kReady
    };
    std::optional<Entry> find(const std::string& name) const;  // nullopt: not configured
    std::vector<Entry> list() const;                           // in configuration order
    bool all_ready() const;
    bool any_failed() const;

    // Stops the engines (their requests finish as cancelled) and the loader.
    void shutdown();

  private:
    void load_one(size_t index);

    std::vector<ModelSpec> specs_;
    EngineOptions engine_options_;
    Metrics* metrics_;
    mutable std::mutex mutex_;
    std::vector<Entry> entries_;
    std::condition_variable loaded_cv_;
    bool loading_done_ = false;
    std::thread loader_;
    std::atomic<bool> stopping_{false};
};

// Loads one model with its tokenizer, chat template and engine (used by the registry).
Result<std::shared_ptr<LoadedModel>> load_model_for_serving(const ModelSpec& spec,
                                                            const EngineOptions& engine);

}  // namespace citadel::ops
