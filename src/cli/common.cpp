#include "cli/common.h"

#include <cstdio>

namespace citadel::cli {

Result<std::vector<int32_t>> parse_token_list(const std::string& text) {
    std::vector<int32_t> out;
    size_t start = 0;
    while (start <= text.size()) {
        size_t end = text.find(',', start);
        if (end == std::string::npos) end = text.size();
        const std::string item = text.substr(start, end - start);
        size_t used = 0;
        long long v = 0;
        try {
            v = std::stoll(item, &used);
        } catch (...) {
            used = 0;
        }
        if (item.empty() || used != item.size() || v < 0 || v > INT32_MAX) {
            return Status::error("invalid token id '" + item +
                                 "' in --tokens (expected "
                                 "comma-separated non-negative integers)");
        }
        out.push_back(int32_t(v));
        start = end + 1;
    }
    return out;
}

Result<std::shared_ptr<const Model>> open_model(const std::string& path) {
    return load_model(path);
}

void add_tokenizer_options(CLI::App& cmd, TokenizerSource& src) {
    auto* m = cmd.add_option("-m,--model", src.model, "GGUF file whose tokenizer to use");
    auto* t =
        cmd.add_option("--tokenizer", src.hf_dir, "Hugging Face directory with tokenizer.json");
    m->excludes(t);
    t->excludes(m);
}

Result<std::shared_ptr<const text::Tokenizer>> open_tokenizer(const TokenizerSource& src) {
    if (!src.hf_dir.empty()) return text::load_hf_tokenizer(src.hf_dir);
    if (src.model.empty()) return Status::error("give -m MODEL.gguf or --tokenizer HF_DIR");
    Result<std::shared_ptr<const gguf::File>> file = gguf::File::open(src.model);
    if (!file) return file.status();
    return text::load_tokenizer(**file);
}

int fail(const std::string& message) {
    std::fprintf(stderr, "citadel: %s\n", message.c_str());
    return 1;
}

std::string format_bytes(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024.0 && u < 4) {
        bytes /= 1024.0;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return buf;
}

}  // namespace citadel::cli
