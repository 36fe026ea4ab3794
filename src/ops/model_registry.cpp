#include "ops/model_registry.h"

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "core/log.h"
#include "ops/downloader.h"
#include "text/template/chat_template_source.h"

namespace citadel::ops {

const char* model_state_name(ModelState s) {
    switch (s) {
        case ModelState::kUnloaded:
            return "unloaded";
        case ModelState::kLoading:
            return "loading";
        case ModelState::kReady:
            return "ready";
        case ModelState::kFailed:
            return "failed";
    }
    return "unknown";
}

namespace {

Result<jinja::ChatTemplateSource> template_source(const ModelSpec& spec) {
    if (!spec.chat_template_file.empty()) return jinja::load_template_file(spec.chat_template_file);
    return jinja::load_template_from_gguf(spec.path);
}

}  // namespace

EngineOptions engine_options_for(const ModelSpec& spec, const EngineOptions& server) {
    EngineOptions o = server;
    if (spec.n_ctx > 0) o.n_ctx = spec.n_ctx;
    if (spec.kv_mem_bytes > 0) o.kv_mem_bytes = spec.kv_mem_bytes;
    if (spec.max_seqs > 0) o.max_seqs = spec.max_seqs;
    o.model_id = spec.name + "@" + spec.path;
    return o;
}

// Downloads `spec.source` into `spec.path` unless the file is there (logs progress by tenths).
Status fetch_if_missing(const ModelSpec& spec) {
    if (spec.source.empty() || std::filesystem::exists(spec.path)) return ok_status();
    const std::filesystem::path target(spec.path);
    std::error_code ec;
    std::filesystem::create_directories(target.parent_path(), ec);
    DownloadOptions o;
    o.dir = target.parent_path().string();
    o.name = target.filename().string();
    o.sha256 = spec.sha256;
    o.s3_endpoint = spec.s3_endpoint;
    if (const char* t = std::getenv("HF_TOKEN")) o.bearer_token = t;
    int logged = -1;
    o.progress = [&](uint64_t done, uint64_t total) {
        const int tenth = total > 0 ? int(done * 10 / total) : -1;
        if (tenth <= logged) return;
        logged = tenth;
        CITADEL_LOG_INFO("model '%s': downloading %s: %d%%", spec.name.c_str(), spec.source.c_str(),
                         tenth * 10);
    };
    CITADEL_LOG_INFO("model '%s': downloading %s into %s", spec.name.c_str(), spec.source.c_str(),
                     spec.path.c_str());
    Result<DownloadResult> r = download(spec.source, o);
    if (!r) return Status::error("model '" + spec.name + "': download failed: " + r.error());
    return ok_status();
}

Result<std::shared_ptr<LoadedModel>> load_model_for_serving(const ModelSpec& spec,
                                                            const EngineOptions& engine) {
    const auto t0 = std::chrono::steady_clock::now();
    CITADEL_TRY(fetch_if_missing(spec));
    auto m = std::make_shared<LoadedModel>();
    m->name = spec.name;
    m->path = spec.path;
    Result<std::shared_ptr<const Model>> model = load_model(spec.path);
    if (!model) return model.status();
    m->model = *model;
    Result<std::shared_ptr<const text::Tokenizer>> tok = text::load_tokenizer(*m->model->file);
    if (!tok) return Status::error(spec.path + ": " + tok.error());
    m->tokenizer = *tok;
    Result<jinja::ChatTemplateSource> src = template_source(spec);
    if (!src) return src.status();
    Result<jinja::ChatTemplate> tpl = jinja::ChatTemplate::create(
        src->source, {.bos_token = src->bos_token, .eos_token = src->eos_token});
    if (!tpl) return Status::error(src->origin + ": " + tpl.error());
    if (src->fallback)
        CITADEL_LOG_WARN("model '%s' has no chat template; chat requests use ChatML",
                         spec.name.c_str());
    m->chat_template = std::make_shared<const jinja::ChatTemplate>(std::move(*tpl));
    m->template_source = src->source;
    m->template_fallback = src->fallback;

    m->vocab_bytes = VocabBytes::build(*m->tokenizer);

    const EngineOptions options = engine_options_for(spec, engine);
    Result<std::unique_ptr<Engine>> e =
        Engine::create(m->model, m->tokenizer->end_of_generation(), options);
    if (!e) return Status::error(spec.name + ": " + e.error());
    m->engine = std::move(*e);

    struct stat st {};
    if (::stat(spec.path.c_str(), &st) == 0) {
        m->created_unix = int64_t(st.st_mtime);
        m->file_bytes = uint64_t(st.st_size);
    }
    m->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return m;
}

namespace {

int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

uint64_t file_size(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

std::string mib(size_t bytes) {
    return std::to_string(bytes >> 20) + " MiB";
}

}  // namespace

ModelRegistry::ModelRegistry(std::vector<ModelSpec> specs, EngineOptions engine,
                             RegistryOptions options, Metrics* metrics)
    : specs_(std::move(specs)),
      engine_options_(std::move(engine)),
      options_(options),
      metrics_(metrics) {
    for (const ModelSpec& s : specs_)
        entries_.push_back(Entry{.name = s.name, .on_demand = s.on_demand});
    waiters_.resize(specs_.size());
}

ModelRegistry::~ModelRegistry() {
    shutdown();
}

void ModelRegistry::start_loading() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (size_t i = 0; i < specs_.size(); ++i) {
            if (!specs_[i].on_demand) queue_load_locked(i);
        }
        if (load_queue_.empty()) pinned_done_ = true;
    }
    loader_ = std::thread([this] { run_loader(); });
}

