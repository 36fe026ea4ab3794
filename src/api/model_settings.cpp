#include "api/model_settings.h"

#include <set>

#include "api/openai_request.h"

namespace citadel::api {
namespace {

using nlohmann::ordered_json;

// OpenAI name -> Ollama's name in "options".
const std::map<std::string, std::string>& ollama_names() {
    static const std::map<std::string, std::string> names = {
        {"temperature", "temperature"},
        {"top_p", "top_p"},
        {"top_k", "top_k"},
        {"min_p", "min_p"},
        {"presence_penalty", "presence_penalty"},
        {"frequency_penalty", "frequency_penalty"},
        {"repetition_penalty", "repeat_penalty"},
        {"max_tokens", "num_predict"},
        {"seed", "seed"},
        {"stop", "stop"},
    };
    return names;
}

void add_missing(ordered_json& into, const ordered_json& defaults, bool ollama) {
    for (const auto& [name, value] : defaults.items()) {
        const std::string key = ollama ? ollama_names().at(name) : name;
        if (!into.contains(key)) into[key] = value;
    }
}

}  // namespace

const std::vector<std::string>& sampling_default_names() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> out;
        for (const auto& [openai, ollama] : ollama_names()) out.push_back(openai);
        return out;
    }();
    return names;
}

Status validate_sampling_defaults(const ordered_json& sampling) {
    if (!sampling.is_object()) return Status::error("sampling defaults must be a map");
    ordered_json probe = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "x"}}}}};
    for (const auto& [name, value] : sampling.items()) {
        if (!ollama_names().count(name)) {
            std::string valid;
            for (const std::string& n : sampling_default_names())
                valid += (valid.empty() ? "" : ", ") + n;
            return Status::error("unknown sampling default '" + name + "' (valid: " + valid + ")");
        }
        probe[name] = value;
    }
    Parsed<ChatRequest> parsed = parse_chat_request(probe.dump());
    if (const ApiError* e = std::get_if<ApiError>(&parsed))
        return Status::error("sampling default " + e->message);
    return ok_status();
}

Result<ModelSettingsTable> ModelSettingsTable::create(const std::vector<ModelSettings>& settings,
                                                      const std::vector<std::string>& model_names) {
    ModelSettingsTable t;
    const std::set<std::string> models(model_names.begin(), model_names.end());
    for (const ModelSettings& s : settings) {
        for (const std::string& alias : s.aliases) {
            if (alias.empty()) return Status::error("model '" + s.name + "': an empty alias");
            if (models.count(alias))
                return Status::error("model '" + s.name + "': alias '" + alias +
                                     "' is the name of a configured model");
            if (!t.aliases_.emplace(alias, s.name).second)
                return Status::error("alias '" + alias + "' is given twice");
        }
        if (!s.sampling.empty()) {
            Status v = validate_sampling_defaults(s.sampling);
            if (!v.ok()) return Status::error("model '" + s.name + "': " + v.message());
            t.defaults_[s.name] = s.sampling;
        }
    }
    return t;
}

const std::string& ModelSettingsTable::resolve(const std::string& name) const {
    auto it = aliases_.find(name);
    return it == aliases_.end() ? name : it->second;
}

std::string ModelSettingsTable::apply(const std::string& body, bool ollama,
                                      bool with_defaults) const {
    ordered_json j = ordered_json::parse(body, nullptr, false);
    if (!j.is_object()) return body;
    auto model = j.find("model");
    if (model == j.end() && ollama) model = j.find("name");
    if (model == j.end() || !model->is_string()) return body;
    const std::string name = resolve(model->get<std::string>());
    auto defaults = with_defaults ? defaults_.find(name) : defaults_.end();
    if (name == model->get<std::string>() && defaults == defaults_.end()) return body;
    *model = name;
    if (defaults != defaults_.end()) {
        if (!ollama) {
            add_missing(j, defaults->second, false);
        } else {
            ordered_json& options = j["options"];
            if (options.is_null()) options = ordered_json::object();
            if (!options.is_object()) return j.dump();  // the parser names the bad field
            add_missing(options, defaults->second, true);
        }
    }
    return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace citadel::api
