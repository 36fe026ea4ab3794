#include "gateway/audit_record.h"

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

#include "gateway/audit_cipher.h"
#include "gateway/crypto.h"

namespace citadel::gateway {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

void put_text(ordered_json& line, const char* field, const std::optional<std::string>& text,
              const AuditTextPolicy& policy, const std::string& request_id) {
    if (!policy.record_text || !text) return;
    if (policy.key32.empty()) {
        line[field] = *text;
        return;
    }
    const std::string sealed =
        seal_audit_text(policy.key32, *text, audit_text_aad(request_id, field));
    line[std::string(field) + "_enc"] = crypto::base64_encode(sealed);
}

// Reads one field of `object` into `out`; false when it is missing or of another type.
bool read(const json& object, const char* key, std::string& out) {
    auto it = object.find(key);
    if (it == object.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
}

bool read(const json& object, const char* key, int64_t& out) {
    auto it = object.find(key);
    if (it == object.end() || !it->is_number_integer()) return false;
    out = it->get<int64_t>();
    return true;
}

bool read_optional(const json& object, const char* key, std::optional<std::string>& out) {
    auto it = object.find(key);
    if (it == object.end()) return true;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
}

bool read_guards(const json& object, std::vector<std::string>& out) {
    auto it = object.find("guards");
    if (it == object.end() || !it->is_array()) return false;
    for (const json& guard : *it) {
        if (!guard.is_string()) return false;
        out.push_back(guard.get<std::string>());
    }
    return true;
}

bool is_hex64(std::string_view s) {
    if (s.size() != 64) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

Status missing(const char* key, const char* type) {
    return Status::error(std::string("\"") + key + "\" is missing or not " + type);
}

Status read_chain_fields(const json& object, AuditLine& out) {
    auto seq = object.find("seq");
    if (seq == object.end() || !seq->is_number_unsigned()) return missing("seq", "a count");
    out.seq = seq->get<uint64_t>();
    if (!read(object, "prev", out.prev) || !is_hex64(out.prev)) {
        return missing("prev", "64 lower-case hex characters");
    }
    return ok_status();
}

Status read_record_fields(const json& object, AuditLine& out) {
    AuditRecord& r = out.record;
    std::string time;
    if (!read(object, "time", time)) return missing("time", "a string");
    auto time_ms = parse_utc_ms(time);
    if (!time_ms) return Status::error("\"time\" is not of the form 2026-11-21T10:00:00.123Z");
    r.time_ms = *time_ms;
    const std::pair<const char*, std::string*> strings[] = {{"request_id", &r.request_id},
                                                            {"identity", &r.identity},
                                                            {"role", &r.role},
                                                            {"model", &r.model},
                                                            {"route", &r.route},
                                                            {"client", &r.client},
                                                            {"error", &r.error}};
    for (const auto& [key, field] : strings) {
        if (!read(object, key, *field)) return missing(key, "a string");
    }
    int64_t status = 0;
    if (!read(object, "status", status)) return missing("status", "an integer");
    r.status = int(status);
    const std::pair<const char*, int64_t*> counts[] = {{"latency_ms", &r.latency_ms},
                                                       {"prompt_tokens", &r.prompt_tokens},
                                                       {"completion_tokens", &r.completion_tokens}};
    for (const auto& [key, field] : counts) {
        if (!read(object, key, *field)) return missing(key, "an integer");
    }
    if (!read_guards(object, r.guards)) return missing("guards", "a list of strings");
    return ok_status();
}

Status read_text_fields(const json& object, AuditLine& out) {
    const std::pair<const char*, std::optional<std::string>*> texts[] = {
        {"prompt", &out.record.prompt},
        {"completion", &out.record.completion},
        {"prompt_enc", &out.prompt_enc},
        {"completion_enc", &out.completion_enc}};
    for (const auto& [key, field] : texts) {
        if (!read_optional(object, key, *field)) return missing(key, "a string");
    }
    return ok_status();
}

}  // namespace

std::string audit_text_aad(std::string_view request_id, std::string_view field) {
    std::string aad(request_id);
    aad += field;
    return aad;
}

std::string format_audit_line(uint64_t seq, const AuditRecord& r, const AuditTextPolicy& text,
                              std::string_view prev_hex) {
    ordered_json line;
    line["seq"] = seq;
    line["time"] = format_utc_ms(r.time_ms);
    line["request_id"] = r.request_id;
    line["identity"] = r.identity;
    line["role"] = r.role;
    line["model"] = r.model;
    line["route"] = r.route;
    line["client"] = r.client;
    line["status"] = r.status;
    line["latency_ms"] = r.latency_ms;
    line["prompt_tokens"] = r.prompt_tokens;
    line["completion_tokens"] = r.completion_tokens;
    line["guards"] = r.guards;
    line["error"] = r.error;
    put_text(line, "prompt", r.prompt, text, r.request_id);
    put_text(line, "completion", r.completion, text, r.request_id);
    line["prev"] = prev_hex;
    return line.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<AuditLine> parse_audit_line(std::string_view text) {
    const json object = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (object.is_discarded() || !object.is_object()) return Status::error("not valid JSON");
    AuditLine line;
    CITADEL_TRY(read_chain_fields(object, line));
    CITADEL_TRY(read_record_fields(object, line));
    CITADEL_TRY(read_text_fields(object, line));
    return line;
}

std::string format_utc_ms(int64_t time_ms) {
    int64_t seconds = time_ms / 1000, millis = time_ms % 1000;
    if (millis < 0) millis += 1000, seconds -= 1;  // floor division for times before 1970
    const time_t t = time_t(seconds);
    struct tm tm {};
    gmtime_r(&t, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(millis));
    return buf;
}

std::optional<int64_t> parse_utc_ms(std::string_view text) {
    static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
    if (text.size() != kShape.size()) return std::nullopt;
    for (size_t i = 0; i < text.size(); ++i) {
        const bool digit = text[i] >= '0' && text[i] <= '9';
        if (kShape[i] == 'd' ? !digit : text[i] != kShape[i]) return std::nullopt;
    }
    auto number = [&](size_t at, size_t n) {
        int v = 0;
        for (size_t i = at; i < at + n; ++i) v = v * 10 + (text[i] - '0');
        return v;
    };
    struct tm tm {};
    tm.tm_year = number(0, 4) - 1900;
    tm.tm_mon = number(5, 2) - 1;
    tm.tm_mday = number(8, 2);
    tm.tm_hour = number(11, 2);
    tm.tm_min = number(14, 2);
    tm.tm_sec = number(17, 2);
    return int64_t(timegm(&tm)) * 1000 + number(20, 3);
}

}  // namespace citadel::gateway
