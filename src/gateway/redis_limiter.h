// The Limiter whose counts live in Redis, shared by every replica of the gateway (semantics in
// limiter.h). One admission is one EVALSHA of a Lua script that reads every limit and, only
// when all pass, records the request and takes a concurrency lease, atomically: two replicas
// can never both take the last slot. Keys, per identity, share the hash tag {identity}:
//   <prefix>{id}:rpm       sorted set, admission times (score = member time), the sliding log
//   <prefix>{id}:tpm       hash, 1 s bucket index -> tokens
//   <prefix>{id}:day:<n>   counter, tokens on UTC day n
//   <prefix>{id}:leases    sorted set, request id -> lease expiry (ms); a crashed replica's
//                          leases lapse after lease_ttl_s, charge() renews live ones
// Every write sets a TTL, so idle identities leave nothing behind. Scores are the callers'
// now_ms, so replicas need synchronised clocks (NTP).
//
// Redis unreachable: fail_open admits (a warning at most every 5 s), otherwise 503 "rate
// limiter unavailable", Retry-After 1; the pool reconnects by itself. Identities without limits
// never reach Redis.
//
// Threading: thread-safe. Ownership: owns its connection pool; the leases this instance holds
// are remembered here (identity -> request ids) so that release() can return them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateway/limiter.h"
#include "gateway/redis_client.h"

namespace citadel::gateway {

class RedisLimiter final : public Limiter {
  public:
    static Result<std::unique_ptr<RedisLimiter>> create(const RedisLimiterOptions& options);

    Admission admit(const std::string& identity_id, const KeyLimits& limits,
                    int64_t now_ms) override;
    void charge(const std::string& identity_id, const KeyLimits& limits, int64_t tokens,
                int64_t now_ms) override;
    void release(const std::string& identity_id) override;
    std::string describe() const override { return pool_.url().describe(); }

  private:
    RedisLimiter(const RedisLimiterOptions& options, const RedisUrl& url);
    Status connect_and_load();  // PING, then SCRIPT LOAD both scripts

    std::string key(const std::string& identity_id, const std::string& kind) const;
    std::string next_request_id();
    std::vector<std::string> leases_held(const std::string& identity_id);
    Admission unavailable(const std::string& why);
    void warn_throttled(const std::string& what);

    RedisLimiterOptions options_;
    RedisPool pool_;
    RedisScript admit_script_;
    RedisScript charge_script_;
    const std::string instance_id_;  // random; makes request ids unique across replicas
    std::atomic<uint64_t> next_request_{0};
    std::atomic<int64_t> next_warning_ms_{0};  // steady clock

    std::mutex held_mu_;
    std::unordered_map<std::string, std::vector<std::string>> held_;  // identity -> leases
};

}  // namespace citadel::gateway
