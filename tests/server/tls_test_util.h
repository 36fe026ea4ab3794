// Test certificates made at run time with the OpenSSL C API: a CA, a server certificate for
// 127.0.0.1 and localhost, and client certificates, written as PEM files into a temporary
// directory that is removed afterwards. Keys are EC P-256 (quick to generate).
//
//   auto pki = make_test_pki();   // CA "Citadel Test CA", server "server-one", client
//   ASSERT_TRUE(pki);             // "client-one", and "client-stranger" from another CA
//   TlsOptions tls{.cert_file = pki->server_cert, .key_file = pki->server_key};
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

namespace citadel::server::testing {

struct PkeyFree {
    void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
    void operator()(X509* cert) const { X509_free(cert); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

// A certificate and its private key; empty when making it failed.
struct Credential {
    X509Ptr cert;
    PkeyPtr key;
    explicit operator bool() const { return cert && key; }
};

enum class CertKind { kCa, kServer, kClient };

// A directory under the system's temp dir, removed with everything in it on destruction.
class TempDir {
  public:
    TempDir() {
        std::string pattern =
            (std::filesystem::temp_directory_path() / "citadel-tls-XXXXXX").string();
        if (::mkdtemp(pattern.data())) path_ = pattern;
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    bool ok() const { return !path_.empty(); }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

inline bool add_extension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (!ext) return false;
    const bool added = X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return added;
}

inline bool add_kind_extensions(X509* cert, X509* issuer, CertKind kind) {
    bool ok = add_extension(cert, issuer, NID_subject_key_identifier, "hash") &&
              add_extension(cert, issuer, NID_authority_key_identifier, "keyid:always");
    switch (kind) {
        case CertKind::kCa:
            return ok && add_extension(cert, issuer, NID_basic_constraints, "critical,CA:TRUE") &&
                   add_extension(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
        case CertKind::kServer:
            return ok && add_extension(cert, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
                   add_extension(cert, issuer, NID_key_usage, "critical,digitalSignature") &&
                   add_extension(cert, issuer, NID_ext_key_usage, "serverAuth") &&
                   add_extension(cert, issuer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
        case CertKind::kClient:
            return ok && add_extension(cert, issuer, NID_basic_constraints, "critical,CA:FALSE") &&
                   add_extension(cert, issuer, NID_key_usage, "critical,digitalSignature") &&
                   add_extension(cert, issuer, NID_ext_key_usage, "clientAuth");
    }
    return false;
}

// A certificate for `cn` with a new key, signed by `issuer` (null: self-signed). Valid from an
// hour ago for a day.
inline Credential make_cert(CertKind kind, const std::string& cn, long serial,
                            const Credential* issuer) {
    Credential out{X509Ptr(X509_new()),
                   PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"))};
    if (!out) return {};
    X509* cert = out.cert.get();
    X509* issuer_cert = issuer ? issuer->cert.get() : cert;
    EVP_PKEY* issuer_key = issuer ? issuer->key.get() : out.key.get();
    X509_NAME* name = X509_get_subject_name(cert);
    const auto* o = reinterpret_cast<const unsigned char*>("Citadel tests");
    const auto* cn_bytes = reinterpret_cast<const unsigned char*>(cn.c_str());
    const bool built =
        X509_set_version(cert, X509_VERSION_3) == 1 &&
        ASN1_INTEGER_set(X509_get_serialNumber(cert), serial) == 1 &&
        X509_gmtime_adj(X509_getm_notBefore(cert), -3600) &&
        X509_gmtime_adj(X509_getm_notAfter(cert), 86400) &&
        X509_set_pubkey(cert, out.key.get()) == 1 &&
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, o, -1, -1, 0) == 1 &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, cn_bytes, -1, -1, 0) == 1 &&
        X509_set_issuer_name(cert, X509_get_subject_name(issuer_cert)) == 1 &&
        add_kind_extensions(cert, issuer_cert, kind) &&
        X509_sign(cert, issuer_key, EVP_sha256()) > 0;
    if (!built) return {};
    return out;
}

inline bool write_pem(const std::string& path, X509* cert) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return false;
    const bool written = PEM_write_X509(f, cert) == 1;
    return std::fclose(f) == 0 && written;
}

inline bool write_pem(const std::string& path, EVP_PKEY* key) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return false;
    const bool written = PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
    return std::fclose(f) == 0 && written;
}

inline bool write_text(const std::string& path, const std::string& text) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (!f) return false;
    const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    return std::fclose(f) == 0 && written;
}

// The files of one test's certificates (paths inside `dir`).
struct TestPki {
    TempDir dir;
    Credential ca, server, client, other_ca, stranger;
    std::string ca_cert, server_cert, server_key, client_cert, client_key, stranger_cert,
        stranger_key;

    // Writes `cred` as <name>.crt and <name>.key.
    bool write(const std::string& name, const Credential& cred, std::string& cert_path,
               std::string& key_path) {
        cert_path = dir.file(name + ".crt");
        key_path = dir.file(name + ".key");
        return write_pem(cert_path, cred.cert.get()) && write_pem(key_path, cred.key.get());
    }
};

// CA "Citadel Test CA" (serial 1), server "server-one" (serial 2) for 127.0.0.1 and localhost,
// client "client-one" (serial 3); "client-stranger" is signed by another CA. Null on failure.
inline std::unique_ptr<TestPki> make_test_pki() {
    auto pki = std::make_unique<TestPki>();
    pki->ca = make_cert(CertKind::kCa, "Citadel Test CA", 1, nullptr);
    pki->other_ca = make_cert(CertKind::kCa, "Some Other CA", 1, nullptr);
    if (!pki->dir.ok() || !pki->ca || !pki->other_ca) return nullptr;
    pki->server = make_cert(CertKind::kServer, "server-one", 2, &pki->ca);
    pki->client = make_cert(CertKind::kClient, "client-one", 3, &pki->ca);
    pki->stranger = make_cert(CertKind::kClient, "client-stranger", 4, &pki->other_ca);
    if (!pki->server || !pki->client || !pki->stranger) return nullptr;
    std::string unused_ca_key;
    const bool written =
        pki->write("ca", pki->ca, pki->ca_cert, unused_ca_key) &&
        pki->write("server", pki->server, pki->server_cert, pki->server_key) &&
        pki->write("client", pki->client, pki->client_cert, pki->client_key) &&
        pki->write("stranger", pki->stranger, pki->stranger_cert, pki->stranger_key);
    return written ? std::move(pki) : nullptr;
}

}  // namespace citadel::server::testing
