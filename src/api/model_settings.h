// Per-model settings of the API layer, from the config's `models` entries: other names
// clients may use for a model (`aliases`), and sampling defaults (`sampling`) that apply
// when a request leaves a parameter out, for local, upstream and routed models alike.
//
// Applied to the request body before anything else reads it: an alias becomes the model's
// name, and each missing default is added under its OpenAI name (/v1/...) or Ollama name
// (/api/..., inside "options"). The request's own values always win.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/status.h"

namespace citadel::api {

struct ModelSettings {
    std::string name;
    std::vector<std::string> aliases;
    // OpenAI parameter names: temperature, top_p, top_k, min_p, presence_penalty,
    // frequency_penalty, repetition_penalty, max_tokens, seed, stop.
    nlohmann::ordered_json sampling = nlohmann::ordered_json::object();
};

// The names sampling defaults may set.
const std::vector<std::string>& sampling_default_names();

// A clear error when a default is unknown or out of range (checked as a request would be).
Status validate_sampling_defaults(const nlohmann::ordered_json& sampling);

class ModelSettingsTable {
  public:
    ModelSettingsTable() = default;
    // An error when an alias is given twice or names a configured model.
    static Result<ModelSettingsTable> create(const std::vector<ModelSettings>& settings,
                                             const std::vector<std::string>& model_names);

    bool empty() const { return aliases_.empty() && defaults_.empty(); }
    // The model an alias stands for, or `name` itself.
    const std::string& resolve(const std::string& name) const;
    // `body` with the alias resolved and, when `defaults`, the model's sampling defaults
    // added (unchanged when the body is no JSON object with a string "model": the request's
    // parser reports that). Ollama's /api/show names the model "model" or "name".
    std::string apply(const std::string& body, bool ollama, bool defaults) const;

  private:
    std::map<std::string, std::string> aliases_;
    std::map<std::string, nlohmann::ordered_json> defaults_;
};

}  // namespace citadel::api
