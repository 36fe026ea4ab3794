#include "api/ollama.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include "api/openai_request.h"
#include "api/tool_calls.h"

namespace citadel::api {

namespace {

SamplingParams ollama_sampling_defaults() {
    SamplingParams s;
    s.temperature = 0.8f;
    s.top_k = 40;
    s.top_p = 0.9f;
    s.min_p = 0.0f;
    s.repetition_penalty = 1.0f;  // see the header: not Ollama's 1.1
    return s;
}

// What options and the top-level fields set besides the sampling parameters.
struct OllamaCommon {
    SamplingParams sampling = ollama_sampling_defaults();
    std::optional<int64_t> max_tokens;  // none: up to the context
    std::vector<std::string> stop;
    ResponseFormat format = ResponseFormat::kText;
    bool stream = true;
};

FieldError parse_num_predict(const ObjectReader& r, std::optional<int64_t>& out) {
    int64_t n = -1;
    CITADEL_API_TRY(r.integer("num_predict", kInt64Min, kInt64Max, n));
    if (n == -1 || n == -2) return std::nullopt;
    if (n < 1) return invalid_param(r.path("num_predict"), "must be -1, -2 or >= 1");
    out = n;
    return std::nullopt;
}

FieldError parse_options(const Json& options, OllamaCommon& c) {
    if (!options.is_object()) return type_error("options", "an object", options);
    const ObjectReader r(options, "options");
    SamplingParams& s = c.sampling;
    CITADEL_API_TRY(r.number("temperature", {.lo = 0}, s.temperature));
    CITADEL_API_TRY(r.integer("top_k", -1, kInt64Max, s.top_k));
    if (s.top_k < 0) s.top_k = 0;
    CITADEL_API_TRY(r.number("top_p", {.lo = 0, .hi = 1, .lo_open = true}, s.top_p));
    CITADEL_API_TRY(r.number("min_p", {0, 1}, s.min_p));
    CITADEL_API_TRY(parse_num_predict(r, c.max_tokens));
    if (const Json* stop = r.find("stop"))
        CITADEL_API_TRY(parse_stop(*stop, r.path("stop"), c.stop));
    int64_t seed = -1;
    CITADEL_API_TRY(r.integer("seed", kInt64Min, kInt64Max, seed));
    if (seed >= 0) s.seed = static_cast<uint64_t>(seed);
    CITADEL_API_TRY(
        r.number("repeat_penalty", {.lo = 0, .hi = 10, .lo_open = true}, s.repetition_penalty));
    CITADEL_API_TRY(r.number("presence_penalty", {-2, 2}, s.presence_penalty));
    CITADEL_API_TRY(r.number("frequency_penalty", {-2, 2}, s.frequency_penalty));
    return std::nullopt;
}

FieldError parse_format(const ObjectReader& r, ResponseFormat& out) {
    const Json* v = r.find("format");
    if (!v) return std::nullopt;
    if (v->is_object()) {
        return invalid_param("format", "JSON schema output is not supported; use \"json\"");
    }
    std::string format;
    CITADEL_API_TRY(read_string(*v, "format", format));
    if (format != "json" && !format.empty()) return invalid_param("format", "must be \"json\"");
    out = format == "json" ? ResponseFormat::kJsonObject : ResponseFormat::kText;
    return std::nullopt;
}

FieldError parse_common(const ObjectReader& r, OllamaCommon& c) {
    CITADEL_API_TRY(parse_format(r, c.format));
    if (const Json* options = r.find("options")) CITADEL_API_TRY(parse_options(*options, c));
    return r.boolean("stream", c.stream);
}

Parsed<OllamaChatRequest> parse_chat_impl(std::string_view body) {
    auto json = parse_body(body);
    if (!json.ok()) return json.error();
    const ObjectReader r(*json, "");
    OllamaChatRequest req;
    ChatRequest& chat = req.chat;
    CITADEL_API_TRY(r.required_string("model", chat.model));
    const Json* messages = r.find("messages");
    if (!messages) return invalid_param("messages", "required (a non-empty array of messages)");
    auto parsed = parse_messages(*messages, "messages", Dialect::kOllama);
    if (!parsed.ok()) return parsed.error();
    chat.messages = std::move(*parsed);
    if (const Json* tools = r.find("tools")) {
        auto t = parse_tools(*tools, "tools");
        if (!t.ok()) return t.error();
        chat.tools = std::move(*t);
    }
    chat.tool_choice.mode =
        chat.tools.is_array() ? ToolChoice::Mode::kAuto : ToolChoice::Mode::kNone;
    OllamaCommon c;
    CITADEL_API_TRY(parse_common(r, c));
    chat.sampling = std::move(c.sampling);
    chat.max_tokens = c.max_tokens;
    chat.stop = std::move(c.stop);
    chat.response_format = c.format;
    chat.stream = req.stream = c.stream;
    return req;
}

FieldError refuse_images(const ObjectReader& r) {
    const Json* images = r.find("images");
    if (!images) return std::nullopt;
    if (!images->is_array()) return type_error("images", "an array", *images);
    if (!images->empty()) return invalid_param("images", "this model accepts text only");
    return std::nullopt;
}

Parsed<OllamaGenerateRequest> parse_generate_impl(std::string_view body) {
    auto json = parse_body(body);
    if (!json.ok()) return json.error();
    const ObjectReader r(*json, "");
    OllamaGenerateRequest req;
    CITADEL_API_TRY(r.required_string("model", req.model));
    CITADEL_API_TRY(r.string("prompt", req.prompt));
    std::string suffix;
    CITADEL_API_TRY(r.string("suffix", suffix));
    if (!suffix.empty()) return invalid_param("suffix", "not supported");
    CITADEL_API_TRY(r.string("system", req.system));
    CITADEL_API_TRY(r.boolean("raw", req.raw));
    CITADEL_API_TRY(refuse_images(r));
    OllamaCommon c;
    CITADEL_API_TRY(parse_common(r, c));
    req.format = c.format;
    req.stream = c.stream;
    CompletionRequest& comp = req.completion;
    comp.model = req.model;
    comp.prompts.push_back({.text = req.prompt});
    comp.sampling = std::move(c.sampling);
    comp.max_tokens = c.max_tokens.value_or(kUpToContext);
    comp.stop = std::move(c.stop);
    comp.stream = c.stream;
    return req;
}

int64_t now_unix_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Json line_header(const std::string& model) {
    Json j = Json::object();
    j["model"] = model;
    j["created_at"] = rfc3339_nanos(now_unix_ns());
    return j;
}

void add_done(Json& j, bool done, const std::string& done_reason, const OllamaTimings* t) {
    j["done"] = done;
    if (!done) return;
    j["done_reason"] = done_reason;
    if (!t) return;
    j["total_duration"] = t->total_ns;
    j["load_duration"] = t->load_ns;
    j["prompt_eval_count"] = t->prompt_eval_count;
    j["prompt_eval_duration"] = t->prompt_eval_ns;
    j["eval_count"] = t->eval_count;
    j["eval_duration"] = t->eval_ns;
}

Json details_json(const OllamaModel& m) {
    Json d = Json::object();
    d["parent_model"] = "";
    d["format"] = "gguf";
    d["family"] = m.family;
    d["families"] = m.family.empty() ? Json(nullptr) : Json::array({m.family});
    d["parameter_size"] = m.parameter_size;
    d["quantization_level"] = m.quantization;
    return d;
}

}  // namespace

Parsed<OllamaChatRequest> parse_ollama_chat(std::string_view body) {
    try {
        return parse_chat_impl(body);
    } catch (const std::exception& e) {
        return invalid_request(std::string("could not parse the request: ") + e.what());
    }
}

Parsed<OllamaGenerateRequest> parse_ollama_generate(std::string_view body) {
    try {
        return parse_generate_impl(body);
    } catch (const std::exception& e) {
        return invalid_request(std::string("could not parse the request: ") + e.what());
    }
}

std::string rfc3339_nanos(int64_t unix_ns) {
    int64_t secs = unix_ns / 1'000'000'000, nanos = unix_ns % 1'000'000'000;
    if (nanos < 0) nanos += 1'000'000'000, secs -= 1;
    const std::time_t t = static_cast<std::time_t>(secs);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(nanos));
    return buf;
}

