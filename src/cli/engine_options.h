// Command-line options of the serving engine, shared by the verbs that run one (bench batch,
// serve): KV budget and type, batch limits, context, prefix cache, threads.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "engine/engine.h"

namespace citadel::cli {

struct EngineArgs {
    int threads = 0;
    std::string kv_mem = "1GiB";
    std::string kv_type = "f16";
    int block_size = 16;
    int64_t max_batch_tokens = 512;
    int max_seqs = 16;
    int64_t ctx = 0;
    bool no_prefix_cache = false;
};

void add_engine_options(CLI::App& cmd, EngineArgs& a);

// "4GiB", "512MiB", "1.5G", "1000000" (bytes) or "25%" (of physical memory).
Result<size_t> parse_memory_size(const std::string& text);

Result<EngineOptions> engine_options(const EngineArgs& a, const std::string& model_id);

}  // namespace citadel::cli
