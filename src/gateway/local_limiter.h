// The in-process Limiter: the semantics of limiter.h for a single replica, kept in memory.
// Per identity: a sliding log of request times (at most rpm entries), 1 s token buckets for the
// last minute (at most 61), today's token count and the slots held. An identity's state is
// dropped once it holds nothing that still counts (swept once a minute per shard), so memory is
// bounded by the identities active in the last minute plus those with tokens charged today
// against a daily quota.
//
// Threading: thread-safe. Identities are spread over 16 shards, each behind its own mutex held
// only for the bookkeeping of one call (no I/O, no allocation beyond the identity's entry).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include "gateway/limiter.h"

namespace citadel::gateway {

// Admission times in the last minute, oldest first.
class RequestLog {
  public:
    void prune(int64_t now_ms);  // forgets requests a full window old
    void add(int64_t now_ms);
    bool empty() const { return times_.empty(); }
    // Fills requests, request_free_at_ms (for `rpm`) and requests_reset_at_ms.
    void snapshot(int64_t rpm, UsageSnapshot& usage) const;

  private:
    std::deque<int64_t> times_;
};

// Tokens charged in the last minute, in 1 s buckets, oldest first.
class TokenWindow {
  public:
    void prune(int64_t now_ms);  // forgets buckets whose window has passed
    void add(int64_t now_ms, int64_t tokens);
    bool empty() const { return buckets_.empty(); }
    // Fills tokens, token_free_at_ms (for `tpm`) and tokens_reset_at_ms.
    void snapshot(int64_t tpm, UsageSnapshot& usage) const;

  private:
    std::deque<std::pair<int64_t, int64_t>> buckets_;  // (bucket index, tokens)
};

class LocalLimiter final : public Limiter {
  public:
    Admission admit(const std::string& identity_id, const KeyLimits& limits,
                    int64_t now_ms) override;
    void charge(const std::string& identity_id, const KeyLimits& limits, int64_t tokens,
                int64_t now_ms) override;
    void release(const std::string& identity_id) override;
    std::string describe() const override { return "in-process"; }
    size_t identities_tracked();  // identities with state (for metrics and tests)

  private:
    struct Usage {
        RequestLog requests;
        TokenWindow tokens;
        int64_t day = 0;  // utc_day() of day_tokens
        int64_t day_tokens = 0;
        int64_t in_flight = 0;
        void prune(int64_t now_ms);
        bool idle() const;  // after prune(): nothing left that counts
        UsageSnapshot snapshot(const KeyLimits& limits) const;
    };
    struct Shard {
        std::mutex mu;
        std::unordered_map<std::string, Usage> usage;
        int64_t next_sweep_ms = 0;
    };
    static constexpr size_t kShards = 16;

    Shard& shard_of(const std::string& identity_id);
    static void maybe_sweep(Shard& shard, int64_t now_ms);  // shard.mu held

    std::array<Shard, kShards> shards_;
};

}  // namespace citadel::gateway