std::string ollama_chat_line(const std::string& model, const std::string& content,
                             const std::vector<ToolCall>& calls, bool done,
                             const std::string& done_reason, const OllamaTimings* timings) {
    Json message = Json::object();
    message["role"] = "assistant";
    message["content"] = content;
    if (!calls.empty()) {
        Json list = Json::array();
        for (const auto& call : calls) {
            std::string error;
            auto args = parse_json(call.arguments, error);
            const bool object = args && args->is_object();
            Json fn = Json{{"name", call.name},
                           {"arguments", object ? std::move(*args) : Json(call.arguments)}};
            list.push_back(Json{{"function", std::move(fn)}});
        }
        message["tool_calls"] = std::move(list);
    }
    Json j = line_header(model);
    j["message"] = std::move(message);
    add_done(j, done, done_reason, timings);
    return dump_json(j) + "\n";
}

std::string ollama_generate_line(const std::string& model, const std::string& response, bool done,
                                 const std::string& done_reason, const OllamaTimings* timings) {
    Json j = line_header(model);
    j["response"] = response;
    add_done(j, done, done_reason, timings);
    return dump_json(j) + "\n";
}

std::string ollama_tags(const std::vector<OllamaModel>& models) {
    Json list = Json::array();
    for (const auto& m : models) {
        Json j = Json::object();
        j["name"] = m.name;
        j["model"] = m.name;
        j["modified_at"] = rfc3339_nanos(m.modified_unix * 1'000'000'000);
        j["size"] = m.size_bytes;
        j["digest"] = m.digest;
        j["details"] = details_json(m);
        list.push_back(std::move(j));
    }
    return dump_json(Json{{"models", std::move(list)}});
}

Parsed<std::string> parse_ollama_show(std::string_view body) {
    try {
        auto json = parse_body(body);
        if (!json.ok()) return json.error();
        const ObjectReader r(*json, "");
        std::string name;
        CITADEL_API_TRY(r.string("model", name));
        if (name.empty()) CITADEL_API_TRY(r.string("name", name));
        if (name.empty()) return invalid_param("model", "required (a string)");
        return name;
    } catch (const std::exception& e) {
        return invalid_request(std::string("could not parse the request: ") + e.what());
    }
}

std::string ollama_show(const OllamaModel& model, const std::string& template_source,
                        int64_t context_length, const std::string& architecture) {
    Json info = Json::object();
    info["general.architecture"] = architecture;
    if (!architecture.empty()) info[architecture + ".context_length"] = context_length;
    Json capabilities = Json::array({"completion"});
    if (detect_tool_format(template_source) != ToolFormat::kNone) capabilities.push_back("tools");
    Json j = Json::object();
    j["modelfile"] = "# Modelfile generated by citadel\nFROM " + model.name + "\n";
    j["parameters"] = "";
    j["template"] = template_source;
    j["details"] = details_json(model);
    j["model_info"] = std::move(info);
    j["capabilities"] = std::move(capabilities);
    j["modified_at"] = rfc3339_nanos(model.modified_unix * 1'000'000'000);
    return dump_json(j);
}

std::string ollama_version(const std::string& version) {
    return dump_json(Json{{"version", version}});
}

}  // namespace citadel::api
