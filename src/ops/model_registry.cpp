#include "ops/model_registry.h"

#include <sys/stat.h>

#include <chrono>

#include "core/log.h"
#include "text/template/chat_template_source.h"

namespace citadel::ops {

const char* model_state_name(ModelState s) {
    switch (s) {
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

Result<std::shared_ptr<LoadedModel>> load_model_for_serving(const ModelSpec& spec,
                                                            const EngineOptions& engine) {
    const auto t0 = std::chrono::steady_clock::now();
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

    EngineOptions options = engine;
    options.model_id = spec.name + "@" + spec.path;
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

ModelRegistry::ModelRegistry(std::vector<ModelSpec> specs, EngineOptions engine, Metrics* metrics)
    : specs_(std::move(specs)), engine_options_(std::move(engine)), metrics_(metrics) {
    for (const ModelSpec& s : specs_) entries_.push_back(Entry{.name = s.name});
}

ModelRegistry::~ModelRegistry() {
    shutdown();
}

void ModelRegistry::start_loading() {
    loader_ = std::thread([this] {
        for (size_t i = 0; i < specs_.size() && !stopping_; ++i) load_one(i);
        std::lock_guard<std::mutex> lock(mutex_);
        loading_done_ = true;
        loaded_cv_.notify_all();
    });
}

void ModelRegistry::wait_loaded() {
    std::unique_lock<std::mutex> lock(mutex_);
    loaded_cv_.wait(lock, [&] { return loading_done_; });
}

void ModelRegistry::load_one(size_t index) {
    const ModelSpec& spec = specs_[index];
    CITADEL_LOG_INFO("loading model '%s' from %s", spec.name.c_str(), spec.path.c_str());
    Result<std::shared_ptr<LoadedModel>> m = load_model_for_serving(spec, engine_options_);
    std::lock_guard<std::mutex> lock(mutex_);
    Entry& e = entries_[index];
    if (!m) {
        e.state = ModelState::kFailed;
        e.error = m.error();
        CITADEL_LOG_WARN("model '%s' failed to load: %s", spec.name.c_str(), e.error.c_str());
        return;
    }
    e.loaded = std::move(*m);
    e.loaded->metrics = metrics_;
    e.state = ModelState::kReady;
    CITADEL_LOG_INFO("model '%s' ready (%.2f s, context %lld)", spec.name.c_str(),
                     e.loaded->load_seconds, static_cast<long long>(e.loaded->engine->n_ctx()));
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
        if (e.state != ModelState::kReady) return false;
    }
    return true;
}

bool ModelRegistry::any_failed() const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const Entry& e : entries_) {
        if (e.state == ModelState::kFailed) return true;
    }
    return false;
}

void ModelRegistry::shutdown() {
    stopping_ = true;
    if (loader_.joinable()) loader_.join();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        loading_done_ = true;
        loaded_cv_.notify_all();
    }
    std::vector<std::shared_ptr<LoadedModel>> models;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (Entry& e : entries_) {
            if (e.loaded) models.push_back(e.loaded);
        }
    }
    // Engines stop here (their remaining requests finish as cancelled); the models themselves
    // live on while a request still holds them.
    for (auto& m : models) m->engine.reset();
}

}  // namespace citadel::ops
