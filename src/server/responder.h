// The Responder handed to the handler: it turns calls from any thread into ResponsePieces
// posted to the connection's strand.
#pragma once

#include <memory>

#include "server/connection.h"
#include "server/http_server.h"

namespace citadel::server {

std::shared_ptr<Responder> make_responder(std::shared_ptr<Connection> connection,
                                          std::shared_ptr<Exchange> exchange);

// Marks the exchange gone and runs its on_disconnect callback unless it already ran. Called on
// the connection's strand.
void fire_disconnect(Exchange& exchange);

}  // namespace citadel::server
