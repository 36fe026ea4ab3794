#include "api/upstream_stream.h"

#include <openssl/ssl.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>

namespace citadel::api {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;

Result<std::shared_ptr<ssl::context>> make_upstream_tls(const std::string& ca_file) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    error_code ec;
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                     ec);
    if (ec) return Status::error("upstream TLS: " + ec.message());
    ctx->set_default_verify_paths(ec);
    if (ec)
        return Status::error("upstream TLS: cannot read the system's trust store: " + ec.message());
    if (!ca_file.empty()) {
        ctx->load_verify_file(ca_file, ec);
        if (ec) {
            return Status::error("--upstream-ca " + ca_file +
                                 ": cannot read PEM certificates: " + ec.message());
        }
    }
    ctx->set_verify_mode(ssl::verify_peer);
    return ctx;
}

void UpstreamStream::reset(ssl::context* tls) {
    tls_.reset();
    tcp_.reset();
    if (tls)
        tls_.emplace(io_, *tls);
    else
        tcp_.emplace(io_);
}

void UpstreamStream::handshake(const std::string& host, Done done) {
    if (!tls_) return done({});
    error_code ec;
    asio::ip::make_address(host, ec);
    const bool is_ip = !ec;
    // SNI carries DNS names only (RFC 6066); an IP address is checked against the
    // certificate's IP SANs by the verification below.
    if (!is_ip && SSL_set_tlsext_host_name(tls_->native_handle(), host.c_str()) != 1)
        return done(asio::error::invalid_argument);
    tls_->set_verify_mode(ssl::verify_peer);
    tls_->set_verify_callback(ssl::host_name_verification(host));
    tls_->async_handshake(ssl::stream_base::client, std::move(done));
}

void UpstreamStream::close() {
    error_code ignored;
    socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket().close(ignored);
}

}  // namespace citadel::api
