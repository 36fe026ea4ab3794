// KeyStore's usage counting: the in-memory buffer, its flush to the usage table, the report,
// and the background flusher (see key_store.h for the threading rules).
#include "gateway/key_store.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <tuple>

#include "core/log.h"
#include "gateway/sqlite_db.h"

namespace citadel::gateway {
namespace {

constexpr std::string_view kIdentityPrefix = "key:";

std::string utc_day(int64_t unix_seconds) {
    const time_t t = time_t(unix_seconds);
    struct tm tm {};
    if (!gmtime_r(&t, &tm)) return "1970-01-01";
    char day[32];
    std::snprintf(day, sizeof day, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    return day;
}

bool valid_day(std::string_view day) {
    if (day.size() != 10 || day[4] != '-' || day[7] != '-') return false;
    for (size_t i = 0; i < day.size(); ++i) {
        if (i != 4 && i != 7 && (day[i] < '0' || day[i] > '9')) return false;
    }
    return true;
}

}  // namespace

void KeyStore::add_usage(const std::string& key_id, int64_t prompt_tokens,
                         int64_t completion_tokens, int64_t now_unix) {
    std::string_view id = key_id;
    if (id.starts_with(kIdentityPrefix)) id.remove_prefix(kIdentityPrefix.size());
    auto slot = std::pair{std::string(id), utc_day(now_unix)};
    std::lock_guard lock(usage_mutex_);
    UsageCounts& counts = pending_usage_[std::move(slot)];
    counts.requests += 1;
    counts.prompt_tokens += std::max<int64_t>(prompt_tokens, 0);
    counts.completion_tokens += std::max<int64_t>(completion_tokens, 0);
}

Status KeyStore::flush_usage() {
    std::lock_guard lock(db_mutex_);
    return flush_usage_locked();
}

// Takes the buffer, writes it in one transaction, and puts it back if that fails (so counts
// survive a busy database until the next attempt).
Status KeyStore::flush_usage_locked() {
    UsageBuffer pending;
    {
        std::lock_guard lock(usage_mutex_);
        pending.swap(pending_usage_);
    }
    if (pending.empty()) return ok_status();
    Status status = write_usage_locked(pending);
    if (!status.ok()) {
        std::lock_guard lock(usage_mutex_);
        for (auto& [slot, counts] : pending) {
            UsageCounts& into = pending_usage_[slot];
            into.requests += counts.requests;
            into.prompt_tokens += counts.prompt_tokens;
            into.completion_tokens += counts.completion_tokens;
        }
    }
    return status;
}

Status KeyStore::write_usage_locked(const UsageBuffer& pending) {
    auto tx = sqlite::Transaction::begin(*db_);
    if (!tx.ok()) return tx.status();
    auto upsert = db_->prepare(
        "INSERT INTO usage (key_id, day, requests, prompt_tokens, completion_tokens)"
        " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (key_id, day) DO UPDATE SET"
        " requests = requests + excluded.requests,"
        " prompt_tokens = prompt_tokens + excluded.prompt_tokens,"
        " completion_tokens = completion_tokens + excluded.completion_tokens");
    if (!upsert.ok()) return upsert.status();
    for (const auto& [slot, counts] : pending) {
        upsert->reset();
        upsert->bind_text(1, slot.first).bind_text(2, slot.second).bind(3, counts.requests);
        upsert->bind(4, counts.prompt_tokens).bind(5, counts.completion_tokens);
        CITADEL_TRY(upsert->run());
    }
    return (*tx)->commit();
}

Result<std::vector<UsageRow>> KeyStore::stored_usage_locked(std::string_view from,
                                                            std::string_view to) {
    auto stmt = db_->prepare(
        "SELECT u.key_id, COALESCE(k.name, ''), u.day, u.requests, u.prompt_tokens,"
        " u.completion_tokens FROM usage u LEFT JOIN keys k ON k.id = u.key_id"
        " WHERE u.day BETWEEN ?1 AND ?2");
    if (!stmt.ok()) return stmt.status();
    stmt->bind_text(1, from).bind_text(2, to);
    std::vector<UsageRow> rows;
    for (;;) {
        auto row = stmt->step();
        if (!row.ok()) return row.status();
        if (!*row) return rows;
        UsageRow r;
        r.key_id = stmt->column_text(0);
        r.name = stmt->column_text(1);
        r.day = stmt->column_text(2);
        r.requests = stmt->column_int(3);
        r.prompt_tokens = stmt->column_int(4);
        r.completion_tokens = stmt->column_int(5);
        rows.push_back(std::move(r));
    }
}

Result<std::vector<UsageRow>> KeyStore::usage(std::string_view day_from, std::string_view day_to) {
    for (std::string_view day : {day_from, day_to}) {
        if (!valid_day(day)) {
            return Status::error("invalid day '" + std::string(day) + "': expected YYYY-MM-DD");
        }
    }
    // Holding db_mutex_ means no flush is half done: each count is either stored or pending.
    std::lock_guard lock(db_mutex_);
    auto stored = stored_usage_locked(day_from, day_to);
    if (!stored.ok()) return stored.status();
    std::map<std::pair<std::string, std::string>, UsageRow> merged;  // (day, id)
    for (auto& row : *stored) merged[{row.day, row.key_id}] = std::move(row);
    {
        std::lock_guard usage_lock(usage_mutex_);
        std::shared_lock snapshot_lock(snapshot_mutex_);
        for (const auto& [slot, counts] : pending_usage_) {
            const auto& [id, day] = slot;
            if (day < day_from || day > day_to) continue;
            UsageRow& row = merged[{day, id}];
            row.key_id = id;
            row.day = day;
            if (const auto it = snapshot_.find(id); it != snapshot_.end()) {
                row.name = it->second.record.name;
            }
            row.requests += counts.requests;
            row.prompt_tokens += counts.prompt_tokens;
            row.completion_tokens += counts.completion_tokens;
        }
    }
    std::vector<UsageRow> rows;
    for (auto& [slot, row] : merged) rows.push_back(std::move(row));
    std::stable_sort(rows.begin(), rows.end(), [](const UsageRow& a, const UsageRow& b) {
        return std::tie(a.day, a.name, a.key_id) < std::tie(b.day, b.name, b.key_id);
    });
    return rows;
}

void KeyStore::flusher_loop() {
    std::unique_lock lock(flusher_mutex_);
    const auto period = std::chrono::milliseconds(options_.usage_flush_ms);
    while (!flusher_wake_.wait_for(lock, period, [this] { return stopping_; })) {
        lock.unlock();
        const Status status = flush_usage();
        if (!status.ok()) {
            CITADEL_LOG_WARN("usage flush failed (will retry): %s", status.message().c_str());
        }
        lock.lock();
    }
}

}  // namespace citadel::gateway
