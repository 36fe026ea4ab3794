// Walking an audit log's hash chain: the checks shared by verify_audit_log (which reports the
// first problem) and AuditLog::open (which warns and continues the chain). Also the head file
// `<log>.head`, which records where the log ends: {"seq":N,"hash":"<64 hex>"} and a newline.
//
// Not thread-safe: one AuditChainChecker per scan.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "gateway/audit_record.h"

namespace citadel::gateway {

struct AuditHead {
    uint64_t seq = 0;  // the last record's seq; 0 for an empty log
    std::string hash;  // SHA-256 hex of the last line; 64 zeros for an empty log
};

std::string audit_head_path(const std::string& log_path);
std::string format_audit_head(const AuditHead& head);  // with the trailing newline
// nullopt when there is no head file; an error when it exists but cannot be read or parsed.
Result<std::optional<AuditHead>> read_audit_head(const std::string& head_path);

class AuditChainChecker {
  public:
    // kFull parses every line (and opens sealed text when key32 is given): for verify.
    // kChainOnly reads seq and prev from where AuditLog puts them, parsing only lines of another
    // shape; an edit elsewhere in a line still shows as a broken chain: for AuditLog::open.
    enum class Depth { kFull, kChainOnly };
    // head_seq: the seq whose line hash head_problem() compares with the head file's.
    AuditChainChecker(Depth depth, std::string key32, uint64_t head_seq);

    // The next complete line (without its newline). `next` is the line after it when there is
    // one: a seq that jumps ahead is a deletion, unless the missing seq follows (a swap).
    void add(std::string_view line, const std::string* next);

    // Compares the end of the log with its head file (call after the last line).
    std::string head_problem(const std::optional<AuditHead>& head) const;

    const std::string& problem() const { return problem_; }  // the first; "" while none
    uint64_t lines() const { return lines_; }
    uint64_t max_seq() const { return max_seq_; }                // the highest seq seen
    uint64_t last_seq() const { return last_seq_; }              // of the last line that had one
    const std::string& last_hash() const { return prev_hash_; }  // of the last line added

  private:
    void report(std::string problem);
    bool check_seq(uint64_t seq, const std::string* next);  // true when it reported
    void check_sealed(const std::optional<std::string>& b64, const std::string& request_id,
                      const char* field);

    Depth depth_;
    std::string key32_;
    uint64_t head_seq_ = 0;
    std::optional<std::string> head_seq_hash_;  // the hash of the line with seq head_seq_
    uint64_t head_seq_line_ = 0;                // ... and its line number
    std::string problem_;
    uint64_t lines_ = 0;
    uint64_t max_seq_ = 0;
    uint64_t last_seq_ = 0;  // the seq of the last line that had one
    std::string prev_hash_{kAuditZeroHash};
};

// Reads a log file line by line through a checker. A last line without a newline is not fed
// to the checker: its size comes back in partial_bytes (a crash mid-write).
struct AuditScan {
    uint64_t complete_bytes = 0;  // bytes in complete lines (newlines included)
    uint64_t partial_bytes = 0;   // bytes after the last newline
};
Result<AuditScan> scan_audit_file(const std::string& path, AuditChainChecker& checker);

}  // namespace citadel::gateway
