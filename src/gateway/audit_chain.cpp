#include "gateway/audit_chain.h"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "gateway/audit_cipher.h"
#include "gateway/crypto.h"

namespace citadel::gateway {
namespace {

enum class Got { kLine, kPartial, kEnd };

struct ChainFields {
    uint64_t seq = 0;
    std::string prev;
};

std::string line_no(uint64_t n) {
    return "line " + std::to_string(n);
}

std::string records(uint64_t n) {
    return std::to_string(n) + (n == 1 ? " record" : " records");
}

// seq and prev read from where AuditLog puts them: {"seq":N,...,"prev":"<64 hex>"}. False for
// a line of any other shape (which then gets a full parse).
bool quick_chain_fields(std::string_view line, ChainFields& out) {
    static constexpr std::string_view kStart = "{\"seq\":", kPrev = ",\"prev\":\"", kEnd = "\"}";
    constexpr size_t kTail = kPrev.size() + 64 + kEnd.size();
    if (line.size() < kStart.size() + 1 + kTail || !line.starts_with(kStart)) return false;
    const std::string_view tail = line.substr(line.size() - kTail);
    if (!tail.starts_with(kPrev) || !tail.ends_with(kEnd)) return false;
    const char* digits = line.data() + kStart.size();
    const char* end = line.data() + line.size() - kTail;
    auto [after, error] = std::from_chars(digits, end, out.seq);
    if (error != std::errc() || after == digits || *after != ',' || *digits == '0') return false;
    out.prev.assign(tail.substr(kPrev.size(), 64));
    for (char c : out.prev) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::optional<uint64_t> seq_of(const std::string* line) {
    if (line == nullptr) return std::nullopt;
    ChainFields fields;
    if (quick_chain_fields(*line, fields)) return fields.seq;
    auto parsed = parse_audit_line(*line);
    if (!parsed) return std::nullopt;
    return parsed->seq;
}

Got next_line(std::istream& in, std::string& line) {
    if (!std::getline(in, line)) return Got::kEnd;
    return in.eof() ? Got::kPartial : Got::kLine;  // eof inside getline: no newline at the end
}

}  // namespace

std::string audit_head_path(const std::string& log_path) {
    return log_path + ".head";
}

std::string format_audit_head(const AuditHead& head) {
    nlohmann::ordered_json j;
    j["seq"] = head.seq;
    j["hash"] = head.hash;
    return j.dump() + "\n";
}

Result<std::optional<AuditHead>> read_audit_head(const std::string& head_path) {
    std::ifstream in(head_path, std::ios::binary);
    if (!in) {
        if (errno == ENOENT) return std::optional<AuditHead>();
        return Status::error("cannot read the audit head file " + head_path + ": " +
                             std::strerror(errno));
    }
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    const bool shaped = j.is_object() && j.contains("seq") && j["seq"].is_number_unsigned() &&
                        j.contains("hash") && j["hash"].is_string() &&
                        j["hash"].get<std::string>().size() == 64;
    if (!shaped) {
        return Status::error("the audit head file " + head_path +
                             " is not of the form {\"seq\":N,\"hash\":\"<64 hex>\"}");
    }
    AuditHead head;
    head.seq = j["seq"].get<uint64_t>();
    head.hash = j["hash"].get<std::string>();
    return std::optional<AuditHead>(std::move(head));
}

AuditChainChecker::AuditChainChecker(Depth depth, std::string key32, uint64_t head_seq)
    : depth_(depth), key32_(std::move(key32)), head_seq_(head_seq) {}

void AuditChainChecker::report(std::string problem) {
    if (problem_.empty()) problem_ = std::move(problem);
}

void AuditChainChecker::add(std::string_view text, const std::string* next) {
    const uint64_t n = ++lines_;
    const std::string hash = crypto::sha256_hex(text);
    ChainFields fields;
    std::optional<AuditLine> line;
    if (depth_ == Depth::kFull || !quick_chain_fields(text, fields)) {
        auto parsed = parse_audit_line(text);
        if (!parsed) {
            report(line_no(n) + ": " + parsed.error());
            prev_hash_ = hash;
            return;
        }
        line = std::move(*parsed);
        fields.seq = line->seq;
        fields.prev = line->prev;
    }
    const bool seq_reported = check_seq(fields.seq, next);
    if (!seq_reported && fields.prev != prev_hash_) {
        report(n == 1 ? line_no(n) + ": prev is not 64 zeros, as the first record's must be"
                      : line_no(n) + ": prev does not match the hash of " + line_no(n - 1) + " — " +
                            line_no(n - 1) + " was edited, or lines were removed or reordered");
    }
    if (line) {
        check_sealed(line->prompt_enc, line->record.request_id, "prompt");
        check_sealed(line->completion_enc, line->record.request_id, "completion");
    }
    if (fields.seq == head_seq_) head_seq_hash_ = hash, head_seq_line_ = n;
    max_seq_ = std::max(max_seq_, fields.seq);
    last_seq_ = fields.seq;
    prev_hash_ = hash;
}

bool AuditChainChecker::check_seq(uint64_t seq, const std::string* next) {
    const uint64_t expected = last_seq_ + 1, n = lines_;
    if (seq == expected) return false;
    const std::string at = line_no(n) + ": ";
    if (seq < expected) {
        report(at + "seq goes back from " + std::to_string(last_seq_) + " to " +
               std::to_string(seq) + " — lines were reordered or duplicated");
    } else if (seq_of(next) == expected) {
        report(at + "seq " + std::to_string(seq) + " comes before seq " + std::to_string(expected) +
               " (" + line_no(n + 1) + ") — lines were swapped or reordered");
    } else if (n == 1) {
        report(at + "the log starts at seq " + std::to_string(seq) + ", not 1 — " +
               records(seq - 1) + " deleted from its start");
    } else {
        report(at + "seq jumps from " + std::to_string(last_seq_) + " to " + std::to_string(seq) +
               " — " + records(seq - expected) + " deleted");
    }
    return true;
}

void AuditChainChecker::check_sealed(const std::optional<std::string>& b64,
                                     const std::string& request_id, const char* field) {
    if (key32_.empty() || !b64) return;
    const std::string at = line_no(lines_) + ": " + field + "_enc ";
    auto sealed = crypto::base64_decode(*b64);
    if (!sealed) return report(at + "is not base64");
    if (!open_audit_text(key32_, *sealed, audit_text_aad(request_id, field))) {
        report(at + "does not decrypt with this key");
    }
}

std::string AuditChainChecker::head_problem(const std::optional<AuditHead>& head) const {
    if (!head) {
        return "the head file is missing — cannot tell whether records were removed from the end";
    }
    if (head->seq > last_seq_) {
        return "the log ends at seq " + std::to_string(last_seq_) + " but its head file says " +
               std::to_string(head->seq) + " — records were removed from the end";
    }
    // A head behind the log's end is a crash between the log's fsync and the head's rename.
    if (head->seq == 0) {
        return head->hash == kAuditZeroHash ? "" : "the head file says seq 0 with a nonzero hash";
    }
    if (!head_seq_hash_) {
        return "the head file names seq " + std::to_string(head->seq) + ", which is not in the log";
    }
    if (*head_seq_hash_ != head->hash) {
        return line_no(head_seq_line_) + ": its hash does not match the head file — " +
               line_no(head_seq_line_) + " was edited";
    }
    return "";
}

Result<AuditScan> scan_audit_file(const std::string& path, AuditChainChecker& checker) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot read the audit log " + path + ": " + strerror(errno));
    AuditScan scan;
    std::string line, next;
    Got got = next_line(in, line);
    while (got == Got::kLine) {
        const Got got_next = next_line(in, next);
        checker.add(line, got_next == Got::kLine ? &next : nullptr);
        scan.complete_bytes += line.size() + 1;
        line.swap(next);
        got = got_next;
    }
    if (got == Got::kPartial) scan.partial_bytes = line.size();
    if (in.bad()) return Status::error("error while reading the audit log " + path);
    return scan;
}

}  // namespace citadel::gateway
