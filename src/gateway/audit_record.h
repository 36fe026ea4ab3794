// One audit record and its line in the audit log: a JSON object on one line, keys always in
// this order (optional ones in brackets):
//
//   {"seq":1,"time":"2026-11-21T10:00:00.123Z","request_id":"..","identity":"..","role":"..",
//    "model":"..","route":"..","client":"..","status":200,"latency_ms":12,"prompt_tokens":5,
//    "completion_tokens":7,"guards":[".."],"error":"..",
//    ["prompt":".." | "prompt_enc":".."], ["completion":".." | "completion_enc":".."],
//    "prev":"<64 hex>"}
//
// `prev` is the lower-case hex SHA-256 of the previous line's exact bytes (without its
// newline); the first line's prev is 64 zeros. `*_enc` fields are base64(nonce || ciphertext ||
// tag) from seal_audit_text with AAD = request_id followed by "prompt" or "completion" (the
// field names are fixed and differ in their last byte, so the concatenation is unambiguous).
// Text that is not valid UTF-8 is written with U+FFFD in place of the bad bytes (plain fields
// only: encrypted fields keep the exact bytes).
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace citadel::gateway {

struct AuditRecord {
    int64_t time_ms = 0;  // wall clock, ms since the epoch (UTC); 0: AuditLog::append fills it
    std::string request_id;
    std::string identity;  // "key:<id>", "jwt:...", "anonymous": never a secret
    std::string role;      // admin | user | viewer | "" (unauthenticated)
    std::string model;     // may be empty
    std::string route;     // "POST /v1/chat/completions"
    std::string client;    // "127.0.0.1:51234"
    int status = 0;
    int64_t latency_ms = 0;
    int64_t prompt_tokens = 0, completion_tokens = 0;
    // e.g. "pii.input:redact:EMAIL", "injection:flag:ignore-previous-en"
    std::vector<std::string> guards;
    std::string error;  // short reason for a refused request ("" when fine)
    std::optional<std::string> prompt, completion;  // only when text recording is configured
};

inline constexpr std::string_view kAuditZeroHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

// How a record's text is written: not at all, in plain text, or sealed with a 32-byte key.
struct AuditTextPolicy {
    bool record_text = false;
    std::string key32;  // empty: plain text
};

// The line for `record` (no trailing newline).
std::string format_audit_line(uint64_t seq, const AuditRecord& record, const AuditTextPolicy& text,
                              std::string_view prev_hex);

// A line read back. Sealed text stays sealed (base64) here; record.prompt/completion hold only
// plain-text fields.
struct AuditLine {
    uint64_t seq = 0;
    std::string prev;  // 64 hex chars
    AuditRecord record;
    std::optional<std::string> prompt_enc, completion_enc;
};

// Fails with a message naming the first missing or mistyped field ("not valid JSON", "\"status\"
// is missing or not an integer").
Result<AuditLine> parse_audit_line(std::string_view line);

// "2026-11-21T10:00:00.123Z" <-> ms since the epoch.
std::string format_utc_ms(int64_t time_ms);
std::optional<int64_t> parse_utc_ms(std::string_view text);

// The AAD a text field is sealed with: request_id + field ("prompt" | "completion").
std::string audit_text_aad(std::string_view request_id, std::string_view field);

}  // namespace citadel::gateway
