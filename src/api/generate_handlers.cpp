// The generating routes: /v1/chat/completions, /v1/completions, /api/chat, /api/generate.
// Each parses its body, turns it into prompt tokens (chat template or plain text), checks
// it against the context, and starts a GenerationJob with one engine request per choice.
#include <ctime>

#include "api/gateway_glue.h"
#include "api/generation.h"
#include "api/input_steps.h"
#include "api/ollama.h"
#include "api/openai_request.h"
#include "api/reply_constraint.h"
#include "api/respond.h"
#include "api/service.h"
#include "gateway/classifier.h"
#include "text/chat_prompt.h"

namespace citadel::api {
namespace {

using nlohmann::ordered_json;
using server::Request;
using Res = std::shared_ptr<server::Responder>;
using ModelPtr = std::shared_ptr<ops::LoadedModel>;

template <typename T>
using Or = std::variant<T, ApiError>;

gateway::Classifier* output_classifier(const Scope& scope) {
    gateway::Classifier* c = scope->gateway().classifier();
    return c && c->options().check_output ? c : nullptr;
}

int64_t unix_now() {
    return int64_t(std::time(nullptr));
}

// Sampling values that need the model (logit_bias ids within the vocabulary); the message
// starts with the field's name, which becomes the error's param.
std::optional<ApiError> check_sampling(const SamplingParams& p, const ops::LoadedModel& m) {
    Status s = validate(p, int64_t(m.tokenizer->size()));
    if (s.ok()) return std::nullopt;
    const std::string& msg = s.message();
    return ApiError{.message = msg, .param = msg.substr(0, msg.find(' '))};
}

// The prompt's tokens from a chat: template rendered with the messages (and tools).
Or<std::vector<int32_t>> chat_tokens(const ops::LoadedModel& m, const ChatRequest& r) {
    ordered_json context = {{"messages", r.messages}, {"add_generation_prompt", true}};
    if (!r.tools.is_null() && r.tool_choice.mode != ToolChoice::Mode::kNone)
        context["tools"] = r.tools;
    if (r.template_kwargs.is_object()) {
        for (const auto& [k, v] : r.template_kwargs.items()) context[k] = v;
    }
    Result<text::ChatPrompt> prompt = text::render_chat(*m.chat_template, context);
    if (!prompt) {
        return ApiError{
            .message = "the chat template could not render these messages: " + prompt.error(),
            .param = "messages"};
    }
    return text::encode_chat(*m.tokenizer, *prompt);
}

// How many tokens the reply may have: what the client asked for, within the context.
Or<int64_t> reply_budget(size_t prompt_tokens, std::optional<int64_t> asked, int64_t n_ctx,
                         const std::string& what) {
    const int64_t n = int64_t(prompt_tokens);
    if (n >= n_ctx) {
        return ApiError{.message = "This model's maximum context length is " +
                                   std::to_string(n_ctx) + " tokens. However, your " + what +
                                   " resulted in " + std::to_string(n) +
                                   " tokens, leaving no room for a reply.",
                        .param = "messages",
                        .code = "context_length_exceeded"};
    }
    if (!asked) return n_ctx - n;
    if (*asked > n_ctx - n) {
        return ApiError{.message = "This model's maximum context length is " +
                                   std::to_string(n_ctx) + " tokens. However, you requested " +
                                   std::to_string(n + *asked) + " tokens (" + std::to_string(n) +
                                   " in the " + what + ", " + std::to_string(*asked) +
                                   " for the completion). Please reduce the length of the " + what +
                                   " or the completion.",
                        .param = "max_tokens",
                        .code = "context_length_exceeded"};
    }
    return *asked;
}

// n choices of one request; each gets its own constraint (it has state) when `structure` is
// given.
std::vector<ChoiceSpec> repeat_choice(
    const GenerationRequest& base, int n, const ops::LoadedModel& m,
    const std::optional<std::vector<ConstraintPart>>& structure = std::nullopt) {
    std::vector<ChoiceSpec> out;
    for (int i = 0; i < n; ++i) {
        ChoiceSpec c{.request = base};
        if (structure) {
            c.request.constraint =
                make_constraint(m.vocab_bytes, *structure, m.tokenizer->end_of_generation());
        }
        // Each choice its own draw; a seeded request stays reproducible choice by choice.
        if (base.sampling.seed) c.request.sampling.seed = *base.sampling.seed + uint64_t(i);
        out.push_back(std::move(c));
    }
    return out;
}

void start_chat(const ModelPtr& m, const ChatRequest& r, Wire wire, bool stream, const Res& res,
                const Scope& scope) {
    const bool ollama = wire == Wire::kOllamaChat;
    Or<std::vector<int32_t>> tokens = chat_tokens(*m, r);
    if (auto* err = std::get_if<ApiError>(&tokens)) return send_error(*res, *err, ollama);
    auto& prompt = std::get<std::vector<int32_t>>(tokens);
    Or<int64_t> budget = reply_budget(prompt.size(), r.max_tokens, m->engine->n_ctx(), "messages");
    if (auto* err = std::get_if<ApiError>(&budget)) return send_error(*res, *err, ollama);
    if (auto err = check_sampling(r.sampling, *m)) return send_error(*res, *err, ollama);
    auto structure = reply_structure(*m, r);
    if (auto* err = std::get_if<ApiError>(&structure)) return send_error(*res, *err, ollama);

    scope->charge_prompt(int64_t(prompt.size()));
    GenerationRequest g{.prompt = std::move(prompt),
                        .sampling = r.sampling,
                        .max_tokens = std::get<int64_t>(budget),
                        .stop_tokens = r.stop_token_ids,
                        .ignore_eos = r.ignore_eos};
    JobSpec spec{.wire = wire,
                 .stream = stream,
                 .include_usage = r.include_usage,
                 .meta = {.id = make_id("chatcmpl-"), .created = unix_now(), .model = r.model},
                 .stop = r.stop,
                 .logprobs = r.sampling.logprobs,
                 .n = r.n,
                 .scope = scope,
                 .output_classifier = output_classifier(scope)};
    if (!r.tools.is_null() && r.tool_choice.mode != ToolChoice::Mode::kNone)
        spec.tool_format = detect_tool_format(m->template_source);
    auto job = std::make_shared<GenerationJob>(std::move(spec), m, res);
    auto [scanner, mode] = scope->gateway().output_guard(*scope);
    job->scan_output(std::move(scanner), mode);
    job->start(
        repeat_choice(g, r.n, *m, std::get<std::optional<std::vector<ConstraintPart>>>(structure)));
}

// Prompt tokens of a completion prompt (text gets the model's BOS; ids are checked).
Or<std::vector<int32_t>> completion_tokens(const text::Tokenizer& tok, const CompletionPrompt& p,
                                           size_t index) {
    if (!p.is_tokens) return tok.encode(p.text, {.add_special = true, .parse_special = true});
    const int64_t n_vocab = int64_t(tok.size());
    for (int32_t id : p.tokens) {
        if (id < 0 || id >= n_vocab) {
            return ApiError{.message = "prompt " + std::to_string(index) + ": token id " +
                                       std::to_string(id) + " is not in the vocabulary [0, " +
                                       std::to_string(n_vocab) + ")",
                            .param = "prompt"};
        }
    }
    if (p.tokens.empty()) return ApiError{.message = "the prompt is empty", .param = "prompt"};
    return p.tokens;
}

void start_completion(const ModelPtr& m, const CompletionRequest& r, Wire wire, bool stream,
                      const Res& res, const Scope& scope) {
    const bool ollama = wire == Wire::kOllamaGenerate;
    if (auto err = check_sampling(r.sampling, *m)) return send_error(*res, *err, ollama);
    std::vector<ChoiceSpec> choices;
    for (size_t i = 0; i < r.prompts.size(); ++i) {
        Or<std::vector<int32_t>> tokens = completion_tokens(*m->tokenizer, r.prompts[i], i);
        if (auto* err = std::get_if<ApiError>(&tokens)) return send_error(*res, *err, ollama);
        auto& prompt = std::get<std::vector<int32_t>>(tokens);
        if (prompt.empty())
            return send_error(*res, {.message = "the prompt is empty", .param = "prompt"}, ollama);
        Or<int64_t> budget = reply_budget(
            prompt.size(),
            r.max_tokens == kUpToContext ? std::nullopt : std::optional<int64_t>(r.max_tokens),
            m->engine->n_ctx(), "prompt");
        if (auto* err = std::get_if<ApiError>(&budget)) return send_error(*res, *err, ollama);
        scope->charge_prompt(int64_t(prompt.size()));
        std::string echo;
        if (r.echo)
            echo = r.prompts[i].is_tokens ? m->tokenizer->decode(prompt) : r.prompts[i].text;
        GenerationRequest g{.prompt = std::move(prompt),
                            .sampling = r.sampling,
                            .max_tokens = std::get<int64_t>(budget),
                            .stop_tokens = r.stop_token_ids,
                            .ignore_eos = r.ignore_eos};
        for (ChoiceSpec& c : repeat_choice(g, r.n, *m)) {
            c.echo = echo;
            choices.push_back(std::move(c));
        }
    }
    JobSpec spec{.wire = wire,
                 .stream = stream,
                 .include_usage = r.include_usage,
                 .meta = {.id = make_id("cmpl-"), .created = unix_now(), .model = r.model},
                 .stop = r.stop,
                 .logprobs = r.sampling.logprobs,
                 .n = r.n,
                 .scope = scope,
                 .output_classifier = output_classifier(scope)};
    auto job = std::make_shared<GenerationJob>(std::move(spec), m, res);
    auto [scanner, mode] = scope->gateway().output_guard(*scope);
    job->scan_output(std::move(scanner), mode);
    job->start(std::move(choices));
}

// /api/generate: raw prompts complete as they are; others are a user message under the
// model's chat template, as Ollama does.
void generate_ollama(const ModelPtr& model, OllamaGenerateRequest& r, const Res& res,
                     const Scope& scope) {
    if (r.raw) {
        r.completion.prompts = {CompletionPrompt{.text = r.prompt}};
        return start_completion(model, r.completion, Wire::kOllamaGenerate, r.stream, res, scope);
    }
    ChatRequest chat;
    chat.model = r.model;
    chat.messages = ordered_json::array();
    chat.tools = nullptr;
    chat.sampling = r.completion.sampling;
    chat.stop = r.completion.stop;
    chat.ignore_eos = r.completion.ignore_eos;
    chat.response_format = r.format;
    if (r.completion.max_tokens > 0) chat.max_tokens = r.completion.max_tokens;
    if (!r.system.empty()) chat.messages.push_back({{"role", "system"}, {"content", r.system}});
    chat.messages.push_back({{"role", "user"}, {"content", r.prompt}});
    start_chat(model, chat, Wire::kOllamaGenerate, r.stream, res, scope);
}

}  // namespace

std::string untrusted_text(const MessageTexts& t) {
    std::string out;
    for (const std::string* s : t.untrusted) out += (out.empty() ? "" : "\n") + *s;
    return out;
}

void classify_then(const gateway::Gateway& gw, const Scope& scope, const Res& res, bool ollama,
                   std::string text, std::function<void()> go) {
    gateway::Classifier* c = gw.classifier();
    if (!c || !c->options().check_input) return go();
    c->check("input", std::move(text), scope->model(), scope->request_id(),
             [scope, res, ollama, go = std::move(go)](gateway::ClassifierVerdict v) {
                 const std::string how = v.failed ? "failed" : v.allow ? "flag" : "block";
                 if (!v.allow || v.flagged || v.failed)
                     scope->note_guard("classifier.input:" + how +
                                       (v.reason.empty() ? "" : ":" + v.reason));
                 if (v.allow) return go();
                 send_error(
                     *res,
                     {.message = "The request was refused by the content classifier" +
                                 (v.reason.empty() ? std::string(".") : ": " + v.reason + "."),
                      .param = "messages",
                      .code = "content_blocked"},
                     ollama);
             });
}

void Service::chat(const Request& req, const Res& res, const Scope& scope) {
    Parsed<ChatRequest> p = parse_chat_request(req.body);
    if (auto* err = std::get_if<ApiError>(&p)) return send_error(*res, *err);
    auto r = std::make_shared<ChatRequest>(std::move(std::get<ChatRequest>(p)));
    if (route(req, res, scope, r->model, Wire::kChat)) return;
    if (is_stub(r->model)) return stub_chat(*r, res, scope);
    auto name = model_name(r->model);
    if (auto* err = std::get_if<ApiError>(&name)) return send_error(*res, *err);
    const std::string model = std::get<std::string>(name);
    if (auto err = admit(scope, model)) return send_error(*res, *err);
    const MessageTexts texts = message_texts(r->messages);
    if (auto err = guard(scope, texts)) return send_error(*res, *err);
    if (scope->wants_text()) scope->set_prompt_text(r->messages.dump());
    classify_then(gateway_, scope, res, false, untrusted_text(texts), [=, this] {
        with_model(model, res, false,
                   [=](ModelPtr m) { start_chat(m, *r, Wire::kChat, r->stream, res, scope); });
    });
}

void Service::completions(const Request& req, const Res& res, const Scope& scope) {
    Parsed<CompletionRequest> p = parse_completion_request(req.body);
    if (auto* err = std::get_if<ApiError>(&p)) return send_error(*res, *err);
    auto r = std::make_shared<CompletionRequest>(std::move(std::get<CompletionRequest>(p)));
    if (route(req, res, scope, r->model, Wire::kCompletion)) return;
    auto name = model_name(r->model);
    if (auto* err = std::get_if<ApiError>(&name)) return send_error(*res, *err);
    const std::string model = std::get<std::string>(name);
    if (auto err = admit(scope, model)) return send_error(*res, *err);
    MessageTexts texts;
    for (CompletionPrompt& prompt : r->prompts) {
        if (prompt.is_tokens) continue;
        texts.all.push_back(&prompt.text);
        texts.untrusted.push_back(&prompt.text);
    }
    if (auto err = guard(scope, texts)) return send_error(*res, *err);
    if (scope->wants_text()) scope->set_prompt_text(untrusted_text(texts));
    classify_then(gateway_, scope, res, false, untrusted_text(texts), [=, this] {
        with_model(model, res, false, [=](ModelPtr m) {
            start_completion(m, *r, Wire::kCompletion, r->stream, res, scope);
        });
    });
}

void Service::ollama_chat(const Request& req, const Res& res, const Scope& scope) {
    Parsed<OllamaChatRequest> p = parse_ollama_chat(req.body);
    if (auto* err = std::get_if<ApiError>(&p)) return send_error(*res, *err, true);
    auto r = std::make_shared<OllamaChatRequest>(std::move(std::get<OllamaChatRequest>(p)));
    if (route(req, res, scope, r->chat.model, Wire::kOllamaChat)) return;
    auto name = model_name(r->chat.model);
    if (auto* err = std::get_if<ApiError>(&name)) return send_error(*res, *err, true);
    const std::string model = std::get<std::string>(name);
    if (auto err = admit(scope, model)) return send_error(*res, *err, true);
    const MessageTexts texts = message_texts(r->chat.messages);
    if (auto err = guard(scope, texts)) return send_error(*res, *err, true);
    if (scope->wants_text()) scope->set_prompt_text(r->chat.messages.dump());
    classify_then(gateway_, scope, res, true, untrusted_text(texts), [=, this] {
        with_model(model, res, true, [=](ModelPtr m) {
            start_chat(m, r->chat, Wire::kOllamaChat, r->stream, res, scope);
        });
    });
}

void Service::ollama_generate(const Request& req, const Res& res, const Scope& scope) {
    Parsed<OllamaGenerateRequest> p = parse_ollama_generate(req.body);
    if (auto* err = std::get_if<ApiError>(&p)) return send_error(*res, *err, true);
    auto r = std::make_shared<OllamaGenerateRequest>(std::move(std::get<OllamaGenerateRequest>(p)));
    if (route(req, res, scope, r->model, Wire::kOllamaGenerate)) return;
    auto name = model_name(r->model);
    if (auto* err = std::get_if<ApiError>(&name)) return send_error(*res, *err, true);
    const std::string model = std::get<std::string>(name);
    if (auto err = admit(scope, model)) return send_error(*res, *err, true);
    MessageTexts texts{.all = {&r->prompt, &r->system}, .untrusted = {&r->prompt}};
    if (auto err = guard(scope, texts)) return send_error(*res, *err, true);
    if (scope->wants_text()) scope->set_prompt_text(r->system + "\n" + r->prompt);
    classify_then(gateway_, scope, res, true, r->prompt, [=, this] {
        with_model(model, res, true, [=](ModelPtr m) { generate_ollama(m, *r, res, scope); });
    });
}

}  // namespace citadel::api
