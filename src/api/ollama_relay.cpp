#include "api/ollama_relay.h"

#include <chrono>

#include "api/ollama.h"

namespace citadel::api {
namespace {

using nlohmann::ordered_json;

// A string member, "" when absent, null or not a string.
std::string text_of(const ordered_json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// A whole-number member, 0 when absent or not one.
int64_t int_of(const ordered_json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

std::string dump(const ordered_json& j) {
    return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

// options -> OpenAI parameters (the names differ for two of them).
void add_options(const ordered_json& ollama, ordered_json& out) {
    out["temperature"] = 0.8;  // Ollama's defaults, where OpenAI's differ
    out["top_p"] = 0.9;
    auto options = ollama.find("options");
    if (options == ollama.end() || !options->is_object()) return;
    for (const auto& [key, value] : options->items()) {
        if (key == "num_predict") {
            if (value.is_number_integer() && value.get<int64_t>() >= 1) out["max_tokens"] = value;
        } else if (key == "repeat_penalty") {
            out["repetition_penalty"] = value;
        } else if (key == "seed") {
            if (value.is_number_integer() && value.get<int64_t>() >= 0) out["seed"] = value;
        } else if (key == "temperature" || key == "top_p" || key == "top_k" || key == "min_p" ||
                   key == "stop" || key == "presence_penalty" || key == "frequency_penalty") {
            out[key] = value;
        }
    }
}

// Ollama's tool calls carry arguments as an object and no id; OpenAI's as JSON text with one.
ordered_json openai_messages(const ordered_json& messages) {
    ordered_json out = ordered_json::array();
    int call_number = 0;
    for (const ordered_json& m : messages) {
        ordered_json copy = m;
        auto calls = copy.find("tool_calls");
        if (calls != copy.end() && calls->is_array()) {
            for (ordered_json& c : *calls) {
                if (!c.is_object() || !c.contains("function") || !c["function"].is_object())
                    continue;
                ordered_json& fn = c["function"];
                if (fn.contains("arguments") && !fn["arguments"].is_string())
                    fn["arguments"] = dump(fn["arguments"]);
                c["id"] = "call_" + std::to_string(call_number++);
                c["type"] = "function";
            }
        }
        out.push_back(std::move(copy));
    }
    return out;
}

}  // namespace

OpenAiForm ollama_to_openai(const ordered_json& ollama, bool chat) {
    OpenAiForm f;
    f.stream = ollama.value("stream", true);
    ordered_json& b = f.body;
    b["model"] = text_of(ollama, "model");
    const bool raw = !chat && ollama.value("raw", false);
    f.chat = !raw;
    f.path = raw ? "/v1/completions" : "/v1/chat/completions";
    if (chat) {
        b["messages"] = openai_messages(ollama.value("messages", ordered_json::array()));
        if (ollama.contains("tools")) b["tools"] = ollama["tools"];
    } else if (raw) {
        b["prompt"] = text_of(ollama, "prompt");
    } else {
        b["messages"] = ordered_json::array();
        const std::string system = text_of(ollama, "system");
        if (!system.empty()) b["messages"].push_back({{"role", "system"}, {"content", system}});
        b["messages"].push_back({{"role", "user"}, {"content", text_of(ollama, "prompt")}});
    }
    if (text_of(ollama, "format") == "json") b["response_format"] = {{"type", "json_object"}};
    add_options(ollama, b);
    b["stream"] = f.stream;
    if (f.stream) b["stream_options"] = {{"include_usage", true}};
    return f;
}

namespace {

// The text of one choice: delta.content (chat stream), message.content (chat), text.
std::string choice_text(const ordered_json& c) {
    for (const char* holder : {"delta", "message"}) {
        auto h = c.find(holder);
        if (h != c.end() && h->is_object()) return text_of(*h, "content");
    }
    return text_of(c, "text");
}

int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::vector<ToolCall> tool_calls_of(const ordered_json& message) {
    std::vector<ToolCall> calls;
    auto list = message.find("tool_calls");
    if (list == message.end() || !list->is_array()) return calls;
    for (const ordered_json& c : *list) {
        if (!c.is_object() || !c.contains("function")) continue;
        const ordered_json& fn = c["function"];
        ToolCall t;
        if (!fn.is_object()) continue;
        t.name = text_of(fn, "name");
        t.arguments = fn.contains("arguments") && fn["arguments"].is_string()
                          ? fn["arguments"].get<std::string>()
                          : "{}";
        calls.push_back(std::move(t));
    }
    return calls;
}

class OllamaRelayResponder final : public server::Responder {
  public:
    OllamaRelayResponder(std::shared_ptr<server::Responder> inner, std::string model, bool chat)
        : inner_(std::move(inner)), model_(std::move(model)), chat_(chat), start_ns_(now_ns()) {}

    void send(int status, std::string content_type, std::string body,
              std::vector<std::pair<std::string, std::string>> headers) override {
        ordered_json j = ordered_json::parse(body, nullptr, false);
        if (status != 200 || !j.is_object() || !j.contains("choices"))
            return inner_->send(status, "application/json", error_body(j, body),
                                std::move(headers));
        read_usage(j);
        const ordered_json& choices = j["choices"];
        const ordered_json c = choices.is_array() && !choices.empty() && choices[0].is_object()
                                   ? choices[0]
                                   : ordered_json::object();
        const std::string finish = text_of(c, "finish_reason");
        const std::string reason = finish.empty() ? "stop" : finish;
        const std::string text = choice_text(c);
        std::vector<ToolCall> calls;
        if (c.contains("message") && c["message"].is_object()) calls = tool_calls_of(c["message"]);
        std::string line = chat_ ? ollama_chat_line(model_, text, calls, true, reason, &timings())
                                 : ollama_generate_line(model_, text, true, reason, &timings());
        line.pop_back();  // one JSON object, no NDJSON newline
        (void)content_type;
        inner_->send(200, "application/json", std::move(line), std::move(headers));
    }

    void start_stream(int status, std::string,
                      std::vector<std::pair<std::string, std::string>> headers) override {
        inner_->start_stream(status, "application/x-ndjson", std::move(headers));
    }

    bool write(std::string chunk) override {
        pending_ += chunk;
        size_t end;
        while ((end = pending_.find("\n\n")) != std::string::npos) {
            std::string event = pending_.substr(0, end);
            pending_.erase(0, end + 2);
            if (!on_event(event)) return false;
        }
        return !inner_->disconnected();
    }

    void end() override {
        if (!done_sent_) send_done();
        inner_->end();
    }

    void on_disconnect(std::function<void()> callback) override {
        inner_->on_disconnect(std::move(callback));
    }
    bool disconnected() const override { return inner_->disconnected(); }

  private:
    // {"error": {"message": ...}} (OpenAI) -> {"error": "..."} (Ollama).
    static std::string error_body(const ordered_json& j, const std::string& raw) {
        std::string message = raw;
        if (j.is_object() && j.contains("error")) {
            const ordered_json& e = j["error"];
            message = e.is_object() && e.contains("message") ? text_of(e, "message")
                      : e.is_string()                        ? e.get<std::string>()
                                                             : raw;
        }
        return dump(ordered_json{{"error", message}});
    }

    bool on_event(const std::string& event) {
        if (!event.starts_with("data: ")) return true;
        const std::string data = event.substr(6);
        if (data == "[DONE]") return send_done();
        ordered_json j = ordered_json::parse(data, nullptr, false);
        if (!j.is_object()) return true;
        if (j.contains("error")) {
            done_sent_ = true;  // an error line ends an Ollama stream
            return inner_->write(error_body(j, data) + "\n");
        }
        read_usage(j);
        if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return true;
        const ordered_json& c = j["choices"][0];
        if (!c.is_object()) return true;
        if (!text_of(c, "finish_reason").empty()) reason_ = text_of(c, "finish_reason");
        const std::string text = choice_text(c);
        if (c.contains("delta") && c["delta"].is_object()) collect_tool_calls(c["delta"]);
        if (text.empty()) return true;
        return inner_->write(chat_ ? ollama_chat_line(model_, text, {}, false, "", nullptr)
                                   : ollama_generate_line(model_, text, false, "", nullptr));
    }

    // Streamed tool calls arrive in pieces by index: name first, arguments in parts.
    void collect_tool_calls(const ordered_json& delta) {
        auto list = delta.find("tool_calls");
        if (list == delta.end() || !list->is_array()) return;
        for (const ordered_json& c : *list) {
            if (!c.is_object()) continue;
            const auto at = c.find("index");
            const int64_t index = at != c.end() && at->is_number_integer() ? at->get<int64_t>() : 0;
            if (index < 0) continue;
            if (index >= 64) continue;
            if (calls_.size() <= size_t(index)) calls_.resize(size_t(index) + 1);
            if (!c.contains("function") || !c["function"].is_object()) continue;
            const ordered_json& fn = c["function"];
            calls_[size_t(index)].name += text_of(fn, "name");
            calls_[size_t(index)].arguments += text_of(fn, "arguments");
        }
    }

    bool send_done() {
        if (done_sent_) return true;
        done_sent_ = true;
        if (chat_ && !calls_.empty() &&
            !inner_->write(ollama_chat_line(model_, "", calls_, false, "", nullptr)))
            return false;
        return inner_->write(chat_ ? ollama_chat_line(model_, "", {}, true, reason_, &timings())
                                   : ollama_generate_line(model_, "", true, reason_, &timings()));
    }

    void read_usage(const ordered_json& j) {
        auto u = j.find("usage");
        if (u == j.end() || !u->is_object()) return;
        timings_.prompt_eval_count = int_of(*u, "prompt_tokens");
        timings_.eval_count = int_of(*u, "completion_tokens");
    }

    const OllamaTimings& timings() {
        timings_.total_ns = now_ns() - start_ns_;
        return timings_;
    }

    std::shared_ptr<server::Responder> inner_;
    const std::string model_;
    const bool chat_;
    const int64_t start_ns_;
    std::string pending_;
    std::string reason_ = "stop";
    std::vector<ToolCall> calls_;
    OllamaTimings timings_;
    bool done_sent_ = false;
};

}  // namespace

std::shared_ptr<server::Responder> ollama_relay_responder(std::shared_ptr<server::Responder> inner,
                                                          std::string model, bool chat) {
    return std::make_shared<OllamaRelayResponder>(std::move(inner), std::move(model), chat);
}

}  // namespace citadel::api
