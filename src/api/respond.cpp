#include "api/respond.h"

namespace citadel::api {

void send_error(server::Responder& r, const ApiError& e, bool ollama_shape) {
    std::vector<std::pair<std::string, std::string>> headers = e.headers;
    bool has_retry = false;
    for (const auto& [name, value] : headers) has_retry |= name == "Retry-After";
    if ((e.status == 429 || e.status == 503) && !has_retry)
        headers.emplace_back("Retry-After", "1");
    r.send(e.status, "application/json", ollama_shape ? ollama_error_body(e) : error_body(e),
           std::move(headers));
}

void send_json(server::Responder& r, int status, std::string body) {
    r.send(status, "application/json", std::move(body));
}

}  // namespace citadel::api
