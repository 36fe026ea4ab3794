#include "cli/engine_options.h"

#include <unistd.h>

#include <cctype>
#include <cmath>
#include <fstream>

namespace citadel::cli {

void add_engine_options(CLI::App& cmd, EngineArgs& a) {
    cmd.add_option("-t,--threads", a.threads, "Compute threads (0: one per core)")
        ->check(CLI::Range(0, 1024));
    cmd.add_option("--kv-mem", a.kv_mem,
                   "KV cache budget, allocated at start: 4GiB, 512MiB, or 25% of RAM")
        ->default_str(a.kv_mem);
    cmd.add_option("--kv-type", a.kv_type, "KV cache rows: f16 or q8_0")->default_str(a.kv_type);
    cmd.add_option("--block-size", a.block_size, "Tokens per KV block")
        ->check(CLI::Range(1, 1024))
        ->default_val(a.block_size);
    cmd.add_option("--max-batch-tokens", a.max_batch_tokens, "Token budget of one engine step")
        ->check(CLI::Range(int64_t(1), int64_t(1) << 20))
        ->default_val(a.max_batch_tokens);
    cmd.add_option("--max-seqs", a.max_seqs, "Sequences in one engine step")
        ->check(CLI::Range(1, 4096))
        ->default_val(a.max_seqs);
    cmd.add_option("-c,--ctx", a.ctx, "Context per sequence (0: the model's)")
        ->check(CLI::Range(int64_t(0), int64_t(1) << 24));
    cmd.add_flag("--no-prefix-cache", a.no_prefix_cache, "Do not reuse cached prompt prefixes");
}

namespace {

// MemAvailable of /proc/meminfo in bytes (0 when unknown).
size_t available_memory() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    size_t kib = 0;
    std::string unit;
    while (in >> key >> kib >> unit) {
        if (key == "MemAvailable:") return kib * 1024;
    }
    return 0;
}

size_t physical_memory() {
    return size_t(sysconf(_SC_PHYS_PAGES)) * size_t(sysconf(_SC_PAGE_SIZE));
}

Status bad_size(const std::string& text) {
    return Status::error("invalid memory size '" + text +
                         "' (expected e.g. 4GiB, 512MiB, 2G or 25%)");
}

}  // namespace

Result<size_t> parse_memory_size(const std::string& text) {
    size_t used = 0;
    double v = 0;
    try {
        v = std::stod(text, &used);
    } catch (...) {
        return bad_size(text);
    }
    if (!std::isfinite(v) || v <= 0) return bad_size(text);
    std::string unit = text.substr(used);
    for (char& c : unit) c = char(std::tolower(static_cast<unsigned char>(c)));
    double scale = 0;
    if (unit == "%") {
        if (v > 100) return bad_size(text);
        return size_t(double(physical_memory()) * v / 100.0);
    }
    if (unit.empty() || unit == "b") scale = 1;
    if (unit == "k" || unit == "kb" || unit == "kib") scale = 1024.0;
    if (unit == "m" || unit == "mb" || unit == "mib") scale = 1024.0 * 1024;
    if (unit == "g" || unit == "gb" || unit == "gib") scale = 1024.0 * 1024 * 1024;
    if (unit == "t" || unit == "tb" || unit == "tib") scale = 1024.0 * 1024 * 1024 * 1024;
    if (scale == 0) return bad_size(text);
    const double bytes = v * scale;
    if (bytes >= double(physical_memory())) {
        return Status::error("memory size '" + text + "' is more than this machine's " +
                             std::to_string(physical_memory() >> 20) + " MiB");
    }
    return size_t(bytes);
}

Result<EngineOptions> engine_options(const EngineArgs& a, const std::string& model_id) {
    Result<size_t> kv_mem = parse_memory_size(a.kv_mem);
    if (!kv_mem) return Status::error("--kv-mem: " + kv_mem.error());
    // The arena is allocated and touched at start: refuse a budget the machine cannot hold
    // instead of being killed by the OOM killer.
    const size_t available = available_memory();
    if (available > 0 && *kv_mem > available / 10 * 9) {
        return Status::error("--kv-mem " + a.kv_mem + " (" + std::to_string(*kv_mem >> 20) +
                             " MiB) does not fit in the " + std::to_string(available >> 20) +
                             " MiB of available memory (at most 90 % of it)");
    }
    Result<KvType> kv_type = parse_kv_type(a.kv_type);
    if (!kv_type) return Status::error("--kv-type: " + kv_type.error());
    return EngineOptions{.n_threads = a.threads,
                         .kv_mem_bytes = *kv_mem,
                         .kv_type = *kv_type,
                         .block_size = a.block_size,
                         .max_batch_tokens = a.max_batch_tokens,
                         .max_seqs = a.max_seqs,
                         .n_ctx = a.ctx,
                         .prefix_cache = !a.no_prefix_cache,
                         .model_id = model_id};
}

}  // namespace citadel::cli
