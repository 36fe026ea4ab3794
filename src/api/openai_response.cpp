#include "api/openai_response.h"

#include <charconv>
#include <cmath>

#include "api/openai_request.h"

namespace citadel::api {

namespace {

// The float's shortest decimal form as a double (-0.1f is written -0.1, not
// -0.10000000149011612); -inf and NaN as -9999.0.
double wire_logprob(float lp) {
    if (!std::isfinite(lp)) return -9999.0;
    char buf[32];
    const auto printed = std::to_chars(buf, buf + sizeof buf, lp);
    double out = lp;
    std::from_chars(buf, printed.ptr, out);
    return out;
}

Json null_or(const std::string& s) {
    return s.empty() ? Json(nullptr) : Json(s);
}

Json header(const ResponseMeta& meta, const char* object) {
    Json j = Json::object();
    j["id"] = meta.id;
    j["object"] = object;
    j["created"] = meta.created;
    j["model"] = meta.model;
    j["system_fingerprint"] = null_or(meta.system_fingerprint);
    return j;
}

Json bytes_of(const std::string& s) {
    Json bytes = Json::array();
    for (const char c : s) bytes.push_back(int(static_cast<unsigned char>(c)));
    return bytes;
}

// {"content": [{"token", "logprob", "bytes", "top_logprobs": [{"token", "logprob", "bytes"}]}],
// "refusal": null}
Json chat_logprobs(const std::optional<std::vector<TokenInfo>>& tokens) {
    if (!tokens) return nullptr;
    Json content = Json::array();
    for (const auto& t : *tokens) {
        Json top = Json::array();
        for (const auto& [text, lp] : t.top) {
            top.push_back(
                Json{{"token", text}, {"logprob", wire_logprob(lp)}, {"bytes", bytes_of(text)}});
        }
        content.push_back(Json{{"token", t.text},
                               {"logprob", wire_logprob(t.logprob)},
                               {"bytes", bytes_of(t.text)},
                               {"top_logprobs", std::move(top)}});
    }
    return Json{{"content", std::move(content)}, {"refusal", nullptr}};
}

int64_t code_points(const std::string& s) {
    int64_t n = 0;
    for (const char c : s) n += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
    return n;
}

// {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}], "text_offset"}
Json legacy_logprobs(const std::optional<std::vector<TokenInfo>>& tokens, int64_t offset) {
    if (!tokens) return nullptr;
    Json texts = Json::array(), lps = Json::array(), tops = Json::array(), offsets = Json::array();
    for (const auto& t : *tokens) {
        texts.push_back(t.text);
        lps.push_back(wire_logprob(t.logprob));
        Json top = Json::object();
        for (const auto& [text, lp] : t.top) {
            if (!top.contains(text)) top[text] = wire_logprob(lp);  // keep the likelier one
        }
        tops.push_back(std::move(top));
        offsets.push_back(offset);
        offset += code_points(t.text);
    }
    return Json{{"tokens", std::move(texts)},
                {"token_logprobs", std::move(lps)},
                {"top_logprobs", std::move(tops)},
                {"text_offset", std::move(offsets)}};
}

Json chat_choice(const ChatChoice& c) {
    Json message = Json::object();
    message["role"] = "assistant";
    const bool calls = !c.tool_calls.empty();
    message["content"] = calls && c.content.empty() ? Json(nullptr) : Json(c.content);
    message["refusal"] = nullptr;
    if (calls) message["tool_calls"] = tool_calls_json(c.tool_calls, 0);
    Json choice = Json::object();
    choice["index"] = c.index;
    choice["message"] = std::move(message);
    choice["logprobs"] = chat_logprobs(c.logprobs);
    choice["finish_reason"] = calls ? Json("tool_calls") : null_or(c.finish_reason);
    return choice;
}

Json completion_choice(const CompletionChoice& c, bool with_finish) {
    Json choice = Json::object();
    choice["text"] = c.text;
    choice["index"] = c.index;
    choice["logprobs"] = legacy_logprobs(c.logprobs, c.text_offset0);
    choice["finish_reason"] = with_finish ? null_or(c.finish_reason) : Json(nullptr);
    return choice;
}

}  // namespace

Json usage_json(const UsageInfo& usage) {
    return Json{{"prompt_tokens", usage.prompt_tokens},
                {"completion_tokens", usage.completion_tokens},
                {"total_tokens", usage.prompt_tokens + usage.completion_tokens},
                {"prompt_tokens_details", Json{{"cached_tokens", usage.cached_tokens}}}};
}

Json tool_calls_json(const std::vector<ToolCall>& calls, int first_index) {
    Json out = Json::array();
    for (size_t i = 0; i < calls.size(); ++i) {
        const ToolCall& call = calls[i];
        Json j = Json::object();
        j["index"] = first_index + int(i);
        if (!call.id.empty()) {
            j["id"] = call.id;
            j["type"] = "function";
        }
        Json function = Json::object();
        if (!call.name.empty()) function["name"] = call.name;
        function["arguments"] = call.arguments;
        j["function"] = std::move(function);
        out.push_back(std::move(j));
    }
    return out;
}

std::string chat_completion(const ResponseMeta& meta, const std::vector<ChatChoice>& choices,
                            const UsageInfo& usage) {
    Json j = header(meta, "chat.completion");
    j["choices"] = Json::array();
    for (const auto& c : choices) j["choices"].push_back(chat_choice(c));
    j["usage"] = usage_json(usage);
    return dump_json(j);
}

std::string chat_chunk(const ResponseMeta& meta, const ChatDelta& d) {
    Json delta = Json::object();
    if (d.role) delta["role"] = "assistant";
    if (d.content) delta["content"] = *d.content;
    if (!d.tool_calls.empty())
        delta["tool_calls"] = tool_calls_json(d.tool_calls, d.first_tool_index);
    Json choice = Json::object();
    choice["index"] = d.index;
    choice["delta"] = std::move(delta);
    choice["logprobs"] = chat_logprobs(d.logprobs);
    choice["finish_reason"] = d.finish_reason ? Json(*d.finish_reason) : Json(nullptr);
    Json j = header(meta, "chat.completion.chunk");
    j["choices"] = Json::array({std::move(choice)});
    return dump_json(j);
}

std::string usage_chunk(const ResponseMeta& meta, const UsageInfo& usage, bool chat) {
    Json j = header(meta, chat ? "chat.completion.chunk" : "text_completion");
    j["choices"] = Json::array();
    j["usage"] = usage_json(usage);
    return dump_json(j);
}

std::string completion(const ResponseMeta& meta, const std::vector<CompletionChoice>& choices,
                       const UsageInfo& usage) {
    Json j = header(meta, "text_completion");
    j["choices"] = Json::array();
    for (const auto& c : choices) j["choices"].push_back(completion_choice(c, true));
    j["usage"] = usage_json(usage);
    return dump_json(j);
}

std::string completion_chunk(const ResponseMeta& meta, const CompletionChoice& choice,
                             bool final_chunk) {
    Json j = header(meta, "text_completion");
    j["choices"] = Json::array({completion_choice(choice, final_chunk)});
    return dump_json(j);
}

std::string sse(const std::string& json) {
    return "data: " + json + "\n\n";
}

std::string sse_done() {
    return "data: [DONE]\n\n";
}

namespace {

Json model_json(const ModelInfo& m) {
    Json j = Json::object();
    j["id"] = m.id;
    j["object"] = "model";
    j["created"] = m.created;
    j["owned_by"] = m.owned_by;
    if (m.max_model_len > 0) j["max_model_len"] = m.max_model_len;
    if (!m.state.empty()) j["state"] = m.state;
    return j;
}

Parsed<TokenizeRequest> parse_tokenize_impl(std::string_view body) {
    auto json = parse_body(body);
    if (!json.ok()) return json.error();
    const ObjectReader r(*json, "");
    TokenizeRequest req;
    CITADEL_API_TRY(r.string("model", req.model));
    if (const Json* messages = r.find("messages")) {
        auto parsed = parse_messages(*messages, "messages", Dialect::kOpenAI);
        if (!parsed.ok()) return parsed.error();
        req.messages = std::move(*parsed);
        req.add_special = false;
        CITADEL_API_TRY(r.boolean("add_generation_prompt", req.add_generation_prompt));
    } else if (r.has("prompt")) {
        CITADEL_API_TRY(r.string("prompt", req.text));
    } else if (r.has("content")) {
        CITADEL_API_TRY(r.string("content", req.text));
        req.add_special = false;  // llama.cpp's default
    } else {
        return invalid_param("prompt", "required (a string; or \"content\", or \"messages\")");
    }
    CITADEL_API_TRY(r.boolean("add_special", req.add_special));
    CITADEL_API_TRY(r.boolean("add_special_tokens", req.add_special));
    CITADEL_API_TRY(r.boolean("with_pieces", req.with_pieces));
    return req;
}

Parsed<DetokenizeRequest> parse_detokenize_impl(std::string_view body) {
    auto json = parse_body(body);
    if (!json.ok()) return json.error();
    const ObjectReader r(*json, "");
    DetokenizeRequest req;
    CITADEL_API_TRY(r.string("model", req.model));
    const Json* tokens = r.find("tokens");
    if (!tokens) return invalid_param("tokens", "required (an array of token ids)");
    if (!tokens->is_array()) return type_error("tokens", "an array of token ids", *tokens);
    for (size_t i = 0; i < tokens->size(); ++i) {
        int64_t id = 0;
        CITADEL_API_TRY(read_int((*tokens)[i], index_path("tokens", i), 0,
                                 std::numeric_limits<int32_t>::max(), id));
        req.tokens.push_back(static_cast<int32_t>(id));
    }
    return req;
}

}  // namespace

std::string model_list(const std::vector<ModelInfo>& models) {
    Json data = Json::array();
    for (const auto& m : models) data.push_back(model_json(m));
    return dump_json(Json{{"object", "list"}, {"data", std::move(data)}});
}

std::string model_object(const ModelInfo& model) {
    return dump_json(model_json(model));
}

Parsed<TokenizeRequest> parse_tokenize(std::string_view body) {
    try {
        return parse_tokenize_impl(body);
    } catch (const std::exception& e) {
        return invalid_request(std::string("could not parse the request: ") + e.what());
    }
}

Parsed<DetokenizeRequest> parse_detokenize(std::string_view body) {
    try {
        return parse_detokenize_impl(body);
    } catch (const std::exception& e) {
        return invalid_request(std::string("could not parse the request: ") + e.what());
    }
}

std::string tokenize_response(const std::vector<int32_t>& tokens,
                              const std::vector<std::string>* pieces, int64_t max_model_len) {
    Json list = Json::array();
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (!pieces || i >= pieces->size()) {
            list.push_back(tokens[i]);
            continue;
        }
        const std::string& piece = (*pieces)[i];
        list.push_back(Json{{"id", tokens[i]},
                            {"piece", is_valid_utf8(piece) ? Json(piece) : bytes_of(piece)}});
    }
    Json j = Json::object();
    j["tokens"] = std::move(list);
    j["count"] = tokens.size();
    j["max_model_len"] = max_model_len;
    return dump_json(j);
}

std::string detokenize_response(const std::string& text) {
    return dump_json(Json{{"prompt", text}, {"content", text}});
}

}  // namespace citadel::api
