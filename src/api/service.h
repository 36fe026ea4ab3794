// The HTTP API of `citadel serve`: routes each request to its handler (OpenAI, Ollama,
// tokenizer utilities, health), parses the body into internal structs, and hands generation
// to the model's engine through a GenerationJob. Handlers run on I/O threads and never block.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/errors.h"
#include "ops/model_registry.h"
#include "server/http_server.h"

namespace citadel::api {

struct ServiceOptions {
    std::string version = "0.1.0";
};

class Service {
  public:
    Service(ops::ModelRegistry& models, ServiceOptions options);

    void handle(server::Request&& req, std::shared_ptr<server::Responder> res);

  private:
    using Res = std::shared_ptr<server::Responder>;
    using Route = void (Service::*)(const server::Request&, const Res&);

    // Generation.
    void chat(const server::Request& req, const Res& res);
    void completions(const server::Request& req, const Res& res);
    void ollama_chat(const server::Request& req, const Res& res);
    void ollama_generate(const server::Request& req, const Res& res);
    // Information and utilities.
    void health(const server::Request& req, const Res& res);
    void ready(const server::Request& req, const Res& res);
    void list_models(const server::Request& req, const Res& res);
    void get_model(const server::Request& req, const Res& res);
    void tokenize(const server::Request& req, const Res& res);
    void detokenize(const server::Request& req, const Res& res);
    void ollama_tags(const server::Request& req, const Res& res);
    void ollama_show(const server::Request& req, const Res& res);
    void ollama_version(const server::Request& req, const Res& res);

    // The ready model called `name` (the only one when `name` is empty and one is
    // configured), or the error to answer: 404 unknown, 503 still loading or failed.
    std::variant<std::shared_ptr<ops::LoadedModel>, ApiError> resolve(
        const std::string& name) const;

    ops::ModelRegistry& models_;
    ServiceOptions options_;
};

// "chatcmpl-" + 24 random alphanumerics.
std::string make_id(const char* prefix);

}  // namespace citadel::api
