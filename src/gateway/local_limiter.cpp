#include "gateway/local_limiter.h"

#include <algorithm>
#include <functional>
#include <iterator>

namespace citadel::gateway {

void RequestLog::prune(int64_t now_ms) {
    while (!times_.empty() && times_.front() <= now_ms - kRateWindowMs) times_.pop_front();
}

void RequestLog::add(int64_t now_ms) {
    // Callers' clocks may interleave by a millisecond; keep the log sorted.
    times_.insert(std::upper_bound(times_.begin(), times_.end(), now_ms), now_ms);
}

void RequestLog::snapshot(int64_t rpm, UsageSnapshot& usage) const {
    const int64_t count = int64_t(times_.size());
    usage.requests = count;
    // Below rpm again once the (count - rpm + 1) oldest have left the window.
    if (rpm > 0 && count >= rpm) usage.request_free_at_ms = times_[count - rpm] + kRateWindowMs;
    if (count > 0) usage.requests_reset_at_ms = times_.back() + kRateWindowMs;
}

void TokenWindow::prune(int64_t now_ms) {
    while (!buckets_.empty() && token_bucket_end_of_window(buckets_.front().first) <= now_ms) {
        buckets_.pop_front();
    }
}

void TokenWindow::add(int64_t now_ms, int64_t tokens) {
    const int64_t bucket = token_bucket(now_ms);
    auto it = std::lower_bound(buckets_.begin(), buckets_.end(), bucket,
                               [](const auto& entry, int64_t b) { return entry.first < b; });
    if (it != buckets_.end() && it->first == bucket) {
        it->second += tokens;
    } else {
        buckets_.insert(it, {bucket, tokens});
    }
}

void TokenWindow::snapshot(int64_t tpm, UsageSnapshot& usage) const {
    int64_t total = 0;
    for (const auto& [bucket, tokens] : buckets_) total += tokens;
    usage.tokens = total;
    if (!buckets_.empty())
        usage.tokens_reset_at_ms = token_bucket_end_of_window(buckets_.back().first);
    if (tpm <= 0 || total < tpm) return;
    for (const auto& [bucket, tokens] : buckets_) {  // oldest first: when does it drop below?
        total -= tokens;
        if (total < tpm) {
            usage.token_free_at_ms = token_bucket_end_of_window(bucket);
            return;
        }
    }
}

void LocalLimiter::Usage::prune(int64_t now_ms) {
    requests.prune(now_ms);
    tokens.prune(now_ms);
    if (day != utc_day(now_ms)) {
        day = utc_day(now_ms);
        day_tokens = 0;
    }
}

bool LocalLimiter::Usage::idle() const {
    return requests.empty() && tokens.empty() && in_flight == 0 && day_tokens == 0;
}

UsageSnapshot LocalLimiter::Usage::snapshot(const KeyLimits& limits) const {
    UsageSnapshot usage;
    requests.snapshot(limits.rpm, usage);
    tokens.snapshot(limits.tpm, usage);
    usage.day_tokens = day_tokens;
    usage.in_flight = in_flight;
    return usage;
}

LocalLimiter::Shard& LocalLimiter::shard_of(const std::string& identity_id) {
    return shards_[std::hash<std::string>{}(identity_id) % kShards];
}

void LocalLimiter::maybe_sweep(Shard& shard, int64_t now_ms) {
    if (now_ms < shard.next_sweep_ms) return;
    shard.next_sweep_ms = now_ms + kRateWindowMs;
    for (auto it = shard.usage.begin(); it != shard.usage.end();) {
        it->second.prune(now_ms);
        it = it->second.idle() ? shard.usage.erase(it) : std::next(it);
    }
}

Admission LocalLimiter::admit(const std::string& identity_id, const KeyLimits& limits,
                              int64_t now_ms) {
    if (!has_any_limit(limits)) return Admission{};
    Shard& shard = shard_of(identity_id);
    std::lock_guard lock(shard.mu);
    maybe_sweep(shard, now_ms);
    Usage& usage = shard.usage[identity_id];
    usage.prune(now_ms);
    Admission admission = decide_admission(limits, usage.snapshot(limits), now_ms);
    if (!admission.ok()) return admission;
    if (limits.rpm > 0) usage.requests.add(now_ms);
    if (limits.max_concurrent > 0) ++usage.in_flight;
    return admission;
}

void LocalLimiter::charge(const std::string& identity_id, const KeyLimits& limits, int64_t tokens,
                          int64_t now_ms) {
    if (tokens <= 0 || (limits.tpm <= 0 && limits.daily_tokens <= 0)) return;
    Shard& shard = shard_of(identity_id);
    std::lock_guard lock(shard.mu);
    Usage& usage = shard.usage[identity_id];
    usage.prune(now_ms);
    if (limits.tpm > 0) usage.tokens.add(now_ms, tokens);
    if (limits.daily_tokens > 0) usage.day_tokens += tokens;
}

void LocalLimiter::release(const std::string& identity_id) {
    Shard& shard = shard_of(identity_id);
    std::lock_guard lock(shard.mu);
    auto it = shard.usage.find(identity_id);
    if (it != shard.usage.end() && it->second.in_flight > 0) --it->second.in_flight;
}

size_t LocalLimiter::identities_tracked() {
    size_t total = 0;
    for (Shard& shard : shards_) {
        std::lock_guard lock(shard.mu);
        total += shard.usage.size();
    }
    return total;
}

std::unique_ptr<Limiter> make_local_limiter() {
    return std::make_unique<LocalLimiter>();
}

}  // namespace citadel::gateway
