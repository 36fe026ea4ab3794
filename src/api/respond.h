// Small helpers that answer a request with JSON or an API error.
#pragma once

#include <string>

#include "api/errors.h"
#include "server/http_server.h"

namespace citadel::api {

// The error in OpenAI's shape (or Ollama's, {"error": "..."}), with Retry-After on 429/503.
void send_error(server::Responder& r, const ApiError& e, bool ollama_shape = false);
void send_json(server::Responder& r, int status, std::string body);

}  // namespace citadel::api
