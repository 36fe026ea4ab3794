#include "cli/serve_config.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>

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

Status add_models(const YAML::Node& node, const std::string& path,
                  std::vector<ops::ModelSpec>& models) {
    if (!node.IsMap()) {
        return Status::error(where(path, node) +
                             ": key 'models' must map names to GGUF files "
                             "(models: {qwen: /models/qwen.gguf})");
    }
    for (const auto& kv : node) {
        ops::ModelSpec spec{.name = kv.first.Scalar()};
        const YAML::Node& v = kv.second;
        if (v.IsScalar()) {
            spec.path = v.Scalar();
        } else if (v.IsMap()) {
            for (const auto& field : v) {
                const std::string k = field.first.Scalar();
                if (!field.second.IsScalar())
                    return Status::error(where(path, field.second) + ": models." + spec.name + "." +
                                         k + " must be a plain value");
                if (k == "path") {
                    spec.path = field.second.Scalar();
                } else if (k == "chat-template") {
                    spec.chat_template_file = field.second.Scalar();
                } else if (k == "on-demand") {
                    const std::string v = field.second.Scalar();
                    if (v != "true" && v != "false")
                        return Status::error(where(path, field.second) + ": models." + spec.name +
                                             ".on-demand must be true or false");
                    spec.on_demand = v == "true";
                } else if (k == "idle-unload") {
                    Result<int64_t> ms = parse_duration_ms(field.second.Scalar());
                    if (!ms)
                        return Status::error(where(path, field.second) + ": models." + spec.name +
                                             ".idle-unload: " + ms.error());
                    spec.on_demand = true;
                    spec.idle_unload_ms = *ms;
                } else {
                    return Status::error(where(path, field.first) + ": unknown key 'models." +
                                         spec.name + "." + k +
                                         "' (valid: path, chat-template, on-demand, idle-unload)");
                }
            }
        } else {
            return Status::error(where(path, v) + ": models." + spec.name +
                                 " must be a file or {path, chat-template}");
        }
        if (spec.path.empty())
            return Status::error(where(path, v) + ": models." + spec.name + " has no path");
        models.push_back(std::move(spec));
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
                         std::vector<ops::ModelSpec>& models) {
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
        Status s = key == "models" ? add_models(kv.second, path, models)
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
