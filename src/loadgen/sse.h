// Server-sent events of a streamed OpenAI completion: bytes in, parsed chunks out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "loadgen/endpoint.h"

namespace citadel::loadgen {

// Splits a byte stream into the data of SSE events (the "data:" lines of one event joined
// with '\n'). Bytes may arrive split anywhere; CR LF and CR line ends are accepted.
class SseParser {
  public:
    // Appends the data of every event completed by `bytes` to `out`.
    void feed(std::string_view bytes, std::vector<std::string>& out);
    size_t pending_bytes() const { return line_.size() + data_.size(); }

  private:
    void on_line(std::vector<std::string>& out);
    std::string line_;  // the line so far
    std::string data_;  // the event's data so far
    bool has_data_ = false;
    bool last_was_cr_ = false;
};

// What one event's data says.
struct StreamChunk {
    bool done = false;         // "[DONE]"
    std::string error;         // an {"error": ...} event: its message
    size_t content_chars = 0;  // text in this chunk (delta.content / text), all choices
    std::optional<int64_t> prompt_tokens, completion_tokens;  // "usage", when present
};

// An error names the problem (not JSON, not an object).
Result<StreamChunk> parse_chunk(std::string_view data, Api api);

// The message of an error answer's body ({"error": {"message": ...}}, {"error": "..."},
// {"message": ...}, or the text itself, trimmed to 300 bytes).
std::string error_message_of(std::string_view body);

}  // namespace citadel::loadgen
