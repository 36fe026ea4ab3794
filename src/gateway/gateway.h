// The gateway: the filter chain every request passes (ARCHITECTURE.md, "gateway/"):
//   authenticate -> authorize (role for the route, then the model) -> admit (per-identity
//   limits, per-model concurrency) -> guards on the input (PII, prompt injection, classifier)
//   -> [generation] -> guards on the output (PII, streamed) -> account (tokens, usage) -> audit.
// Each step either lets the request go on or answers it with a Denial (401, 403, 429, 400,
// 503). Gateway owns the long-lived parts (key store, JWT keys, limiter, scanners, audit log);
// the per-request state lives in a RequestScope (request_scope.h), which releases what it
// holds and writes the audit record when the request is over.
//
// Threads: every method is thread-safe. Nothing on the request path waits for disk or for
// Redis except admit() with --redis (one round trip, bounded by its timeout); token charges
// and usage go through a background accountant, audit records through the audit writer.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "core/status.h"
#include "gateway/gateway_config.h"
#include "gateway/identity.h"
#include "gateway/pii.h"

namespace citadel::gateway {

class Accountant;
class AuditLog;
class Classifier;
class InjectionGuard;
class JwtVerifier;
class KeyStore;
class Limiter;
class ModelGate;
class RequestScope;

// A refusal, in the fields of OpenAI's error object plus the headers it needs.
struct Denial {
    int status = 401;
    std::string message;
    std::string type = "invalid_request_error";
    std::string code;
    std::string param;
    std::vector<std::pair<std::string, std::string>> headers;
    // 429s: the limit that refused ("rpm", "tpm", "concurrency", "daily_tokens",
    // "model_concurrency"), for metrics; empty otherwise.
    std::string limit;
};

// What a route needs.
enum class Access {
    kPublic,   // /health, /ready: no credential (probes)
    kMetrics,  // /metrics: viewer, or nobody with public_metrics
    kViewer,   // model listings
    kUser,     // inference and tokenizer routes (the model is checked too)
    kAdmin,    // /admin/*
};

// What the request presented.
struct Credentials {
    std::string bearer;               // "Authorization: Bearer X" or "x-api-key: X"
    std::string client_cert_subject;  // verified client certificate's CN (mTLS), or empty
};

// What the input guards decided for one request.
struct InputVerdict {
    std::optional<Denial> denial;  // blocked (PII in block mode, an injection rule that blocks)
};

class Gateway {
  public:
    static Result<std::unique_ptr<Gateway>> create(GatewayConfig config);
    ~Gateway();
    Gateway(const Gateway&) = delete;
    Gateway& operator=(const Gateway&) = delete;

    // Who is asking. Under --no-auth: "anonymous" with the user role.
    std::variant<Identity, Denial> authenticate(const Credentials& c, int64_t now_unix) const;
    // May `id` use a route of this kind?
    std::optional<Denial> authorize(const Identity& id, Access access) const;
    // May `id` use `model`? (403 naming the model.)
    std::optional<Denial> authorize_model(const Identity& id, const std::string& model) const;
    // Limits for one inference request on `model`: on success the scope holds a limiter slot
    // and a model slot (released when the scope ends) and carries the x-ratelimit-* headers.
    std::optional<Denial> admit(RequestScope& scope, const std::string& model);
    // PII (redacting the texts in place, or blocking, or noting) and prompt injection, on the
    // texts a client sent. `untrusted` are the ones checked for injection (user and tool
    // messages); PII applies to all of `texts`.
    InputVerdict guard_input(RequestScope& scope, const std::vector<std::string*>& texts,
                             const std::vector<const std::string*>& untrusted) const;
    // The scanner for this request's output and what a match does (nullptr: output is not
    // scanned).
    std::pair<std::shared_ptr<const PiiScanner>, PiiMode> output_guard(
        const RequestScope& scope) const;
    // SIGHUP: re-read JWT keys. Returns what failed (empty: all fine).
    std::string reload();

    bool auth_enabled() const { return config_.auth; }
    KeyStore* keys() const { return keys_.get(); }  // nullptr without a key store
    Classifier* classifier() const { return classifier_.get(); }
    AuditLog* audit() const { return audit_.get(); }
    Limiter& limiter() const { return *limiter_; }
    Accountant& accountant() const { return *accountant_; }
    ModelGate& model_gate() const { return *model_gate_; }
    const GatewayConfig& config() const { return config_; }

  private:
    explicit Gateway(GatewayConfig config);
    Status build();
    PiiPolicy pii_policy(const RequestScope& scope) const;

    GatewayConfig config_;
    std::unique_ptr<KeyStore> keys_;
    std::unique_ptr<JwtVerifier> jwt_;
    std::unique_ptr<Limiter> limiter_;
    std::unique_ptr<ModelGate> model_gate_;
    std::shared_ptr<const PiiScanner> pii_;
    std::shared_ptr<const InjectionGuard> injection_;
    std::unique_ptr<Classifier> classifier_;
    std::unique_ptr<AuditLog> audit_;
    std::unique_ptr<Accountant> accountant_;
};

// The credential of a request from its headers: Authorization: Bearer, else x-api-key.
std::string bearer_of(const std::string* authorization, const std::string* x_api_key);

}  // namespace citadel::gateway
