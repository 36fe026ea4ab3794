// JSON in and out of template values: contexts arrive as JSON (key order preserved, as
// Python's json.loads does), and tojson prints exactly like Python's json.dumps.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "text/template/value.h"

namespace citadel::jinja {

Value from_json(const nlohmann::ordered_json& j);

struct JsonDumpOptions {
    std::optional<std::string> indent;  // per-level indent text; nullopt = single line
    std::string item_separator = ", ";
    std::string key_separator = ": ";
    bool sort_keys = false;
    bool ensure_ascii = false;
};

// json.dumps(v, ...); raises TypeError for values JSON cannot hold (Undefined, functions).
std::string dump_json(const Value& v, const JsonDumpOptions& options);

}  // namespace citadel::jinja
