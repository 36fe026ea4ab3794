// The benchmark stub (--bench-stub-model NAME): a chat model that answers at once with a
// fixed reply. The request passes every gateway filter a real one does (authentication,
// model access, limits, input guards, classifier, output redaction, token accounting,
// audit), so `bench/gateway_bench.sh` can measure what the gateway costs without an engine.
#include <algorithm>
#include <ctime>

#include "api/openai_response.h"
#include "api/respond.h"
#include "api/service.h"
#include "gateway/pii.h"

namespace citadel::api {
namespace {

constexpr const char* kStubReply =
    "This is a fixed reply from the benchmark stub model; write to ops@example.com for help.";

}  // namespace

bool Service::is_stub(const std::string& model) const {
    const auto& s = options_.stub_models;
    return std::find(s.begin(), s.end(), model) != s.end();
}

void Service::stub_chat(const ChatRequest& request, const Res& res, const Scope& scope) {
    if (auto err = admit(scope, request.model)) return send_error(*res, *err);
    auto r = std::make_shared<ChatRequest>(request);
    const MessageTexts texts = message_texts(r->messages);
    if (auto err = guard(scope, texts)) return send_error(*res, *err);
    if (scope->wants_text()) scope->set_prompt_text(r->messages.dump());
    std::string said;
    for (const std::string* t : texts.untrusted) said += *t;
    scope->charge_prompt(int64_t(said.size() / 4 + 1));  // a token is about 4 bytes of text
    std::string reply = kStubReply;
    auto [scanner, mode] = gateway_.output_guard(*scope);
    if (scanner && mode != gateway::PiiMode::kOff && mode != gateway::PiiMode::kLog) {
        std::vector<gateway::PiiMatch> found;
        reply = scanner->redact(reply, &found);
        for (const auto& m : found)
            scope->note_guard(std::string("pii.output:") + gateway::pii_mode_name(mode) + ":" +
                              m.type);
    }
    const int64_t completion_tokens = int64_t(reply.size() / 4 + 1);
    scope->charge_completion(completion_tokens);
    scope->add_completion_text(reply);
    const ResponseMeta meta{
        .id = make_id("chatcmpl-"), .created = int64_t(std::time(nullptr)), .model = r->model};
    const ChatChoice choice{.index = 0, .content = reply, .finish_reason = "stop"};
    const UsageInfo usage{.prompt_tokens = int64_t(said.size() / 4 + 1),
                          .completion_tokens = completion_tokens};
    send_json(*res, 200, chat_completion(meta, {choice}, usage));
}

}  // namespace citadel::api
