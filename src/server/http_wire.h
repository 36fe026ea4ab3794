// Bytes on the wire: response heads, chunk frames, the JSON error bodies the server writes
// itself, and turning a parsed Beast request into a server::Request. Pure functions.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "server/http_server.h"

namespace citadel::server::wire {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// How the body of a response is delimited.
enum class Framing {
    kLength,      // Content-Length
    kChunked,     // Transfer-Encoding: chunked
    kUntilClose,  // raw bytes, the connection closes at the end (streams to HTTP/1.0 clients)
    kNoBody,      // 1xx/204/304: no body and no Content-Length
};

// What the Connection header says.
enum class Persistence { kDefault, kClose, kKeepAlive };

struct HeadSpec {
    int status = 200;
    std::string_view content_type;  // omitted when empty
    const HeaderList* extra = nullptr;
    Framing framing = Framing::kLength;
    size_t content_length = 0;  // for kLength
    Persistence persistence = Persistence::kDefault;
};

// "HTTP/1.1 200 OK\r\n...\r\n\r\n". Extra headers that would break framing (Content-Length,
// Transfer-Encoding, Connection) or carry CR/LF/NUL or a bad name are dropped with a warning.
std::string response_head(const HeadSpec& spec);

// A status the server may send as a final answer: 200..999 (1xx are not final); others are
// reported and replaced by 500.
int checked_status(int status);

// Whether the status forbids a body (1xx, 204, 304).
bool status_has_no_body(int status);

// True when the headers ask for the connection to close (`Connection: close`).
bool asks_to_close(const HeaderList& headers);

std::string chunk_frame(std::string_view data);  // "<hex>\r\n<data>\r\n"
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// {"error":{"message":...,"type":...,"param":null,"code":null}}
std::string error_json(std::string_view message, std::string_view type);

// A complete error response (JSON body, `Connection: close`).
std::string error_response(int status, std::string_view type, std::string_view message);

Request to_request(boost::beast::http::request<boost::beast::http::string_body>&& message,
                   std::string remote);

}  // namespace citadel::server::wire
