// A blocking HTTPS test client: the TestClient of http_test_client.h with OpenSSL underneath
// (a non-blocking socket polled against each call's deadline, so nothing hangs). The handshake
// runs in the constructor; what was negotiated (version, cipher, ALPN, the server certificate)
// can be read afterwards. With TLS 1.3 a server that refuses the client's certificate does so
// after the client's handshake has finished: the failure shows on the first read.
#pragma once

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>

#include <string>
#include <string_view>

#include "server/http_test_client.h"

namespace citadel::server::testing {

struct TlsClientOptions {
    std::string ca_file;    // verify the server (chain and its 127.0.0.1 SAN); empty: don't
    std::string cert_file;  // client certificate, for mTLS
    std::string key_file;   //   and its key
    int min_version = TLS1_2_VERSION;
    int max_version = 0;      // 0: the highest OpenSSL knows
    std::string cipher_list;  // TLS 1.2 suites to offer; empty: OpenSSL's defaults
};

class TlsTestClient : public TestClient {
  public:
    TlsTestClient(int port, const TlsClientOptions& options, int timeout_ms = 3000)
        : TestClient(port) {
        handshake_ok_ = connected() && setup(options) && handshake(timeout_ms);
    }
    ~TlsTestClient() override {
        SSL_free(ssl_);
        SSL_CTX_free(ctx_);
    }

    bool handshake_ok() const { return handshake_ok_; }
    const std::string& error() const { return error_; }  // the last OpenSSL failure
    std::string version() const { return ssl_ ? SSL_get_version(ssl_) : ""; }
    std::string cipher() const {
        const SSL_CIPHER* c = ssl_ ? SSL_get_current_cipher(ssl_) : nullptr;
        return c ? SSL_CIPHER_get_name(c) : "";
    }
    std::string alpn() const {
        const unsigned char* data = nullptr;
        unsigned int size = 0;
        if (ssl_) SSL_get0_alpn_selected(ssl_, &data, &size);
        return std::string(reinterpret_cast<const char*>(data), data ? size : 0);
    }
    std::string server_cn() const {
        X509* cert = ssl_ ? SSL_get0_peer_certificate(ssl_) : nullptr;
        char cn[256] = {};
        if (cert) X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, 256);
        return cn;
    }
    long server_serial() const {
        X509* cert = ssl_ ? SSL_get0_peer_certificate(ssl_) : nullptr;
        return cert ? ASN1_INTEGER_get(X509_get0_serialNumber(cert)) : -1;
    }
    bool got_close_notify() const {
        return ssl_ && (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) != 0;
    }
    // Sends close_notify (our side is done; the server may still answer).
    void send_close_notify() {
        if (ssl_) SSL_shutdown(ssl_);
    }

  protected:
    ssize_t send_some(std::string_view bytes) override {
        const auto deadline = Clock::now() + std::chrono::seconds(3);
        for (;;) {
            const int n = SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size()));
            if (n > 0) return n;
            if (!wait_for(SSL_get_error(ssl_, n), deadline)) return -1;
        }
    }

    ssize_t recv_some(char* buf, size_t size, Clock::time_point deadline) override {
        for (;;) {
            const int n = SSL_read(ssl_, buf, static_cast<int>(size));
            if (n > 0) return n;
            const int err = SSL_get_error(ssl_, n);
            if (err == SSL_ERROR_ZERO_RETURN) return 0;  // close_notify
            if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
                wait_for(err, deadline);  // records the error
                return -1;
            }
            if (!wait_for(err, deadline)) return kTimedOut;
        }
    }

  private:
    bool setup(const TlsClientOptions& options) {
        ::signal(SIGPIPE, SIG_IGN);  // OpenSSL writes with write(): a closed peer must not kill us
        ::fcntl(fd(), F_SETFL, ::fcntl(fd(), F_GETFL) | O_NONBLOCK);
        ctx_ = SSL_CTX_new(TLS_client_method());
        if (!ctx_) return fail();
        SSL_CTX_set_min_proto_version(ctx_, options.min_version);
        SSL_CTX_set_max_proto_version(ctx_, options.max_version);
        if (!options.cipher_list.empty() &&
            SSL_CTX_set_cipher_list(ctx_, options.cipher_list.c_str()) != 1) {
            return fail();
        }
        if (!options.ca_file.empty()) {
            if (SSL_CTX_load_verify_locations(ctx_, options.ca_file.c_str(), nullptr) != 1) {
                return fail();
            }
            SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
        }
        if (!options.cert_file.empty() &&
            (SSL_CTX_use_certificate_file(ctx_, options.cert_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
             SSL_CTX_use_PrivateKey_file(ctx_, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1)) {
            return fail();
        }
        ssl_ = SSL_new(ctx_);
        static const unsigned char kAlpn[] = "\x08http/1.1";
        if (!ssl_ || SSL_set_fd(ssl_, fd()) != 1 ||
            SSL_set_alpn_protos(ssl_, kAlpn, sizeof kAlpn - 1) != 0 ||
            SSL_set_tlsext_host_name(ssl_, "localhost") != 1) {
            return fail();
        }
        if (!options.ca_file.empty())
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
        return true;
    }

    bool handshake(int timeout_ms) {
        const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
        for (;;) {
            const int r = SSL_connect(ssl_);
            if (r == 1) return true;
            if (!wait_for(SSL_get_error(ssl_, r), deadline)) return false;
        }
    }

    // Waits for what OpenSSL asked for; false (with error_ set) on a real error or timeout.
    bool wait_for(int ssl_error, Clock::time_point deadline) {
        short events = 0;
        if (ssl_error == SSL_ERROR_WANT_READ) events = POLLIN;
        if (ssl_error == SSL_ERROR_WANT_WRITE) events = POLLOUT;
        if (events == 0) return fail();
        pollfd p{fd(), events, 0};
        const int left = ms_left(deadline);
        if (left > 0 && ::poll(&p, 1, left) > 0) return true;
        error_ = "timed out";
        return false;
    }

    bool fail() {
        const unsigned long code = ERR_get_error();
        char text[256] = "connection closed or reset";
        if (code != 0) ERR_error_string_n(code, text, sizeof text);
        error_ = text;
        ERR_clear_error();
        return false;
    }

    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    bool handshake_ok_ = false;
    std::string error_;
};

}  // namespace citadel::server::testing
