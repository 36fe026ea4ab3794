#include "cli/serve_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "cli/engine_options.h"

namespace citadel::cli {
namespace {

std::string where(const std::string& path, const YAML::Node& node) {
    const YAML::Mark m = node.Mark();
    return path + ":" + std::to_string(m.line + 1);
}

// A scalar or a sequence of scalars as option inputs.
Result<std::vector<std::string>> inputs_of(const YAML::Node& node, const std::string& key) {
    std::vector<std::string> out;
    if (node.IsScalar()) {
        out.push_back(node.Scalar());
        return out;
    }
    if (node.IsSequence()) {
        for (const YAML::Node& item : node) {
            if (!item.IsScalar())
                return Status::error("key '" + key + "': list items must be plain values");
            out.push_back(item.Scalar());
        }
        return out;
    }
    return Status::error("key '" + key + "' must be a value or a list of values");
}

// models.NAME.upstreams: a URL or a list of them.
Status add_upstream_urls(const YAML::Node& v, const std::string& path, const std::string& key,
                         std::vector<std::string>& urls) {
    Result<std::vector<std::string>> in = inputs_of(v, key);
    if (!in) return Status::error(where(path, v) + ": " + in.error());
    if (in->empty()) return Status::error(where(path, v) + ": key '" + key + "' lists no URL");
    urls = std::move(*in);
    return ok_status();
}

// models.NAME.routes: [{model: NAME, weight: N}, ...].
Status add_routes(const YAML::Node& v, const std::string& path, const std::string& key,
                  std::vector<api::WeightedRoute>& routes) {
    if (!v.IsSequence() || v.size() == 0)
        return Status::error(where(path, v) + ": key '" + key +
                             "' must list routes: [{model: NAME, weight: 95}, ...]");
    for (const YAML::Node& item : v) {
        if (!item.IsMap())
            return Status::error(where(path, item) + ": each of '" + key +
                                 "' must be {model, weight}");
        api::WeightedRoute r;
        bool has_weight = false;
        for (const auto& f : item) {
            const std::string k = f.first.Scalar();
            if (!f.second.IsScalar())
                return Status::error(where(path, f.second) + ": " + key + "." + k +
                                     " must be a plain value");
            if (k == "model") {
                r.model = f.second.Scalar();
            } else if (k == "weight") {
                try {
                    r.weight = std::stod(f.second.Scalar());
                    has_weight = true;
                } catch (const std::exception&) {
                }
                if (!has_weight || !std::isfinite(r.weight) || r.weight < 0)
                    return Status::error(where(path, f.second) + ": " + key +
                                         ".weight must be a number >= 0, got '" +
                                         f.second.Scalar() + "'");
            } else {
                return Status::error(where(path, f.first) + ": unknown key '" + key + "." + k +
                                     "' (valid: model, weight)");
            }
        }
        if (r.model.empty() || !has_weight)
            return Status::error(where(path, item) + ": each of '" + key +
                                 "' needs model and weight");
        routes.push_back(std::move(r));
    }
    return ok_status();
}

// A model entry's parts, filled key by key.
struct ModelEntry {
    ops::ModelSpec spec;
    api::UpstreamSpec up;
    api::RouteSpec routed;
    api::ModelSettings settings;
};

Result<int64_t> positive_int(const YAML::Node& v, const std::string& path, const std::string& key,
                             int64_t max) {
    int64_t n = 0;
    size_t used = 0;
    try {
        n = std::stoll(v.Scalar(), &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != v.Scalar().size() || n < 1 || n > max)
        return Status::error(where(path, v) + ": " + key + " must be a whole number from 1 to " +
                             std::to_string(max) + ", got '" + v.Scalar() + "'");
    return n;
}

// models.NAME.sampling: {temperature: 0.7, top_p: 0.8, ...} (OpenAI parameter names).
Status add_sampling(const YAML::Node& v, const std::string& path, const std::string& key,
                    nlohmann::ordered_json& out) {
    if (!v.IsMap())
        return Status::error(where(path, v) + ": " + key +
                             " must map parameters to values (sampling: {temperature: 0.7})");
    for (const auto& f : v) {
        const std::string k = f.first.Scalar();
        const YAML::Node& value = f.second;
        if (value.IsSequence()) {  // stop: [a, b]
            nlohmann::ordered_json list = nlohmann::ordered_json::array();
            for (const YAML::Node& item : value) list.push_back(item.Scalar());
            out[k] = std::move(list);
            continue;
        }
        if (!value.IsScalar())
            return Status::error(where(path, value) + ": " + key + "." + k +
                                 " must be a plain value");
        // A YAML scalar is text: numbers become numbers, as a JSON body would carry them.
        nlohmann::ordered_json j = nlohmann::ordered_json::parse(value.Scalar(), nullptr, false);
        out[k] = j.is_number() ? j : nlohmann::ordered_json(value.Scalar());
    }
    Status s = api::validate_sampling_defaults(out);
    if (!s.ok()) return Status::error(where(path, v) + ": " + key + ": " + s.message());
    return ok_status();
}

// models.NAME.api-key-env: the upstream's key from the environment (keeps it out of files).
Status read_key_env(const YAML::Node& v, const std::string& path, const std::string& key,
                    std::string& out) {
    const char* value = std::getenv(v.Scalar().c_str());
    if (value == nullptr || *value == '\0')
        return Status::error(where(path, v) + ": " + key + ": the environment variable " +
                             v.Scalar() + " is not set");
    out = value;
    return ok_status();
}

// A plain-valued key of a model entry.
Status add_model_scalar(const std::string& k, const YAML::Node& value, const std::string& path,
                        const std::string& key, ModelEntry& m) {
    const std::string& text = value.Scalar();
    if (k == "path") {
        m.spec.path = text;
    } else if (k == "url") {
        m.spec.source = text;
    } else if (k == "sha256") {
        m.spec.sha256 = text;
    } else if (k == "s3-endpoint") {
        m.spec.s3_endpoint = text;
    } else if (k == "chat-template") {
        m.spec.chat_template_file = text;
    } else if (k == "upstream-model") {
        m.up.upstream_model = text;
    } else if (k == "api-key") {
        m.up.api_key = text;
    } else if (k == "api-key-env") {
        return read_key_env(value, path, key, m.up.api_key);
    } else if (k == "on-demand") {
        if (text != "true" && text != "false")
            return Status::error(where(path, value) + ": " + key + " must be true or false");
        m.spec.on_demand = text == "true";
    } else if (k == "idle-unload") {
        Result<int64_t> ms = parse_duration_ms(text);
        if (!ms) return Status::error(where(path, value) + ": " + key + ": " + ms.error());
        m.spec.on_demand = true;
        m.spec.idle_unload_ms = *ms;
    } else if (k == "ctx") {
        Result<int64_t> n = positive_int(value, path, key, int64_t(1) << 24);
        if (!n) return n.status();
        m.spec.n_ctx = *n;
    } else if (k == "max-seqs") {
        Result<int64_t> n = positive_int(value, path, key, 4096);
        if (!n) return n.status();
        m.spec.max_seqs = int(*n);
    } else if (k == "kv-mem") {
        Result<size_t> bytes = parse_memory_size(text);
        if (!bytes) return Status::error(where(path, value) + ": " + key + ": " + bytes.error());
        m.spec.kv_mem_bytes = *bytes;
    } else {
        return Status::error(where(path, value) + ": unknown key '" + key +
                             "' (valid: path, url, sha256, s3-endpoint, chat-template, on-demand, "
                             "idle-unload, ctx, kv-mem, "
                             "max-seqs, aliases, sampling, upstreams, upstream-model, api-key, "
                             "api-key-env, routes)");
    }
    return ok_status();
}

// Which keys go with which kind of model, so a mistake is named rather than ignored.
Status check_model_kind(const ModelEntry& m, const std::string& name, const YAML::Node& v,
                        const std::string& path) {
    const bool local = !m.spec.path.empty() || !m.spec.source.empty();
    const int kinds = int(local) + int(!m.up.urls.empty()) + int(!m.routed.routes.empty());
    const std::string at = where(path, v) + ": models." + name;
    if (kinds != 1)
        return Status::error(at + " needs exactly one of path (or url), upstreams, routes");
    if ((!m.spec.sha256.empty() || !m.spec.s3_endpoint.empty()) && m.spec.source.empty())
        return Status::error(at + ": sha256 and s3-endpoint go with url");
    if ((!m.up.upstream_model.empty() || !m.up.api_key.empty()) && m.up.urls.empty())
        return Status::error(at + ": upstream-model and api-key need upstreams");
    const ops::ModelSpec& s = m.spec;
    const bool local_keys = !s.chat_template_file.empty() || s.on_demand || s.n_ctx > 0 ||
                            s.kv_mem_bytes > 0 || s.max_seqs > 0;
    if (local_keys && !local)
        return Status::error(at +
                             ": chat-template, on-demand, idle-unload, ctx, kv-mem and max-seqs "
                             "are for local models (with path or url)");
    return ok_status();
}

// One entry of `models` that is a map: local, upstream or routed, by its keys.
Status add_model_map(const std::string& name, const YAML::Node& v, const std::string& path,
                     std::vector<ops::ModelSpec>& models, api::RoutingConfig& routing,
                     std::vector<api::ModelSettings>* settings) {
    ModelEntry m;
    m.spec.name = m.up.name = m.routed.name = m.settings.name = name;
    for (const auto& field : v) {
        const std::string k = field.first.Scalar();
        const std::string key = "models." + name + "." + k;
        const YAML::Node& value = field.second;
        Status s = ok_status();
        if (k == "upstreams") {
            s = add_upstream_urls(value, path, key, m.up.urls);
        } else if (k == "routes") {
            s = add_routes(value, path, key, m.routed.routes);
        } else if (k == "aliases") {
            Result<std::vector<std::string>> in = inputs_of(value, key);
            if (!in) s = Status::error(where(path, value) + ": " + in.error());
            if (in) m.settings.aliases = std::move(*in);
        } else if (k == "sampling") {
            s = add_sampling(value, path, key, m.settings.sampling);
        } else if (!value.IsScalar()) {
            s = Status::error(where(path, value) + ": " + key + " must be a plain value");
        } else {
            s = add_model_scalar(k, value, path, key, m);
        }
        if (!s.ok()) return s;
    }
    CITADEL_TRY(check_model_kind(m, name, v, path));
    if (!m.spec.path.empty() || !m.spec.source.empty()) models.push_back(std::move(m.spec));
    if (!m.up.urls.empty()) routing.upstreams.push_back(std::move(m.up));
    if (!m.routed.routes.empty()) routing.routes.push_back(std::move(m.routed));
    if (settings && (!m.settings.aliases.empty() || !m.settings.sampling.empty()))
        settings->push_back(std::move(m.settings));
    return ok_status();
}

Status add_models(const YAML::Node& node, const std::string& path,
                  std::vector<ops::ModelSpec>& models, api::RoutingConfig& routing,
                  std::vector<api::ModelSettings>* settings) {
    if (!node.IsMap()) {
        return Status::error(where(path, node) +
                             ": key 'models' must map names to GGUF files "
                             "(models: {qwen: /models/qwen.gguf})");
    }
    for (const auto& kv : node) {
        const std::string name = kv.first.Scalar();
        const YAML::Node& v = kv.second;
        if (v.IsScalar()) {
            if (v.Scalar().empty())
                return Status::error(where(path, v) + ": models." + name + " has no path");
            models.push_back(ops::ModelSpec{.name = name, .path = v.Scalar()});
        } else if (v.IsMap()) {
            CITADEL_TRY(add_model_map(name, v, path, models, routing, settings));
        } else {
            return Status::error(where(path, v) + ": models." + name +
                                 " must be a file, {path, chat-template}, {upstreams, "
                                 "upstream-model} or {routes}");
        }
    }
    return ok_status();
}

Status apply_key(CLI::App& cmd, const std::string& key, const YAML::Node& value,
                 const std::string& path) {
    CLI::Option* opt = cmd.get_option_no_throw("--" + key);
    if (opt == nullptr || key == "config" || key == "model") {
        return Status::error(where(path, value) + ": unknown key '" + key +
                             "' (keys are serve's long flag names; see citadel serve --help)");
    }
    if (opt->count() > 0) return ok_status();  // the command line wins
    Result<std::vector<std::string>> in = inputs_of(value, key);
    if (!in) return Status::error(where(path, value) + ": " + in.error());
    try {
        if (opt->get_type_size() == 0) {  // a flag: true/false
            const std::string v = in->empty() ? "" : in->front();
            if (v != "true" && v != "false")
                return Status::error(where(path, value) + ": key '" + key +
                                     "' must be true or false");
            if (v == "false") return ok_status();
            opt->add_result(std::string("true"));
        } else {
            opt->add_result(*in);
        }
        opt->run_callback();
    } catch (const CLI::Error& e) {
        return Status::error(where(path, value) + ": key '" + key + "': " + e.what());
    }
    return ok_status();
}

}  // namespace

Status apply_yaml_config(CLI::App& cmd, const std::string& path,
                         std::vector<ops::ModelSpec>& models, api::RoutingConfig& routing,
                         std::vector<api::ModelSettings>* settings) {
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
        return Status::error("cannot read config file " + path);
    } catch (const YAML::Exception& e) {
        return Status::error("config file " + path + ": line " + std::to_string(e.mark.line + 1) +
                             ": " + e.msg);
    }
    if (root.IsNull()) return ok_status();
    if (!root.IsMap()) return Status::error("config file " + path + " must be a map of keys");
    for (const auto& kv : root) {
        const std::string key = kv.first.Scalar();
        if (key == "gateway") continue;  // structured gateway settings: gateway_options.cpp
        Status s = key == "models" ? add_models(kv.second, path, models, routing, settings)
                                   : apply_key(cmd, key, kv.second, path);
        if (!s.ok()) return s;
    }
    return ok_status();
}

Result<ops::ModelSpec> parse_model_arg(const std::string& arg) {
    ops::ModelSpec spec;
    const size_t eq = arg.find('=');
    if (eq == std::string::npos) {
        spec.path = arg;
        spec.name = std::filesystem::path(arg).stem().string();
    } else {
        spec.name = arg.substr(0, eq);
        spec.path = arg.substr(eq + 1);
    }
    if (spec.name.empty() || spec.path.empty())
        return Status::error("-m '" + arg + "': expected NAME=FILE.gguf or FILE.gguf");
    return spec;
}

Result<int64_t> parse_duration_ms(const std::string& text) {
    size_t pos = 0;
    double v = 0;
    try {
        v = std::stod(text, &pos);
    } catch (const std::exception&) {
        pos = 0;
    }
    const std::string unit = text.substr(pos);
    double scale = 0;
    if (unit.empty() || unit == "s")
        scale = 1000;
    else if (unit == "ms")
        scale = 1;
    else if (unit == "m")
        scale = 60000;
    else if (unit == "h")
        scale = 3600000;
    if (pos == 0 || scale == 0 || !std::isfinite(v) || v < 0 || v * scale > 1e12) {
        return Status::error("invalid duration '" + text + "' (e.g. 500ms, 30s, 10m, 1h)");
    }
    return int64_t(v * scale);
}

}  // namespace citadel::cli
