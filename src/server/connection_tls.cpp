// Connection, TLS side: telling TLS from plain HTTP on the first byte, the handshake, and
// close_notify. The read timer armed at the accept (header_timeout_ms) bounds all of it.
#include <boost/asio/socket_base.hpp>
#include <string_view>

#include "core/log.h"
#include "server/connection.h"
#include "server/server_core.h"
#include "server/tls_context.h"

namespace citadel::server {
namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr unsigned char kTlsHandshakeRecord = 0x16;  // a ClientHello begins with this byte

// What a browser or curl sees after sending http:// to the TLS port (nginx answers alike).
std::string https_required_response() {
    constexpr std::string_view kBody = "This port expects HTTPS (TLS); use https://\n";
    std::string out = wire::response_head({.status = 400,
                                           .content_type = "text/plain",
                                           .framing = wire::Framing::kLength,
                                           .content_length = kBody.size(),
                                           .persistence = wire::Persistence::kClose});
    out.append(kBody);
    return out;
}

}  // namespace

// Looks at the first byte without taking it: the handshake must see the whole ClientHello.
void Connection::begin_tls() {
    phase_ = Phase::kHandshake;
    transport_.socket().async_receive(
        asio::buffer(&first_byte_, 1), asio::socket_base::message_peek,
        [self = shared_from_this()](const error_code& ec, size_t n) { self->on_peek(ec, n); });
}

void Connection::on_peek(const error_code& ec, size_t n) {
    if (phase_ != Phase::kHandshake) return;  // closed meanwhile (timeout, shutdown)
    if (ec || n == 0) {
        if (ec != asio::error::eof) {
            CITADEL_LOG_DEBUG("http: %s: read failed before the TLS handshake: %s", remote_.c_str(),
                              ec.message().c_str());
        }
        close();
        return;
    }
    if (first_byte_ != kTlsHandshakeRecord) {
        reject_plain_http();
        return;
    }
    transport_.async_handshake(
        [self = shared_from_this()](const error_code& hs_ec) { self->on_handshake(hs_ec); });
}

void Connection::on_handshake(const error_code& ec) {
    if (phase_ != Phase::kHandshake) return;
    if (ec) {
        CITADEL_LOG_DEBUG("http: %s: TLS handshake failed: %s", remote_.c_str(),
                          ec.message().c_str());
        close();
        return;
    }
    client_cert_subject_ = verified_client_cn(transport_.native_tls());
    CITADEL_LOG_DEBUG("http: %s: TLS handshake done (%s%s%s)", remote_.c_str(),
                      SSL_get_version(transport_.native_tls()),
                      client_cert_subject_.empty() ? "" : ", client ",
                      client_cert_subject_.c_str());
    start_serving();
}

void Connection::reject_plain_http() {
    CITADEL_LOG_DEBUG("http: %s: plain HTTP on the TLS port: 400", remote_.c_str());
    transport_.use_raw_tcp();
    send_final(https_required_response());
}

// close_notify tells a TLS client that the response is complete, as the FIN does on plain TCP.
// Lingering then goes on over bare TCP: OpenSSL fails on application data that arrives after
// its close_notify, and such data is what lingering is there to absorb. A TLS read still
// outstanding is cancelled first (on_read() calls back here when it has ended).
void Connection::send_close_notify() {
    if (reading_) {
        error_code ec;
        transport_.socket().cancel(ec);
        return;
    }
    transport_.async_close_notify([self = shared_from_this()](const error_code& ec) {
        if (self->phase_ != Phase::kLinger) return;
        if (ec) {
            self->close();
            return;
        }
        self->transport_.use_raw_tcp();
        self->linger_on_tcp();
    });
}

}  // namespace citadel::server
