// citadel chat: an interactive conversation in the terminal, rendered with the model's chat
// template. Each turn reuses the KV cache for the part of the conversation already seen.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/generate.h"
#include "cli/verbs.h"
#include "text/chat_prompt.h"
#include "text/stream_decoder.h"
#include "text/template/chat_template.h"
#include "text/template/chat_template_source.h"

namespace citadel::cli {
namespace {

using nlohmann::ordered_json;

struct ChatArgs {
    std::string model;
    std::string template_file;
    std::string system;
    int n_predict = 512;
    float temperature = 0.7f;
    int top_k = 40;
    float top_p = 0.95f;
    uint64_t seed = 0;
    int threads = 0;
    int64_t ctx = 4096;
};

// One conversation: the messages, and the tokens whose keys and values are in the cache.
struct Conversation {
    ordered_json messages = ordered_json::array();
    std::vector<int32_t> cached;
};

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
}

// The rendered conversation as tokens (special tokens typed into messages stay text).
Result<std::vector<int32_t>> render(const jinja::ChatTemplate& tpl, const text::Tokenizer& tok,
                                    const ordered_json& messages) {
    Result<text::ChatPrompt> prompt =
        text::render_chat(tpl, {{"messages", messages}, {"add_generation_prompt", true}});
    if (!prompt) return Status::error("chat template: " + prompt.error());
    return text::encode_chat(tok, *prompt);
}

class ChatSession {
  public:
    ChatSession(const ChatArgs& a, const Model& m, const text::Tokenizer& tok,
                const jinja::ChatTemplate& tpl)
        : a_(a),
          m_(m),
          tok_(tok),
          tpl_(tpl),
          state_(m, ForwardOptions{.n_threads = a.threads, .n_seq = 1, .n_ctx = a.ctx}) {
        reset();
    }

    void reset() {
        conv_ = Conversation{};
        if (!a_.system.empty())
            conv_.messages.push_back({{"role", "system"}, {"content", a_.system}});
    }

    // Answers one user message, streaming the reply to stdout.
    Status turn(const std::string& user) {
        conv_.messages.push_back({{"role", "user"}, {"content", user}});
        Result<std::vector<int32_t>> ids = render(tpl_, tok_, conv_.messages);
        if (!ids) return undo(ids.status());
        if (int64_t(ids->size()) + a_.n_predict > a_.ctx) {
            return undo(Status::error("the conversation (" + std::to_string(ids->size()) +
                                      " tokens) would not fit the context of " +
                                      std::to_string(a_.ctx) +
                                      " with room for a reply; /reset to start over"));
        }
        size_t keep = common_prefix(conv_.cached, *ids);
        if (keep == ids->size()) --keep;  // the last token must run again for fresh logits
        const std::vector<int32_t> rest(ids->begin() + std::ptrdiff_t(keep), ids->end());
        GenerateOptions opt{.n_predict = a_.n_predict, .start_pos = int(keep)};
        opt.sampling = {.temperature = a_.temperature,
                        .top_k = a_.top_k,
                        .top_p = a_.top_p,
                        .seed = a_.seed + conv_.messages.size()};
        text::StreamDecoder decoder(tok_);
        auto stream = [&](int32_t t) {
            std::fputs(decoder.push(t).c_str(), stdout);
            std::fflush(stdout);
        };
        Result<GenerateResult> g =
            generate(m_, state_, rest, opt, tok_.end_of_generation(), stream);
        if (!g) return undo(g.status());
        std::fputs((decoder.finish() + "\n").c_str(), stdout);
        conv_.cached = *ids;
        conv_.cached.insert(conv_.cached.end(), g->tokens.begin(), g->tokens.end());
        conv_.messages.push_back({{"role", "assistant"}, {"content", tok_.decode(g->tokens)}});
        return ok_status();
    }

  private:
    Status undo(Status s) {
        conv_.messages.erase(conv_.messages.end() - 1);
        return s;
    }

    const ChatArgs& a_;
    const Model& m_;
    const text::Tokenizer& tok_;
    const jinja::ChatTemplate& tpl_;
    ForwardState state_;
    Conversation conv_;
};

int run(const ChatArgs& a) {
    Result<std::shared_ptr<const Model>> model = open_model(a.model);
    if (!model) return fail(model.error());
    Result<std::shared_ptr<const text::Tokenizer>> tok = text::load_tokenizer(*(*model)->file);
    if (!tok) return fail(tok.error());
    Result<jinja::ChatTemplateSource> src = a.template_file.empty()
                                                ? jinja::load_template_from_gguf(a.model)
                                                : jinja::load_template_file(a.template_file);
    if (!src) return fail(src.error());
    Result<jinja::ChatTemplate> tpl = jinja::ChatTemplate::create(
        src->source, {.bos_token = src->bos_token, .eos_token = src->eos_token});
    if (!tpl) return fail(src->origin + ": " + tpl.error());
    ChatArgs args = a;
    const int64_t trained = (*model)->hp.n_ctx_train;
    if (trained > 0 && args.ctx > trained) args.ctx = trained;
    ChatSession session(args, **model, **tok, *tpl);
    const bool tty = isatty(STDIN_FILENO);
    if (tty) std::fprintf(stderr, "citadel chat: /reset starts over, /exit or Ctrl-D leaves\n");
    std::string line;
    while (true) {
        if (tty) std::fputs("> ", stdout), std::fflush(stdout);
        if (!std::getline(std::cin, line)) break;
        if (line == "/exit" || line == "/quit") break;
        if (line == "/reset") {
            session.reset();
            continue;
        }
        if (line.empty()) continue;
        if (Status s = session.turn(line); !s.ok())
            std::fprintf(stderr, "citadel: %s\n", s.message().c_str());
    }
    return 0;
}

}  // namespace

VerbRunner add_chat(CLI::App& app) {
    auto a = std::make_shared<ChatArgs>();
    CLI::App* c =
        app.add_subcommand("chat", "Chat with a model in the terminal (one message per line)");
    c->add_option("-m,--model", a->model, "GGUF model file")->required();
    c->add_option("--chat-template", a->template_file,
                  "Jinja template file (default: the model's)");
    c->add_option("--system", a->system, "System prompt");
    c->add_option("-n,--n-predict", a->n_predict, "Most tokens per reply")
        ->check(CLI::Range(1, 1 << 20));
    c->add_option("--temp", a->temperature, "Temperature (0: greedy)")
        ->check(CLI::Range(0.0, 100.0));
    c->add_option("--top-k", a->top_k, "Top-k (0: off)")->check(CLI::NonNegativeNumber);
    c->add_option("--top-p", a->top_p, "Top-p")->check(CLI::Range(0.0, 1.0));
    c->add_option("--seed", a->seed, "Random seed");
    c->add_option("-t,--threads", a->threads, "Compute threads (default: all cores)")
        ->check(CLI::Range(0, 1024));
    c->add_option("-c,--ctx", a->ctx, "Context length")->check(CLI::Range(16, 1 << 22));
    return [a] { return run(*a); };
}

}  // namespace citadel::cli
