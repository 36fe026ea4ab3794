// Ollama's /api/chat and /api/generate for upstream models, which speak OpenAI's API only:
// the Ollama body becomes an OpenAI one (/api/chat and templated /api/generate -> chat
// completions; raw /api/generate -> completions; options -> OpenAI's parameters, with Ollama's
// defaults for temperature and top_p), and a Responder adapter turns what the proxy relays —
// one JSON answer, SSE chunks, or an OpenAI error — into Ollama's shapes: one JSON object,
// NDJSON lines ending with a `done` line that carries the token counts, or {"error": "..."}.
// Everything else (gateway steps, output PII redaction, retries) is the proxy's as usual.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "server/http_server.h"

namespace citadel::api {

struct OpenAiForm {
    std::string path;  // "/v1/chat/completions" or "/v1/completions"
    nlohmann::ordered_json body;
    bool chat = true;
    bool stream = true;
};

// `ollama` is a body the Ollama parser accepted; `chat`: /api/chat (else /api/generate).
OpenAiForm ollama_to_openai(const nlohmann::ordered_json& ollama, bool chat);

// Wraps `inner` for one request; `model` is the name the client asked for, `chat` as above
// (what the answer looks like: "message" or "response").
std::shared_ptr<server::Responder> ollama_relay_responder(std::shared_ptr<server::Responder> inner,
                                                          std::string model, bool chat);

}  // namespace citadel::api