void ModelRegistry::wait_loaded() {
    std::unique_lock<std::mutex> lock(mutex_);
    loaded_cv_.wait(lock, [&] { return pinned_done_; });
}

size_t ModelRegistry::estimate(size_t index) const {
    return size_t(file_size(specs_[index].path)) +
           engine_options_for(specs_[index], engine_options_).kv_mem_bytes;
}

std::optional<size_t> ModelRegistry::index_of(const std::string& name) const {
    for (size_t i = 0; i < entries_.size(); ++i) {
        if (entries_[i].name == name) return i;
    }
    return std::nullopt;
}

void ModelRegistry::queue_load_locked(size_t index) {
    Entry& e = entries_[index];
    if (e.state == ModelState::kLoading || e.state == ModelState::kReady) return;
    e.state = ModelState::kLoading;
    e.error.clear();
    load_queue_.push_back(index);
    work_cv_.notify_all();
}

void ModelRegistry::acquire(const std::string& name, Acquired done) {
    std::shared_ptr<LoadedModel> ready;
    int status = 200;
    std::string error;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const std::optional<size_t> i = index_of(name);
        if (!i) {
            status = 404;
            error = "The model '" + name + "' does not exist";
        } else {
            Entry& e = entries_[*i];
            e.last_used_ms = steady_ms();
            if (e.state == ModelState::kReady) {
                ready = e.loaded;
            } else if (e.state == ModelState::kFailed && !e.on_demand) {
                status = 503;
                error = "model '" + name + "' failed to load: " + e.error;
            } else if (stopping_ || waiters_[*i].size() >= options_.max_waiting) {
                status = 503;
                error = stopping_ ? "the server is shutting down"
                                  : "too many requests are waiting for model '" + name +
                                        "' to load; retry shortly";
            } else {
                waiters_[*i].push_back(std::move(done));
                queue_load_locked(*i);
                return;
            }
        }
    }
    done(std::move(ready), status, std::move(error));
}

Status ModelRegistry::load(const std::string& name) {
    std::lock_guard<std::mutex> lock(mutex_);
    const std::optional<size_t> i = index_of(name);
    if (!i) return Status::error("no model '" + name + "'");
    entries_[*i].last_used_ms = steady_ms();
    queue_load_locked(*i);
    return ok_status();
}

