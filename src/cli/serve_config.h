// `citadel serve --config citadel.yaml`: every command-line flag of serve is also a key of
// the YAML file, with the flag's long name (`port: 8080`, `kv-mem: 4GiB`); flags given on
// the command line win. `models` maps names to GGUF files, or to a map:
//   local:    {path, chat-template, on-demand, idle-unload (makes it on-demand), ctx, kv-mem,
//              max-seqs (the engine's options for this model)}
//   upstream: {upstreams: [URL, ...], upstream-model: NAME, api-key | api-key-env: VAR}
//   routed:   {routes: [{model: NAME, weight: 95}, ...]} (canary releases)
//   any kind: aliases: [other names], sampling: {temperature: 0.7, ...} (request defaults)
// Unknown keys, wrong types and bad values are errors that name the file, line and key.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "api/model_settings.h"
#include "api/upstream_proxy.h"
#include "core/status.h"
#include "ops/model_registry.h"

namespace citadel::cli {

// Applies the file's keys to the options of `cmd` that the command line left unset, and
// appends the models it declares to `models` (local), `routing` (upstream and routed) and
// their aliases and sampling defaults to `settings` (when not null).
Status apply_yaml_config(CLI::App& cmd, const std::string& path,
                         std::vector<ops::ModelSpec>& models, api::RoutingConfig& routing,
                         std::vector<api::ModelSettings>* settings = nullptr);

// "NAME=FILE.gguf", or "FILE.gguf" (named after the file: "qwen2.5-0.5b-q8_0").
Result<ops::ModelSpec> parse_model_arg(const std::string& arg);

// "500ms", "30s", "10m", "1h", or a bare number of seconds.
Result<int64_t> parse_duration_ms(const std::string& text);

}  // namespace citadel::cli
