#include "gateway/audit_verify.h"

#include "gateway/audit_chain.h"
#include "gateway/audit_cipher.h"
#include "gateway/crypto.h"

namespace citadel::gateway {
namespace {

AuditVerifyReport failed(uint64_t records, std::string problem) {
    AuditVerifyReport report;
    report.records = records;
    report.problem = std::move(problem);
    return report;
}

}  // namespace

AuditVerifyReport verify_audit_log(const std::string& path, const std::string& text_key_file) {
    std::string key32;
    if (!text_key_file.empty()) {
        auto key = load_audit_key(text_key_file);
        if (!key) return failed(0, key.error());
        key32 = std::move(*key);
    }
    auto head = read_audit_head(audit_head_path(path));
    if (!head) return failed(0, head.error());
    AuditChainChecker checker(AuditChainChecker::Depth::kFull, std::move(key32),
                              *head ? (*head)->seq : 0);
    auto scan = scan_audit_file(path, checker);
    if (!scan) return failed(0, scan.error());
    if (!checker.problem().empty()) return failed(checker.lines(), checker.problem());
    if (scan->partial_bytes > 0) {
        return failed(checker.lines(),
                      "line " + std::to_string(checker.lines() + 1) + " is incomplete (" +
                          std::to_string(scan->partial_bytes) +
                          " bytes, no newline) — the writer stopped mid-write; opening the log "
                          "again cuts it off");
    }
    std::string head_problem = checker.head_problem(*head);
    if (!head_problem.empty()) return failed(checker.lines(), std::move(head_problem));
    AuditVerifyReport report;
    report.ok = true;
    report.records = checker.lines();
    return report;
}

Result<std::string> decrypt_audit_text(std::string_view b64, std::string_view key32,
                                       std::string_view aad) {
    auto sealed = crypto::base64_decode(b64);
    if (!sealed) return Status::error("the sealed text is not base64");
    return open_audit_text(key32, *sealed, aad);
}

}  // namespace citadel::gateway