Status ModelRegistry::unload(const std::string& name) {
    std::shared_ptr<LoadedModel> gone;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        const std::optional<size_t> i = index_of(name);
        if (!i) return Status::error("no model '" + name + "'");
        Entry& e = entries_[*i];
        if (e.state != ModelState::kReady)
            return Status::error("model '" + name + "' is not loaded");
        if (e.loaded.use_count() > 1)
            return Status::error("model '" + name + "' is serving requests; try again when idle");
        gone = std::move(e.loaded);
        e.state = ModelState::kUnloaded;
    }
    CITADEL_LOG_INFO("model '%s' unloaded (operator)", name.c_str());
    gone->engine.reset();
    return ok_status();
}

// Evicts least recently used idle models (on-demand first, never pinned ones) until model
// `index` fits the budget. False when it cannot fit now. mutex_ held.
bool ModelRegistry::make_room(size_t index, std::vector<std::shared_ptr<LoadedModel>>& evicted) {
    if (options_.memory_budget == 0) return true;
    const size_t need = estimate(index);
    for (;;) {
        size_t used = 0;
        for (size_t j = 0; j < entries_.size(); ++j) {
            if (entries_[j].state == ModelState::kReady) used += estimate(j);
        }
        if (used + need <= options_.memory_budget) return true;
        std::optional<size_t> victim;
        for (size_t j = 0; j < entries_.size(); ++j) {
            const Entry& e = entries_[j];
            if (j == index || e.state != ModelState::kReady || !e.on_demand) continue;
            if (e.loaded.use_count() > 1) continue;  // serving requests
            if (!victim || e.last_used_ms < entries_[*victim].last_used_ms) victim = j;
        }
        if (!victim) return false;
        Entry& v = entries_[*victim];
        CITADEL_LOG_INFO("model '%s' unloaded to make room for '%s' (budget %s)", v.name.c_str(),
                         entries_[index].name.c_str(), mib(options_.memory_budget).c_str());
        evicted.push_back(std::move(v.loaded));
        v.state = ModelState::kUnloaded;
    }
}

// make_room(), retried while the models in the way finish their requests (a reply reaches
// its client a moment before the request lets go of its model), up to room_wait_ms.
bool ModelRegistry::wait_for_room(size_t index,
                                  std::vector<std::shared_ptr<LoadedModel>>& evicted) {
    const int64_t deadline = steady_ms() + options_.room_wait_ms;
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        if (make_room(index, evicted)) return true;
        if (stopping_ || steady_ms() >= deadline) return false;
        work_cv_.wait_for(lock, std::chrono::milliseconds(20));
    }
}

// On-demand models idle for longer than their idle_unload_ms. mutex_ held.
void ModelRegistry::unload_idle(std::vector<std::shared_ptr<LoadedModel>>& out) {
    const int64_t now = steady_ms();
    for (size_t j = 0; j < entries_.size(); ++j) {
        Entry& e = entries_[j];
        const int64_t idle = specs_[j].idle_unload_ms;
        if (!e.on_demand || idle <= 0 || e.state != ModelState::kReady) continue;
        if (e.loaded.use_count() > 1 || now - e.last_used_ms < idle) continue;
        CITADEL_LOG_INFO("model '%s' unloaded after %lld ms idle", e.name.c_str(),
                         static_cast<long long>(now - e.last_used_ms));
        out.push_back(std::move(e.loaded));
        e.state = ModelState::kUnloaded;
    }
}

