// Steps every generating route takes on its input after the gateway's guards, shared by the
// local engine (generate_handlers.cpp) and upstream routing (routed_handlers.cpp).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "api/gateway_glue.h"
#include "gateway/gateway.h"
#include "server/http_server.h"

namespace citadel::api {

// The texts a classifier is shown: what the user and tools said.
std::string untrusted_text(const MessageTexts& t);

// Runs `go` now, or once the content classifier allowed the input (on its thread); a refusal
// answers `res` (in Ollama's shape when `ollama`).
void classify_then(const gateway::Gateway& gw, const Scope& scope,
                   const std::shared_ptr<server::Responder>& res, bool ollama, std::string text,
                   std::function<void()> go);

}  // namespace citadel::api
