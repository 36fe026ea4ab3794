// The server side of TLS: building an OpenSSL context from TlsOptions (protocol versions,
// ciphers, certificate, key, client CA), holding the current one so that reload() can swap it,
// and reading the verified client certificate's name after a handshake.
//
// Threading: ServerTls is safe to use from any thread. A context, once built, is never changed:
// connections share it read-only and keep it alive through their shared_ptr, so a reload
// never pulls a context from under an open connection.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "core/status.h"
#include "server/http_server.h"

namespace citadel::server {

using TlsContextPtr = std::shared_ptr<boost::asio::ssl::context>;

// Loads and checks everything TlsOptions names. The error names the file at fault and gives
// OpenSSL's reason (unreadable, not PEM, key does not match the certificate, ...).
Result<TlsContextPtr> build_tls_context(const TlsOptions& options);

class ServerTls {
  public:
    static Result<std::unique_ptr<ServerTls>> load(TlsOptions options);

    TlsContextPtr context() const;  // the one new connections get
    // Builds a new context from the same files; on error the current one stays.
    Status reload();

  private:
    ServerTls(TlsOptions options, TlsContextPtr context);

    const TlsOptions options_;
    std::mutex reload_mu_;   // one reload at a time
    mutable std::mutex mu_;  // guards context_
    TlsContextPtr context_;
};

// The subject CN of the client certificate the handshake verified; empty when the client sent
// none, the certificate has no CN, or the CN holds control characters.
std::string verified_client_cn(SSL* ssl);

}  // namespace citadel::server
