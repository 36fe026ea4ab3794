// Helpers shared by the command-line verbs.
#pragma once

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/model.h"
#include "text/tokenizer.h"

namespace citadel::cli {

// "1,2,3" -> {1, 2, 3}; an error names the bad item.
Result<std::vector<int32_t>> parse_token_list(const std::string& text);

// Loads a model, printing progress at info level.
Result<std::shared_ptr<const Model>> open_model(const std::string& path);

// Where a tokenizer comes from: a GGUF file (-m) or a Hugging Face directory (--tokenizer).
struct TokenizerSource {
    std::string model;
    std::string hf_dir;
};
void add_tokenizer_options(CLI::App& cmd, TokenizerSource& src);
Result<std::shared_ptr<const text::Tokenizer>> open_tokenizer(const TokenizerSource& src);

// Prints "citadel: <message>" to stderr and returns exit code 1.
int fail(const std::string& message);

// Human-readable byte counts: "942.3 MiB".
std::string format_bytes(double bytes);

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace citadel::cli
