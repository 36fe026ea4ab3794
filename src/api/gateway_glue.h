// Where the HTTP API meets the gateway: a Responder that stamps every answer with the
// request id and rate-limit headers, tells the request's scope how it ended and counts it in
// the metrics (status per route, gateway denials by reason, guard actions); denials as API
// errors; and the texts of a request that the input guards look at.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "api/errors.h"
#include "api/types.h"
#include "gateway/gateway.h"
#include "gateway/request_scope.h"
#include "ops/metrics.h"
#include "server/http_server.h"

namespace citadel::api {

using Scope = std::shared_ptr<gateway::RequestScope>;

// Where a response is counted: `route` is the route's pattern ("unmatched" for unknown
// paths), `method` the request's. Null metrics: not counted.
struct ResponseMetrics {
    ops::Metrics* metrics = nullptr;
    std::string route;
    std::string method;
};

// Wraps `inner`: adds x-request-id and the scope's x-ratelimit-* headers to the answer and
// records its status (and error message) in the scope. Holds the scope until the response
// is done; then counts it once in `metrics` (an error code that is a gateway refusal counts
// as a denial; the scope's guard notes as guard actions).
std::shared_ptr<server::Responder> gateway_responder(std::shared_ptr<server::Responder> inner,
                                                     Scope scope, ResponseMetrics metrics = {});

// Counts one guard note ("pii.input:redact:EMAIL") as citadel:guard_actions_total.
void count_guard_note(ops::Metrics& metrics, const std::string& note);
// Whether an API error code is one of the gateway's refusals (counted as a denial).
bool is_gateway_denial(const std::string& code);

ApiError to_api_error(const gateway::Denial& d);

// The request id: the client's x-request-id when it is sane (1-64 of [A-Za-z0-9._:-]), else
// a new "req_" + 24 random characters.
std::string request_id_of(const server::Request& req);

// Pointers to every text of a chat's messages (string contents and text parts), and which of
// them came from the user or a tool (checked for prompt injection). Pointers into `messages`.
struct MessageTexts {
    std::vector<std::string*> all;
    std::vector<const std::string*> untrusted;
};
MessageTexts message_texts(nlohmann::ordered_json& messages);

}  // namespace citadel::api
