#include "server/tls_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <exception>
#include <system_error>
#include <utility>

#include "core/log.h"

namespace citadel::server {
namespace ssl = boost::asio::ssl;

namespace {

// TLS 1.2: forward secrecy (ECDHE) and AEAD only, in the server's order of preference.
// (TLS 1.3 suites are all AEAD with forward secrecy; OpenSSL's defaults stay.)
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// Session resumption with client certificates needs a context id.
constexpr unsigned char kSessionIdContext[] = "citadel";

// OpenSSL's error queue as one line, oldest first ("no start line (PEM routines)"); empties it.
std::string openssl_reason() {
    std::string out;
    while (const unsigned long code = ERR_get_error()) {
        const char* reason = ERR_reason_error_string(code);
        const char* lib = ERR_lib_error_string(code);
        std::string one = reason ? reason : "error code " + std::to_string(code);
        if (lib) one += " (" + std::string(lib) + ")";
        if (out.find(one) != std::string::npos) continue;
        if (!out.empty()) out += "; ";
        out += one;
    }
    return out.empty() ? "unknown OpenSSL error" : out;
}

Status file_error(const char* what, const std::string& path, const std::string& problem) {
    return Status::error(std::string(what) + " '" + path + "': " + problem + ": " +
                         openssl_reason());
}

// A clear message for the common case (a wrong path) before OpenSSL is asked.
Status check_readable(const char* what, const std::string& path) {
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (!file) {
        return Status::error(std::string(what) + " '" + path +
                             "': " + std::error_code(errno, std::generic_category()).message());
    }
    std::fclose(file);
    return ok_status();
}

// Encrypted keys are not supported: without this OpenSSL would prompt on the terminal.
int refuse_password(char*, int, int, void*) {
    return -1;
}

int select_alpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in,
                unsigned int in_len, void*) {
    static const unsigned char kHttp11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, out_len, kHttp11, sizeof kHttp11, in, in_len) !=
        OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;  // the client offers no HTTP/1.1: go on without ALPN
    }
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

Status configure_protocol(SSL_CTX* ctx, const TlsOptions& options) {
    SSL_CTX_set_options(
        ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    const int min_version = options.tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, min_version) != 1 ||
        SSL_CTX_set_cipher_list(ctx, kTls12Ciphers) != 1 ||
        SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext - 1) != 1) {
        return Status::error("cannot configure the TLS protocol: " + openssl_reason());
    }
    SSL_CTX_set_default_passwd_cb(ctx, refuse_password);
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
    return ok_status();
}

Status load_private_key(SSL_CTX* ctx, const std::string& key_file, const std::string& cert_file) {
    CITADEL_TRY(check_readable("TLS key file", key_file));
    BIO* bio = BIO_new_file(key_file.c_str(), "r");
    if (!bio) return file_error("TLS key file", key_file, "cannot open it");
    EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, refuse_password, nullptr);
    BIO_free(bio);
    if (!key) {
        return file_error("TLS key file", key_file,
                          "no PEM private key in it (encrypted keys are not supported)");
    }
    const int used = SSL_CTX_use_PrivateKey(ctx, key);
    EVP_PKEY_free(key);
    if (used != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        return file_error("TLS key file", key_file,
                          "the key does not match the certificate '" + cert_file + "'");
    }
    return ok_status();
}

Status load_certificate(SSL_CTX* ctx, const TlsOptions& options) {
    const std::string& cert_file = options.cert_file;
    CITADEL_TRY(check_readable("TLS certificate file", cert_file));
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
        return file_error("TLS certificate file", cert_file, "cannot load a PEM certificate");
    }
    const std::string& key_file = options.key_file.empty() ? cert_file : options.key_file;
    CITADEL_TRY(load_private_key(ctx, key_file, cert_file));
    if (X509* cert = SSL_CTX_get0_certificate(ctx);
        cert && X509_cmp_current_time(X509_get0_notAfter(cert)) < 0) {
        CITADEL_LOG_WARN("http: the TLS certificate in %s has expired", cert_file.c_str());
    }
    return ok_status();
}

Status load_client_ca(SSL_CTX* ctx, const TlsOptions& options) {
    const std::string& ca_file = options.client_ca_file;
    CITADEL_TRY(check_readable("TLS client CA file", ca_file));
    if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
        return file_error("TLS client CA file", ca_file, "cannot load CA certificates");
    }
    // The CA names sent to the client, so that it can pick a certificate.
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca_file.c_str());
    if (!names) return file_error("TLS client CA file", ca_file, "no CA certificate in it");
    SSL_CTX_set_client_CA_list(ctx, names);
    const int mode =
        SSL_VERIFY_PEER | (options.require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(ctx, mode, nullptr);
    return ok_status();
}

}  // namespace

Result<TlsContextPtr> build_tls_context(const TlsOptions& options) {
    if (options.cert_file.empty()) return Status::error("TLS needs a certificate file");
    if (options.require_client_cert && options.client_ca_file.empty()) {
        return Status::error(
            "requiring client certificates needs a client CA file (the CA that signs them)");
    }
    ERR_clear_error();
    TlsContextPtr context;
    try {
        context = std::make_shared<ssl::context>(ssl::context::tls_server);
    } catch (const std::exception& e) {
        return Status::error(std::string("cannot create a TLS context: ") + e.what());
    }
    SSL_CTX* ctx = context->native_handle();
    CITADEL_TRY(configure_protocol(ctx, options));
    CITADEL_TRY(load_certificate(ctx, options));
    if (!options.client_ca_file.empty()) CITADEL_TRY(load_client_ca(ctx, options));
    return context;
}

// ---- ServerTls ------------------------------------------------------------------------------

ServerTls::ServerTls(TlsOptions options, TlsContextPtr context)
    : options_(std::move(options)), context_(std::move(context)) {}

Result<std::unique_ptr<ServerTls>> ServerTls::load(TlsOptions options) {
    auto context = build_tls_context(options);
    if (!context) return context.status();
    return std::unique_ptr<ServerTls>(new ServerTls(std::move(options), std::move(*context)));
}

TlsContextPtr ServerTls::context() const {
    std::lock_guard lock(mu_);
    return context_;
}

Status ServerTls::reload() {
    std::lock_guard reload_lock(reload_mu_);
    auto context = build_tls_context(options_);
    if (!context) {
        CITADEL_LOG_WARN("http: TLS reload failed, keeping the current certificate: %s",
                         context.error().c_str());
        return context.status();
    }
    {
        std::lock_guard lock(mu_);
        context_ = std::move(*context);
    }
    CITADEL_LOG_INFO("http: TLS certificate reloaded from %s", options_.cert_file.c_str());
    return ok_status();
}

// ---- Client certificates --------------------------------------------------------------------

std::string verified_client_cn(SSL* ssl) {
    X509* cert = SSL_get0_peer_certificate(ssl);
    if (!cert || SSL_get_verify_result(ssl) != X509_V_OK) return "";
    X509_NAME* subject = X509_get_subject_name(cert);
    const int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (index < 0) return "";
    unsigned char* utf8 = nullptr;
    const int n =
        ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index)));
    if (n < 0) return "";
    std::string cn(reinterpret_cast<const char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
    for (const char c : cn) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) return "";
    }
    return cn;
}

}  // namespace citadel::server
