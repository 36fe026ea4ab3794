// Where the load goes: an OpenAI-compatible server's base URL, parsed once at the edge.
#pragma once

#include <string>

#include "core/status.h"

namespace citadel::loadgen {

enum class Api { kChat, kCompletions };  // /v1/chat/completions or /v1/completions

struct Endpoint {
    std::string url;  // as given, for messages
    bool tls = false;
    std::string host;  // without brackets for IPv6
    std::string port;
    std::string host_header;
    std::string base;  // path prefix before /v1/..., no trailing slash
};

// http[s]://host[:port][/base]; a trailing "/v1" is dropped so that both
// "http://h:8080" and "http://h:8080/v1" work. An error names the url and the problem.
Result<Endpoint> parse_endpoint(const std::string& url);

// The path of the API on this endpoint: base + "/v1/chat/completions" or "/v1/completions".
std::string api_path(const Endpoint& e, Api api);

}  // namespace citadel::loadgen
