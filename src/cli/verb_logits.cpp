// citadel logits: float32 logits of every prompt position, row-major [n_tokens][n_vocab].
#include <algorithm>
#include <cstdio>

#include "cli/common.h"
#include "cli/verbs.h"
#include "model/forward.h"

namespace citadel::cli {
namespace {

struct LogitsArgs {
    std::string model;
    std::string tokens;
    std::string out;
    int threads = 0;
};

Status write_file(const std::string& path, const std::vector<float>& data) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return Status::error("cannot open " + path + " for writing");
    const size_t n = std::fwrite(data.data(), sizeof(float), data.size(), f);
    const bool closed = std::fclose(f) == 0;
    if (n != data.size() || !closed) return Status::error("cannot write " + path);
    return ok_status();
}

int run(const LogitsArgs& a) {
    Result<std::vector<int32_t>> tokens = parse_token_list(a.tokens);
    if (!tokens) return fail(tokens.error());
    Result<std::shared_ptr<const Model>> model = open_model(a.model);
    if (!model) return fail(model.error());
    const Model& m = **model;
    ForwardState state(
        m, ForwardOptions{.n_threads = a.threads, .n_seq = 1, .n_ctx = int64_t(tokens->size())});
    std::vector<float> all;
    all.reserve(tokens->size() * size_t(m.hp.n_vocab));
    constexpr size_t kChunk = 512;  // bounds the scratch of one forward pass
    Batch batch;
    for (size_t i = 0; i < tokens->size(); i += kChunk) {
        batch.clear();
        for (size_t j = i; j < std::min(tokens->size(), i + kChunk); ++j) {
            batch.add((*tokens)[j], int32_t(j), 0, true);
        }
        if (Status s = forward(m, batch, state); !s) return fail(s.message());
        all.insert(all.end(), state.logits.begin(),
                   state.logits.begin() + state.n_logits * m.hp.n_vocab);
    }
    if (Status s = write_file(a.out, all); !s) return fail(s.message());
    return 0;
}

}  // namespace

VerbRunner add_logits(CLI::App& app) {
    auto a = std::make_shared<LogitsArgs>();
    CLI::App* c = app.add_subcommand("logits", "Write the logits of every prompt position");
    c->add_option("-m,--model", a->model, "GGUF model file")->required();
    c->add_option("--tokens", a->tokens, "Comma-separated token ids")->required();
    c->add_option("-o,--output", a->out, "Output file (float32 [n_tokens][n_vocab])")->required();
    c->add_option("-t,--threads", a->threads, "Compute threads")->check(CLI::Range(0, 1024));
    return [a] { return run(*a); };
}

}  // namespace citadel::cli
