// The OpenAI request parsers. Each field is read by one small function; the order of checks
// follows the order of the fields in OpenAI's reference, so the first error reported is the
// one a user reading the docs would look at first.
#include "api/openai_request.h"

#include <limits>

namespace citadel::api {

namespace {

constexpr size_t kMaxStops = 16;
constexpr int kMaxChoices = 16;
constexpr int64_t kMaxTokenId = std::numeric_limits<int32_t>::max();

bool is_tool_name(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    for (const char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

// A string field that must have one of a few values; `expected` lists them for the message.
FieldError read_enum(const Json& value, const std::string& path, std::string_view expected,
                     std::initializer_list<std::string_view> allowed, std::string& out) {
    CITADEL_API_TRY(read_string(value, path, out));
    for (const auto a : allowed) {
        if (out == a) return std::nullopt;
    }
    return invalid_param(path, "must be " + std::string(expected));
}

// ---- messages -----------------------------------------------------------------------------

bool is_media_part(std::string_view type) {
    for (const std::string_view media : {"image_url", "image", "input_image", "input_audio",
                                         "audio", "audio_url", "video", "video_url", "file"}) {
        if (type == media) return true;
    }
    return false;
}

// A string, or an array of content parts whose text parts are joined with "\n".
FieldError parse_content(const Json& content, const std::string& path, std::string& out) {
    if (content.is_string()) return read_string(content, path, out);
    if (!content.is_array()) {
        return type_error(path, "a string or an array of content parts", content);
    }
    out.clear();
    for (size_t i = 0; i < content.size(); ++i) {
        const std::string part_path = index_path(path, i);
        const Json& part = content[i];
        if (!part.is_object()) return type_error(part_path, "a content part object", part);
        const ObjectReader r(part, part_path);
        std::string type, text;
        CITADEL_API_TRY(r.required_string("type", type));
        if (is_media_part(type)) return invalid_param(part_path, "this model accepts text only");
        if (type == "text" || type == "input_text") {
            CITADEL_API_TRY(r.required_string("text", text));
        } else if (type == "refusal") {
            CITADEL_API_TRY(r.required_string("refusal", text));
        } else {
            return invalid_param(r.path("type"),
                                 "unsupported content part type; expected \"text\"");
        }
        if (i > 0) out += '\n';
        out += text;
    }
    return std::nullopt;
}

// OpenAI sends arguments as JSON text; templates want the object (`arguments | tojson`).
Json arguments_for_template(const Json& arguments) {
    if (!arguments.is_string()) return arguments;
    std::string error;
    auto parsed = parse_json(arguments.get_ref<const std::string&>(), error);
    if (parsed && parsed->is_object()) return std::move(*parsed);
    return arguments;
}

// {"name", "arguments"} of a tool call (or of a legacy function_call).
Parsed<Json> parse_call_function(const Json& function, const std::string& path) {
    if (!function.is_object()) return type_error(path, "an object", function);
    const ObjectReader r(function, path);
    std::string name;
    CITADEL_API_TRY(r.required_string("name", name));
    Json arguments = Json::object();
    if (const Json* a = r.find("arguments")) {
        if (a->is_string()) {
            std::string text;
            CITADEL_API_TRY(read_string(*a, r.path("arguments"), text));
        } else if (!a->is_object()) {
            return type_error(r.path("arguments"), "a string of JSON (or an object)", *a);
        }
        arguments = arguments_for_template(*a);
    }
    Json out = Json::object();
    out["name"] = std::move(name);
    out["arguments"] = std::move(arguments);
    return out;
}

Parsed<Json> parse_tool_call(const Json& call, const std::string& path) {
    if (!call.is_object()) return type_error(path, "a tool call object", call);
    const ObjectReader r(call, path);
    std::string id, type = "function";
    CITADEL_API_TRY(r.string("id", id));
    if (const Json* t = r.find("type")) {
        CITADEL_API_TRY(read_enum(*t, r.path("type"), "\"function\"", {"function"}, type));
    }
    const Json* function = r.find("function");
    if (!function) return invalid_param(r.path("function"), "required (an object)");
    auto fn = parse_call_function(*function, r.path("function"));
    if (!fn.ok()) return fn.error();
    Json out = Json::object();
    if (!id.empty()) out["id"] = std::move(id);
    out["type"] = "function";
    out["function"] = std::move(*fn);
    return out;
}

// The assistant's tool_calls (or legacy function_call) into out["tool_calls"].
FieldError parse_assistant_calls(const ObjectReader& r, Json& out) {
    Json calls = Json::array();
    if (const Json* tc = r.find("tool_calls")) {
        if (!tc->is_array()) return type_error(r.path("tool_calls"), "an array", *tc);
        for (size_t i = 0; i < tc->size(); ++i) {
            auto call = parse_tool_call((*tc)[i], index_path(r.path("tool_calls"), i));
            if (!call.ok()) return call.error();
            calls.push_back(std::move(*call));
        }
    } else if (const Json* fc = r.find("function_call")) {
        auto fn = parse_call_function(*fc, r.path("function_call"));
        if (!fn.ok()) return fn.error();
        calls.push_back(Json{{"type", "function"}, {"function", std::move(*fn)}});
    }
    if (!calls.empty()) out["tool_calls"] = std::move(calls);
    return std::nullopt;
}

FieldError parse_role(const ObjectReader& r, std::string& role) {
    const Json* v = r.find("role");
    if (!v) return invalid_param(r.path("role"), "required (a string)");
    CITADEL_API_TRY(read_enum(
        *v, r.path("role"), "one of \"system\", \"developer\", \"user\", \"assistant\", \"tool\"",
        {"system", "developer", "user", "assistant", "tool", "function"}, role));
    if (role == "developer") role = "system";
    if (role == "function") role = "tool";  // legacy function results
    return std::nullopt;
}

Parsed<Json> parse_message(const Json& message, const std::string& path, Dialect dialect) {
    if (!message.is_object()) return type_error(path, "a message object", message);
    const ObjectReader r(message, path);
    std::string role, content, name, tool_call_id, reasoning;
    CITADEL_API_TRY(parse_role(r, role));
    if (const Json* c = r.find("content")) {
        CITADEL_API_TRY(parse_content(*c, r.path("content"), content));
    } else if (role != "assistant" && dialect == Dialect::kOpenAI) {
        return invalid_param(r.path("content"), "required for role \"" + role + "\"");
    }
    CITADEL_API_TRY(r.string("name", name));
    CITADEL_API_TRY(r.string("tool_call_id", tool_call_id));
    CITADEL_API_TRY(r.string("reasoning_content", reasoning));
    if (dialect == Dialect::kOllama) {
        if (const Json* images = r.find("images")) {
            if (!images->is_array()) return type_error(r.path("images"), "an array", *images);
            if (!images->empty())
                return invalid_param(r.path("images"), "this model accepts text only");
        }
        if (name.empty()) CITADEL_API_TRY(r.string("tool_name", name));
        if (reasoning.empty()) CITADEL_API_TRY(r.string("thinking", reasoning));
    }
    Json out = Json::object();
    out["role"] = role;
    out["content"] = std::move(content);
    if (!name.empty()) out["name"] = std::move(name);
    if (!tool_call_id.empty()) out["tool_call_id"] = std::move(tool_call_id);
    if (!reasoning.empty()) out["reasoning_content"] = std::move(reasoning);
    if (role == "assistant") CITADEL_API_TRY(parse_assistant_calls(r, out));
    return out;
}

// ---- tools --------------------------------------------------------------------------------

// {"name", "description"?, "parameters"?, "strict"?} in the order given; other keys dropped.
Parsed<Json> parse_function_definition(const Json& fn, const std::string& path) {
    if (!fn.is_object()) return type_error(path, "a function object", fn);
    const ObjectReader r(fn, path);
    std::string name, description;
    bool strict = false;
    CITADEL_API_TRY(r.required_string("name", name));
    if (!is_tool_name(name)) {
        return invalid_param(r.path("name"), "must be 1 to 64 of a-z, A-Z, 0-9, '_' and '-'");
    }
    CITADEL_API_TRY(r.string("description", description));
    CITADEL_API_TRY(r.boolean("strict", strict));
    if (const Json* p = r.find("parameters"); p && !p->is_object()) {
        return type_error(r.path("parameters"), "an object (a JSON Schema)", *p);
    }
    Json out = Json::object();
    out["name"] = name;
    for (const auto& [key, value] : fn.items()) {
        if (value.is_null()) continue;
        if (key == "description" || key == "parameters" || key == "strict") out[key] = value;
    }
    return out;
}

FieldError parse_tool_choice(const Json& v, const std::string& path, const Json& tools,
                             ToolChoice& out) {
    using Mode = ToolChoice::Mode;
    if (v.is_string()) {
        std::string s;
        CITADEL_API_TRY(read_enum(v, path, "\"none\", \"auto\", \"required\" or a function object",
                                  {"none", "auto", "required"}, s));
        out.mode = s == "none" ? Mode::kNone : s == "auto" ? Mode::kAuto : Mode::kRequired;
    } else if (v.is_object()) {
        const ObjectReader r(v, path);
        std::string type;
        if (const Json* t = r.find("type")) {
            CITADEL_API_TRY(read_enum(*t, r.path("type"), "\"function\"", {"function"}, type));
        }
        // OpenAI's {"type": "function", "function": {"name"}}; legacy function_call: {"name"}.
        const Json* fn = r.find("function");
        const ObjectReader fr(fn ? *fn : v, fn ? r.path("function") : path);
        if (fn && !fn->is_object()) return type_error(r.path("function"), "an object", *fn);
        CITADEL_API_TRY(fr.required_string("name", out.function));
        out.mode = Mode::kFunction;
        bool found = false;
        for (const auto& tool : tools.is_array() ? tools : Json::array()) {
            const auto fn_it = tool.find("function");
            found = found || (fn_it != tool.end() && fn_it->value("name", "") == out.function);
        }
        if (!found && tools.is_array()) {
            return invalid_param(fr.path("name"), "names no function given in tools");
        }
    } else {
        return type_error(path, "a string or an object", v);
    }
    if (out.mode != Mode::kNone && out.mode != Mode::kAuto && !tools.is_array()) {
        return invalid_param(path, "requires tools");
    }
    return std::nullopt;
}

// tools (or legacy functions) and tool_choice (or legacy function_call).
FieldError parse_chat_tools(const ObjectReader& r, ChatRequest& req) {
    if (const Json* tools = r.find("tools")) {
        auto parsed = parse_tools(*tools, r.path("tools"));
        if (!parsed.ok()) return parsed.error();
        req.tools = std::move(*parsed);
    } else if (const Json* functions = r.find("functions")) {
        if (!functions->is_array()) return type_error(r.path("functions"), "an array", *functions);
        req.tools = Json::array();
        for (size_t i = 0; i < functions->size(); ++i) {
            auto fn =
                parse_function_definition((*functions)[i], index_path(r.path("functions"), i));
            if (!fn.ok()) return fn.error();
            req.tools.push_back(Json{{"type", "function"}, {"function", std::move(*fn)}});
        }
        if (req.tools.empty()) req.tools = nullptr;
    }
    req.tool_choice.mode = req.tools.is_array() ? ToolChoice::Mode::kAuto : ToolChoice::Mode::kNone;
    const char* key = r.has("tool_choice") ? "tool_choice" : "function_call";
    if (const Json* choice = r.find(key)) {
        CITADEL_API_TRY(parse_tool_choice(*choice, r.path(key), req.tools, req.tool_choice));
    }
    return std::nullopt;
}

// ---- sampling and the fields chat and completions share ---------------------------------

FieldError parse_seed(const ObjectReader& r, SamplingParams& s) {
    const Json* v = r.find("seed");
    if (!v) return std::nullopt;
    if (v->is_number_unsigned()) {
        s.seed = v->get<uint64_t>();
        return std::nullopt;
    }
    int64_t seed = 0;
    CITADEL_API_TRY(read_int(*v, r.path("seed"), kInt64Min, kInt64Max, seed));
    s.seed = static_cast<uint64_t>(seed);  // negative seeds wrap, as in vLLM's numpy seeding
    return std::nullopt;
}

FieldError parse_logit_bias(const ObjectReader& r, SamplingParams& s) {
    const Json* v = r.find("logit_bias");
    if (!v) return std::nullopt;
    if (!v->is_object()) return type_error(r.path("logit_bias"), "an object", *v);
    for (const auto& [key, bias] : v->items()) {
        const bool digits = !key.empty() && key.size() <= 10 &&
                            key.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || std::stoll(key) > kMaxTokenId) {
            return invalid_param(r.path("logit_bias"),
                                 "keys must be token ids (non-negative decimal integers)");
        }
        float value = 0;
        CITADEL_API_TRY(read_number(bias, r.path("logit_bias") + "." + key, {-100, 100}, value));
        s.logit_bias.emplace_back(static_cast<int32_t>(std::stoll(key)), value);
    }
    return std::nullopt;
}

FieldError parse_sampling(const ObjectReader& r, SamplingParams& s) {
    CITADEL_API_TRY(r.number("temperature", {0, 2}, s.temperature));
    CITADEL_API_TRY(r.number("top_p", {.lo = 0, .hi = 1, .lo_open = true}, s.top_p));
    CITADEL_API_TRY(r.integer("top_k", -1, kInt64Max, s.top_k));
    if (s.top_k < 0) s.top_k = 0;
    CITADEL_API_TRY(r.number("min_p", {0, 1}, s.min_p));
    CITADEL_API_TRY(r.number("presence_penalty", {-2, 2}, s.presence_penalty));
    CITADEL_API_TRY(r.number("frequency_penalty", {-2, 2}, s.frequency_penalty));
    CITADEL_API_TRY(
        r.number("repetition_penalty", {.lo = 0, .hi = 10, .lo_open = true}, s.repetition_penalty));
    CITADEL_API_TRY(parse_seed(r, s));
    CITADEL_API_TRY(parse_logit_bias(r, s));
    return std::nullopt;
}

FieldError parse_stream(const ObjectReader& r, bool& stream, bool& include_usage) {
    CITADEL_API_TRY(r.boolean("stream", stream));
    const Json* options = r.find("stream_options");
    if (!options) return std::nullopt;
    if (!stream) return invalid_param(r.path("stream_options"), "only allowed when stream is true");
    if (!options->is_object()) return type_error(r.path("stream_options"), "an object", *options);
    return ObjectReader(*options, r.path("stream_options")).boolean("include_usage", include_usage);
}

FieldError parse_token_ids(const Json& v, const std::string& path, std::vector<int32_t>& out) {
    if (!v.is_array()) return type_error(path, "an array of token ids", v);
    out.clear();
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        int64_t id = 0;
        CITADEL_API_TRY(read_int(v[i], index_path(path, i), 0, kMaxTokenId, id));
        out.push_back(static_cast<int32_t>(id));
    }
    return std::nullopt;
}

// The fields ChatRequest and CompletionRequest share, by the same names.
template <typename Request>
FieldError parse_generation(const ObjectReader& r, Request& req) {
    CITADEL_API_TRY(parse_sampling(r, req.sampling));
    if (const Json* stop = r.find("stop"))
        CITADEL_API_TRY(parse_stop(*stop, r.path("stop"), req.stop));
    CITADEL_API_TRY(r.integer("n", 1, kMaxChoices, req.n));
    CITADEL_API_TRY(parse_stream(r, req.stream, req.include_usage));
    CITADEL_API_TRY(r.boolean("ignore_eos", req.ignore_eos));
    CITADEL_API_TRY(r.string("user", req.user));
    if (const Json* ids = r.find("stop_token_ids")) {
        CITADEL_API_TRY(parse_token_ids(*ids, r.path("stop_token_ids"), req.stop_token_ids));
    }
    return std::nullopt;
}

// ---- chat ---------------------------------------------------------------------------------

FieldError parse_chat_logprobs(const ObjectReader& r, SamplingParams& s) {
    CITADEL_API_TRY(r.boolean("logprobs", s.logprobs));
    CITADEL_API_TRY(r.integer("top_logprobs", 0, 20, s.top_logprobs));
    if (s.top_logprobs > 0 && !s.logprobs) {
        return invalid_param(r.path("top_logprobs"), "requires logprobs to be true");
    }
    return std::nullopt;
}

FieldError parse_response_format(const ObjectReader& r, ResponseFormat& out) {
    const Json* v = r.find("response_format");
    if (!v) return std::nullopt;
    if (!v->is_object()) return type_error(r.path("response_format"), "an object", *v);
    const ObjectReader fr(*v, r.path("response_format"));
    std::string type;
    CITADEL_API_TRY(fr.required_string("type", type));
    if (type == "json_schema") {
        ApiError e =
            invalid_request("response_format json_schema is not supported; use json_object");
        e.param = "response_format";
        return e;
    }
    if (type != "text" && type != "json_object") {
        return invalid_param(fr.path("type"), "must be \"text\" or \"json_object\"");
    }
    out = type == "json_object" ? ResponseFormat::kJsonObject : ResponseFormat::kText;
    return std::nullopt;
}

FieldError parse_max_tokens(const ObjectReader& r, std::optional<int64_t>& out) {
    for (const char* key : {"max_completion_tokens", "max_tokens"}) {
        int64_t value = 0;
        if (!r.has(key)) continue;
        CITADEL_API_TRY(r.integer(key, 1, kInt64Max, value));
        if (!out) out = value;  // max_completion_tokens wins
    }
    return std::nullopt;
}

Parsed<ChatRequest> parse_chat(std::string_view body) {
    auto json = parse_body(body);
    if (!json.ok()) return json.error();
    const ObjectReader r(*json, "");
    ChatRequest req;
    req.sampling = openai_sampling_defaults();
    CITADEL_API_TRY(r.required_string("model", req.model));
    const Json* messages = r.find("messages");
    if (!messages) return invalid_param("messages", "required (a non-empty array of messages)");
    auto parsed = parse_messages(*messages, "messages", Dialect::kOpenAI);
    if (!parsed.ok()) return parsed.error();
    req.messages = std::move(*parsed);
    CITADEL_API_TRY(parse_generation(r, req));
    CITADEL_API_TRY(parse_max_tokens(r, req.max_tokens));
    CITADEL_API_TRY(parse_chat_logprobs(r, req.sampling));
    CITADEL_API_TRY(parse_response_format(r, req.response_format));
    CITADEL_API_TRY(parse_chat_tools(r, req));
    if (const Json* kwargs = r.find("chat_template_kwargs")) {
        if (!kwargs->is_object()) return type_error("chat_template_kwargs", "an object", *kwargs);
        req.template_kwargs = *kwargs;
    }
    return req;
}

// ---- completions --------------------------------------------------------------------------

FieldError parse_prompt(const Json* prompt, std::vector<CompletionPrompt>& out) {
    if (!prompt) return invalid_param("prompt", "required");
    if (prompt->is_string()) {
        out.push_back({});
        return read_string(*prompt, "prompt", out.back().text);
    }
    if (!prompt->is_array()) {
        return type_error("prompt", "a string, an array of strings or an array of token ids",
                          *prompt);
    }
    if (prompt->empty()) return invalid_param("prompt", "must not be empty");
    const Json& first = (*prompt)[0];
    if (first.is_number()) {  // one prompt of token ids
        out.push_back({.is_tokens = true});
        return parse_token_ids(*prompt, "prompt", out.back().tokens);
    }
    for (size_t i = 0; i < prompt->size(); ++i) {
        const Json& item = (*prompt)[i];
        const std::string path = index_path("prompt", i);
        out.push_back({});
        if (first.is_string()) {
            CITADEL_API_TRY(read_string(item, path, out.back().text));
        } else if (first.is_array()) {
            out.back().is_tokens = true;
            CITADEL_API_TRY(parse_token_ids(item, path, out.back().tokens));
            if (out.back().tokens.empty()) return invalid_param(path, "must not be empty");
        } else {
            return type_error(path, "a string, a token id or an array of token ids", item);
        }
    }
    return std::nullopt;
}

FieldError parse_completion_extras(const ObjectReader& r, CompletionRequest& req) {
    if (const Json* suffix = r.find("suffix"); suffix && *suffix != "") {
        ApiError e = invalid_request("suffix is not supported");
        e.param = "suffix";
        return e;
    }
    CITADEL_API_TRY(r.integer("max_tokens", 1, kInt64Max, req.max_tokens));
    CITADEL_API_TRY(r.boolean("echo", req.echo));
    CITADEL_API_TRY(r.integer("logprobs", 0, 5, req.logprobs));
    if (req.logprobs >= 0) {
        req.sampling.logprobs = true;
        req.sampling.top_logprobs = req.logprobs;
    }
    int best_of = req.n;
    CITADEL_API_TRY(r.integer("best_of", 1, kMaxChoices, best_of));
    if (best_of != req.n && best_of != 1) {
        return invalid_param("best_of", "values other than 1 or n are not supported");
    }
    return std::nullopt;
}

Parsed<CompletionRequest> parse_completion(std::string_view body) {
    auto json = parse_body(body);
    if (!json.ok()) return json.error();
    const ObjectReader r(*json, "");
    CompletionRequest req;
    req.sampling = openai_sampling_defaults();
    CITADEL_API_TRY(r.required_string("model", req.model));
    CITADEL_API_TRY(parse_prompt(r.find("prompt"), req.prompts));
    CITADEL_API_TRY(parse_generation(r, req));
    CITADEL_API_TRY(parse_completion_extras(r, req));
    return req;
}

}  // namespace

SamplingParams openai_sampling_defaults() {
    SamplingParams s;
    s.temperature = 1.0f;
    s.top_p = 1.0f;
    s.top_k = 0;
    s.min_p = 0.0f;
    return s;
}

Parsed<Json> parse_messages(const Json& messages, const std::string& path, Dialect dialect) {
    if (!messages.is_array()) return type_error(path, "a non-empty array of messages", messages);
    if (messages.empty()) return invalid_param(path, "must not be empty");
    Json out = Json::array();
    for (size_t i = 0; i < messages.size(); ++i) {
        auto m = parse_message(messages[i], index_path(path, i), dialect);
        if (!m.ok()) return m.error();
        out.push_back(std::move(*m));
    }
    return out;
}

Parsed<Json> parse_tools(const Json& tools, const std::string& path) {
    if (!tools.is_array()) return type_error(path, "an array of tools", tools);
    if (tools.empty()) return Json(nullptr);
    Json out = Json::array();
    for (size_t i = 0; i < tools.size(); ++i) {
        const std::string tool_path = index_path(path, i);
        const Json& tool = tools[i];
        if (!tool.is_object()) return type_error(tool_path, "a tool object", tool);
        const ObjectReader r(tool, tool_path);
        std::string type;
        if (const Json* t = r.find("type")) {
            CITADEL_API_TRY(read_enum(*t, r.path("type"), "\"function\"", {"function"}, type));
        }
        const Json* fn = r.find("function");
        if (!fn) return invalid_param(r.path("function"), "required (an object)");
        auto def = parse_function_definition(*fn, r.path("function"));
        if (!def.ok()) return def.error();
        out.push_back(Json{{"type", "function"}, {"function", std::move(*def)}});
    }
    return out;
}

FieldError parse_stop(const Json& stop, const std::string& path, std::vector<std::string>& out) {
    out.clear();
    if (stop.is_string()) {
        out.emplace_back();
        CITADEL_API_TRY(read_string(stop, path, out.back()));
        if (out.back().empty()) return invalid_param(path, "must not be empty");
        return std::nullopt;
    }
    if (!stop.is_array()) return type_error(path, "a string or an array of strings", stop);
    if (stop.size() > kMaxStops) {
        return invalid_param(path, "at most " + std::to_string(kMaxStops) + " stop strings, got " +
                                       std::to_string(stop.size()));
    }
    for (size_t i = 0; i < stop.size(); ++i) {
        out.emplace_back();
        CITADEL_API_TRY(read_string(stop[i], index_path(path, i), out.back()));
        if (out.back().empty()) return invalid_param(index_path(path, i), "must not be empty");
    }
    return std::nullopt;
}

Parsed<ChatRequest> parse_chat_request(std::string_view body) {
    try {
        return parse_chat(body);
    } catch (const std::exception& e) {
        return invalid_request(std::string("could not parse the request: ") + e.what());
    }
}

Parsed<CompletionRequest> parse_completion_request(std::string_view body) {
    try {
        return parse_completion(body);
    } catch (const std::exception& e) {
        return invalid_request(std::string("could not parse the request: ") + e.what());
    }
}

}  // namespace citadel::api
