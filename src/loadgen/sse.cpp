#include "loadgen/sse.h"

#include <nlohmann/json.hpp>

namespace citadel::loadgen {
namespace {

using nlohmann::json;

// Text of a choice: delta.content (and delta.reasoning_content) for chat, text for completions.
size_t choice_chars(const json& c, Api api) {
    if (!c.is_object()) return 0;
    auto chars = [](const json& holder, const char* key) -> size_t {
        auto it = holder.find(key);
        return it != holder.end() && it->is_string() ? it->get_ref<const std::string&>().size() : 0;
    };
    if (api == Api::kCompletions) return chars(c, "text");
    auto delta = c.find("delta");
    if (delta == c.end() || !delta->is_object()) return 0;
    return chars(*delta, "content") + chars(*delta, "reasoning_content");
}

std::optional<int64_t> count_field(const json& usage, const char* key) {
    auto it = usage.find(key);
    if (it == usage.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<int64_t>();
}

}  // namespace

void SseParser::feed(std::string_view bytes, std::vector<std::string>& out) {
    for (char c : bytes) {
        if (c == '\n' && last_was_cr_) {  // the LF of a CR LF: the line already ended
            last_was_cr_ = false;
            continue;
        }
        last_was_cr_ = c == '\r';
        if (c == '\r' || c == '\n') {
            on_line(out);
            continue;
        }
        line_ += c;
    }
}

void SseParser::on_line(std::vector<std::string>& out) {
    if (line_.empty()) {  // a blank line ends the event
        if (has_data_) out.push_back(std::move(data_));
        data_.clear();
        has_data_ = false;
        return;
    }
    std::string_view line = line_;
    if (line.starts_with("data:")) {
        line.remove_prefix(5);
        if (line.starts_with(' ')) line.remove_prefix(1);
        if (has_data_) data_ += '\n';
        data_.append(line);
        has_data_ = true;
    }  // comments (":..."), event:, id:, retry: carry nothing we need
    line_.clear();
}

Result<StreamChunk> parse_chunk(std::string_view data, Api api) {
    StreamChunk chunk;
    if (data == "[DONE]") {
        chunk.done = true;
        return chunk;
    }
    const json j = json::parse(data, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
        return Status::error("the server sent an event that is not a JSON object: " +
                             error_message_of(data));
    }
    if (auto e = j.find("error"); e != j.end() && !e->is_null()) {
        chunk.error = error_message_of(data);
        return chunk;
    }
    auto choices = j.find("choices");
    if (choices != j.end() && choices->is_array()) {
        for (const json& c : *choices) chunk.content_chars += choice_chars(c, api);
    }
    auto usage = j.find("usage");
    if (usage != j.end() && usage->is_object()) {
        chunk.prompt_tokens = count_field(*usage, "prompt_tokens");
        chunk.completion_tokens = count_field(*usage, "completion_tokens");
    }
    return chunk;
}

std::string error_message_of(std::string_view body) {
    const json j = json::parse(body, nullptr, false);
    std::string message;
    if (j.is_object()) {
        auto error = j.find("error");
        if (error != j.end() && error->is_object() && error->contains("message") &&
            (*error)["message"].is_string()) {
            message = (*error)["message"].get<std::string>();
        } else if (error != j.end() && error->is_string()) {
            message = error->get<std::string>();
        } else if (error != j.end() && !error->is_null()) {
            message = error->dump(-1, ' ', false, json::error_handler_t::replace);
        } else if (j.contains("message") && j["message"].is_string()) {
            message = j["message"].get<std::string>();
        }
    }
    if (message.empty()) message = std::string(body);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
        message.pop_back();
    if (message.size() > 300) {  // cut at a character boundary, not inside a UTF-8 sequence
        size_t cut = 300;
        while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80) --cut;
        message = message.substr(0, cut) + "...";
    }
    return message.empty() ? "(empty body)" : message;
}

}  // namespace citadel::loadgen
