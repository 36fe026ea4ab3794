// citadel template: render a chat template with a conversation, as Hugging Face would.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/common.h"
#include "cli/verbs.h"
#include "text/template/chat_template.h"
#include "text/template/chat_template_source.h"

namespace citadel::cli {
namespace {

using nlohmann::ordered_json;

struct TemplateArgs {
    std::string template_file;
    std::string model;
    std::string tokenizer_dir;
    std::string context_file;
    std::string batch_file;
    std::string now;
};

constexpr int kExitTemplateError = 3;

Result<jinja::ChatTemplateSource> load_source(const TemplateArgs& a) {
    const int n =
        int(!a.template_file.empty()) + int(!a.model.empty()) + int(!a.tokenizer_dir.empty());
    if (n != 1) return Status::error("give exactly one of --template, -m/--model, --tokenizer");
    if (!a.template_file.empty()) return jinja::load_template_file(a.template_file);
    if (!a.model.empty()) return jinja::load_template_from_gguf(a.model);
    return jinja::load_template_from_hf_dir(a.tokenizer_dir);
}

Result<ordered_json> read_json(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot open '" + path + "'");
    std::ostringstream ss;
    ss << in.rdbuf();
    ordered_json j = ordered_json::parse(ss.str(), nullptr, false);
    if (j.is_discarded()) return Status::error("'" + path + "' is not valid JSON");
    return j;
}

// --now, else $CITADEL_NOW, else the real clock.
Result<std::optional<std::tm>> pinned_time(const std::string& flag) {
    std::string text = flag;
    if (text.empty()) {
        const char* env = std::getenv("CITADEL_NOW");
        if (env && *env) text = env;
    }
    if (text.empty()) return std::optional<std::tm>();
    Result<std::tm> tm = jinja::parse_datetime(text);
    if (!tm) return tm.status();
    return std::optional<std::tm>(*tm);
}

int run_batch(const jinja::ChatTemplateSource& src, const Result<jinja::ChatTemplate>& tpl,
              const std::string& path) {
    Result<ordered_json> contexts = read_json(path);
    if (!contexts) return fail(contexts.error());
    if (!contexts->is_array()) return fail("'" + path + "' must hold a JSON array of contexts");
    ordered_json out = ordered_json::array();
    for (const ordered_json& context : *contexts) {
        if (!tpl) {
            out.push_back({{"error", src.origin + ": " + tpl.error()}});
            continue;
        }
        Result<std::string> text = tpl->apply(context);
        if (text) {
            out.push_back({{"text", *text}});
        } else {
            out.push_back({{"error", text.error()}});
        }
    }
    const std::string dumped = out.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
    std::fwrite(dumped.data(), 1, dumped.size(), stdout);
    std::fputc('\n', stdout);
    return 0;
}

int run(const TemplateArgs& a) {
    if (a.context_file.empty() == a.batch_file.empty()) {
        return fail("give exactly one of --context or --batch");
    }
    Result<jinja::ChatTemplateSource> src = load_source(a);
    if (!src) return fail(src.error());
    Result<std::optional<std::tm>> now = pinned_time(a.now);
    if (!now) return fail(now.error());
    jinja::ChatTemplateOptions options;
    options.bos_token = src->bos_token;
    options.eos_token = src->eos_token;
    options.now = *now;
    Result<jinja::ChatTemplate> tpl = jinja::ChatTemplate::create(src->source, options);
    if (!a.batch_file.empty()) return run_batch(*src, tpl, a.batch_file);
    Result<ordered_json> context = read_json(a.context_file);
    if (!context) return fail(context.error());
    if (!context->is_object()) return fail("'" + a.context_file + "' must hold a JSON object");
    if (!tpl) {
        std::fprintf(stderr, "citadel: %s: %s\n", src->origin.c_str(), tpl.error().c_str());
        return kExitTemplateError;
    }
    Result<std::string> text = tpl->apply(*context);
    if (!text) {
        std::fprintf(stderr, "citadel: %s\n", text.error().c_str());
        return kExitTemplateError;
    }
    std::fwrite(text->data(), 1, text->size(), stdout);
    return 0;
}

}  // namespace

VerbRunner add_template(CLI::App& app) {
    auto args = std::make_shared<TemplateArgs>();
    CLI::App* sub = app.add_subcommand("template", "render a chat template with a conversation");
    sub->add_option("--template", args->template_file, "Jinja template file");
    sub->add_option("-m,--model", args->model, "GGUF model whose tokenizer.chat_template to use");
    sub->add_option("--tokenizer", args->tokenizer_dir, "Hugging Face tokenizer directory");
    sub->add_option("--context", args->context_file, "JSON object: messages, tools, ...");
    sub->add_option("--batch", args->batch_file, "JSON array of contexts; prints a JSON array");
    sub->add_option("--now", args->now,
                    "pin strftime_now() to \"YYYY-MM-DD HH:MM:SS\" (default: $CITADEL_NOW, "
                    "else the clock)");
    return [args] { return run(*args); };
}

}  // namespace citadel::cli
