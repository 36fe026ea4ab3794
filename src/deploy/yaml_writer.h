// JSON values written as block-style YAML, deterministically: keys in insertion order
// (ordered_json), two-space indentation, sequences indented under their key, strings plain
// where YAML reads them back as the same string and double-quoted otherwise, multi-line
// strings as literal blocks. Output parses back (YAML 1.1 and 1.2) to the same value.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace citadel::deploy {

using Json = nlohmann::ordered_json;

std::string to_yaml(const Json& doc);

// A scalar (string, number, bool, null) as it appears after "key: ".
std::string yaml_scalar(const Json& value);

}  // namespace citadel::deploy
