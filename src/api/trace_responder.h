// Request tracing at the HTTP edge: a Responder wrapper that makes one server span per request
// (from arrival to the end of its answer) in the trace the client's `traceparent` names (or a
// new one), returns our `traceparent` with the answer, and hands the span to the exporter.
#pragma once

#include <memory>

#include "api/gateway_glue.h"
#include "ops/tracing.h"
#include "server/http_server.h"

namespace citadel::api {

std::shared_ptr<server::Responder> traced_responder(std::shared_ptr<server::Responder> inner,
                                                    ops::SpanExporter& exporter,
                                                    const server::Request& req, Scope scope);

}  // namespace citadel::api