void ModelRegistry::run_loader() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        std::vector<std::shared_ptr<LoadedModel>> unloaded;
        unload_idle(unloaded);
        if (load_queue_.empty()) {
            if (!unloaded.empty()) {
                lock.unlock();
                for (auto& m : unloaded) m->engine.reset();  // engines stop off the lock
                unloaded.clear();
                lock.lock();
                continue;
            }
            work_cv_.wait_for(lock, std::chrono::milliseconds(200));
            continue;
        }
        const size_t index = load_queue_.front();
        load_queue_.erase(load_queue_.begin());
        lock.unlock();
        for (auto& m : unloaded) m->engine.reset();
        unloaded.clear();
        load_one(index);
        lock.lock();
        bool pinned_pending = false;
        for (size_t j = 0; j < entries_.size(); ++j)
            pinned_pending |= !specs_[j].on_demand && entries_[j].state == ModelState::kLoading;
        if (!pinned_pending && !pinned_done_) {
            pinned_done_ = true;
            loaded_cv_.notify_all();
        }
    }
}

void ModelRegistry::load_one(size_t index) {
    const ModelSpec& spec = specs_[index];
    std::vector<std::shared_ptr<LoadedModel>> evicted;
    const bool fits = wait_for_room(index, evicted);
    for (auto& m : evicted) m->engine.reset();
    Result<std::shared_ptr<LoadedModel>> m =
        Status::error("no room in the memory budget (" + mib(options_.memory_budget) +
                      ") while the loaded models serve requests; retry shortly");
    if (fits) {
        CITADEL_LOG_INFO("loading model '%s' from %s", spec.name.c_str(), spec.path.c_str());
        m = load_model_for_serving(spec, engine_options_);
    }
    std::vector<Acquired> waiters;
    std::shared_ptr<LoadedModel> ready;
    std::string error;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        Entry& e = entries_[index];
        waiters.swap(waiters_[index]);
        if (!m) {
            // An on-demand model that failed may be tried again by a later request.
            e.state = fits ? ModelState::kFailed : ModelState::kUnloaded;
            e.error = m.error();
            error = fits ? "model '" + spec.name + "' failed to load: " + m.error() : m.error();
            CITADEL_LOG_WARN("model '%s' not loaded: %s", spec.name.c_str(), m.error().c_str());
        } else {
            e.loaded = std::move(*m);
            e.loaded->metrics = metrics_;
            e.state = ModelState::kReady;
            e.last_used_ms = steady_ms();
            ready = e.loaded;
            CITADEL_LOG_INFO("model '%s' ready (%.2f s, context %lld)", spec.name.c_str(),
                             ready->load_seconds, static_cast<long long>(ready->engine->n_ctx()));
        }
    }
    for (Acquired& w : waiters) w(ready, ready ? 200 : 503, error);
}

std::optional<ModelRegistry::Entry> ModelRegistry::find(const std::string& name) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Entry& e : entries_) {
        if (e.name == name) return e;
    }
    return std::nullopt;
}

std::vector<ModelRegistry::Entry> ModelRegistry::list() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_;
}

bool ModelRegistry::all_ready() const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Entry& e : entries_) {
        if (!e.on_demand && e.state != ModelState::kReady) return false;
    }
    return true;
}

bool ModelRegistry::any_failed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Entry& e : entries_) {
        if (!e.on_demand && e.state == ModelState::kFailed) return true;
    }
    return false;
}

void ModelRegistry::shutdown() {
    std::vector<std::vector<Acquired>> waiting;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        work_cv_.notify_all();
    }
    if (loader_.joinable()) loader_.join();
    std::vector<std::shared_ptr<LoadedModel>> models;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        pinned_done_ = true;
        loaded_cv_.notify_all();
        waiting.swap(waiters_);
        waiters_.resize(entries_.size());
        for (Entry& e : entries_) {
            if (e.loaded) models.push_back(e.loaded);
        }
    }
    for (auto& list : waiting) {
        for (Acquired& w : list) w(nullptr, 503, "the server is shutting down");
    }
    // Engines stop here (their remaining requests finish as cancelled); the models themselves
    // live on while a request still holds them.
    for (auto& m : models) m->engine.reset();
}

}  // namespace citadel::ops
