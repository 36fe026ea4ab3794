// Checking an audit log written by AuditLog (audit_log.h): every line parses, seq counts up by
// one from 1, every prev is the hash of the line before, the head file agrees with the log's
// end, and (given the key) every sealed text field decrypts. Reports the first problem, naming
// its line and what it most likely means:
//   line 4: not valid JSON
//   line 5: seq jumps from 4 to 6 — 1 record deleted
//   line 3: seq 4 comes before seq 3 (line 4) — lines were swapped or reordered
//   line 7: prev does not match the hash of line 6 — line 6 was edited, or lines were removed
//           or reordered
//   the log ends at seq 10 but its head file says 12 — records were removed from the end
//   line 10: its hash does not match the head file — line 10 was edited
//   line 3: prompt_enc does not decrypt with this key
//   line 11 is incomplete (37 bytes, no newline) — ...
// A head file one batch behind the log (a crash between the log's fsync and the head's
// rename) is accepted. `citadel audit verify FILE [--key FILE]` is built on this.
//
// Thread-safe (reads files only); safe to run while an AuditLog appends (it may then see a
// head file behind the log, which passes, or a partial last line, which does not).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"

namespace citadel::gateway {

struct AuditVerifyReport {
    bool ok = false;
    uint64_t records = 0;  // complete lines read
    std::string problem;   // the first problem, with its line number; "" when ok
};

// text_key_file: the AuditOptions::text_key_file the log was written with; "" skips the
// decryption check.
AuditVerifyReport verify_audit_log(const std::string& path, const std::string& text_key_file = "");

// Opens one "*_enc" field: b64 as stored, key32 the raw key, aad = request_id + "prompt" or
// request_id + "completion" (audit_text_aad).
Result<std::string> decrypt_audit_text(std::string_view b64, std::string_view key32,
                                       std::string_view aad);

}  // namespace citadel::gateway
