#include "gateway/audit_cipher.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <memory>

#include "core/log.h"
#include "gateway/crypto.h"

namespace citadel::gateway {
namespace {

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

CipherCtx new_ctx() {
    CipherCtx ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
    CITADEL_CHECK(ctx != nullptr);
    return ctx;
}

unsigned char* bytes(std::string& s) {
    return reinterpret_cast<unsigned char*>(s.data());
}
const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

void warn_if_shared(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
        CITADEL_LOG_WARN("audit key file %s is readable by group or others (mode %03o); chmod 600",
                         path.c_str(), unsigned(st.st_mode & 0777));
    }
}

}  // namespace

Result<std::string> load_audit_key(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot read the audit key file " + path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    warn_if_shared(path);
    if (text.size() == kAuditKeyBytes) return text;
    std::string_view hex = text;
    if (!hex.empty() && hex.back() == '\n') hex.remove_suffix(1);
    if (!hex.empty() && hex.back() == '\r') hex.remove_suffix(1);
    if (hex.size() == 2 * kAuditKeyBytes) {
        if (auto key = crypto::from_hex(hex)) return *key;
    }
    return Status::error("audit key file " + path +
                         ": expected 32 raw bytes or 64 hex characters, found " +
                         std::to_string(text.size()) + " bytes that are neither");
}

std::string seal_audit_text(std::string_view key32, std::string_view plaintext,
                            std::string_view aad) {
    CITADEL_CHECK(key32.size() == kAuditKeyBytes);
    const std::string nonce = crypto::random_bytes(kAuditNonceBytes);
    std::string out = nonce;
    out.resize(kAuditNonceBytes + plaintext.size() + kAuditTagBytes);
    unsigned char* ct = bytes(out) + kAuditNonceBytes;
    CipherCtx ctx = new_ctx();
    int len = 0;
    bool ok = EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key32),
                                 bytes(std::string_view(nonce))) == 1;
    ok = ok && EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(aad), int(aad.size())) == 1;
    ok = ok && EVP_EncryptUpdate(ctx.get(), ct, &len, bytes(plaintext), int(plaintext.size())) == 1;
    ok = ok && EVP_EncryptFinal_ex(ctx.get(), ct + len, &len) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, int(kAuditTagBytes),
                                   ct + plaintext.size()) == 1;
    CITADEL_CHECK(ok);  // GCM encryption with a valid key cannot fail short of a broken libcrypto
    return out;
}

Result<std::string> open_audit_text(std::string_view key32, std::string_view sealed,
                                    std::string_view aad) {
    if (key32.size() != kAuditKeyBytes) return Status::error("the audit key is not 32 bytes");
    if (sealed.size() < kAuditNonceBytes + kAuditTagBytes) {
        return Status::error("sealed text is shorter than a nonce and a tag");
    }
    const std::string_view nonce = sealed.substr(0, kAuditNonceBytes);
    const std::string_view ct =
        sealed.substr(kAuditNonceBytes, sealed.size() - kAuditNonceBytes - kAuditTagBytes);
    std::string tag(sealed.substr(sealed.size() - kAuditTagBytes));
    std::string plain(ct.size(), '\0');
    CipherCtx ctx = new_ctx();
    int len = 0;
    bool ok =
        EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, bytes(key32), bytes(nonce)) == 1;
    ok = ok && EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(aad), int(aad.size())) == 1;
    ok = ok && EVP_DecryptUpdate(ctx.get(), bytes(plain), &len, bytes(ct), int(ct.size())) == 1;
    ok = ok &&
         EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, int(kAuditTagBytes), tag.data()) == 1;
    ok = ok && EVP_DecryptFinal_ex(ctx.get(), bytes(plain) + len, &len) == 1;
    if (!ok) return Status::error("authentication failed: wrong key, or the text was altered");
    return plain;
}

}  // namespace citadel::gateway
