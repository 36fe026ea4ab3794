// Per-identity admission control: requests per minute, tokens per minute, a daily token quota
// and a cap on requests in flight, with an in-process backend (one replica) and a Redis backend
// (limits shared by every replica). Both backends have the same semantics, defined here once:
//
//   rpm             A sliding log: every admitted request's time is kept for 60 s, and a
//                   request is admitted while fewer than `rpm` lie in the last 60 s. Exact: no
//                   60 s window, wherever it starts, ever holds more than `rpm` admissions (a
//                   fixed window allows 2x across its boundary, GCRA with a burst of `rpm`
//                   allows 2x-1 within one minute). Memory: at most `rpm` timestamps per
//                   identity, dropped as they age out.
//   tpm             Tokens are summed in 1 s buckets (kTokenBucketMs); a bucket counts until
//                   its end is 60 s old, so a token counts for 60 to 61 s (never less than a
//                   minute; 61 small counters per identity however many tokens stream). A
//                   request is admitted while the counted tokens are below `tpm`; tokens are
//                   charged as they stream and never cut a request short.
//   daily_tokens    Tokens per UTC day (days are whole multiples of 86,400,000 ms since the
//                   epoch: Unix time has no leap seconds); the count restarts at 00:00 UTC.
//   max_concurrent  Requests admitted and not yet released.
//
// Several limits exceeded at once: the refusal names the one with the longest Retry-After
// (retrying earlier would fail on it anyway); ties go to the first of daily quota, tokens per
// minute, requests per minute, concurrent requests. A concurrency refusal says Retry-After 1.
// A refused request is counted against nothing. An identity with no limits (all 0) touches no
// state, is never refused (not even when Redis is down) and gets no headers.
//
// Headers (OpenAI's names) describe rpm (the "requests" trio, when rpm > 0) and tpm (the
// "tokens" trio, when tpm > 0; without tpm the trio describes the daily quota, when there is
// one). A limit on concurrency alone has no OpenAI header. "reset" is how long until the
// window is empty again, written like "250ms", "6s", "1m0s", "59.5s".
//
// Time is passed in (now_ms, Unix ms), also to Redis (its TIME is not used), so tests can
// drive a fake clock; replicas sharing a Redis need synchronised clocks (NTP).
//
// Threading: every Limiter is thread-safe; one instance serves the whole process.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "gateway/identity.h"

namespace citadel::gateway {

constexpr int64_t kRateWindowMs = 60'000;  // the "minute" of rpm and tpm
constexpr int64_t kTokenBucketMs = 1'000;  // tpm's bucket width
constexpr int64_t kDayMs = 86'400'000;

struct Admission {
    int status = 200;       // 200 admitted; 429 over a limit; 503 limiter unavailable
    std::string limit;      // which limit refused: "requests per minute", "tokens per minute",
                            // "concurrent requests", "daily token quota",
                            // "rate limiter unavailable"
    int retry_after_s = 0;  // 429/503: when trying again can succeed (>= 1)
    // x-ratelimit-{limit,remaining,reset}-{requests,tokens}; see the header comment.
    std::vector<std::pair<std::string, std::string>> headers;
    bool ok() const { return status == 200; }
};

class Limiter {
  public:
    virtual ~Limiter() = default;
    // Before an inference request runs: checks every limit of `limits` (0 = unlimited) and,
    // when admitted, counts one request and holds one concurrency slot until release().
    virtual Admission admit(const std::string& identity_id, const KeyLimits& limits,
                            int64_t now_ms) = 0;
    // Tokens (prompt + completion) charged as they are produced; counts toward tpm and the
    // daily quota. Batch where you can (the Redis backend pays one round trip per call).
    virtual void charge(const std::string& identity_id, const KeyLimits& limits, int64_t tokens,
                        int64_t now_ms) = 0;
    // Exactly once per admitted request; a release with no slot held is ignored.
    virtual void release(const std::string& identity_id) = 0;
    virtual std::string describe() const = 0;  // "in-process" or "redis://127.0.0.1:6379/0"
};

std::unique_ptr<Limiter> make_local_limiter();

struct RedisLimiterOptions {
    std::string url;         // redis://[[user]:password@]host[:port][/db]
    int timeout_ms = 250;    // connect and command timeout
    bool fail_open = false;  // Redis unreachable: admit (true) or answer 503 (false)
    std::string key_prefix = "citadel:";
    int pool_size = 4;
    int lease_ttl_s = 600;  // a concurrency slot held by a crashed replica frees itself after
                            // this; charge() renews the slots of requests still streaming
};
// Connects and PINGs; the error names the URL (never its password) and the reason.
Result<std::unique_ptr<Limiter>> make_redis_limiter(const RedisLimiterOptions& options);

// ---- The arithmetic both backends share -------------------------------------------------

// What a backend knows about one identity just before deciding (the request not counted).
// The *_free_at_ms fields are only meaningful while the matching limit is reached.
struct UsageSnapshot {
    int64_t requests = 0;              // admissions in the last 60 s
    int64_t request_free_at_ms = 0;    // when they drop below rpm
    int64_t requests_reset_at_ms = 0;  // when the newest leaves the window (0: none)
    int64_t tokens = 0;                // tokens in the tpm window
    int64_t token_free_at_ms = 0;      // when they drop below tpm
    int64_t tokens_reset_at_ms = 0;    // when the newest bucket leaves the window (0: none)
    int64_t day_tokens = 0;            // tokens charged today (UTC)
    int64_t in_flight = 0;             // slots held
};

bool has_any_limit(const KeyLimits& limits);
bool within_limits(const KeyLimits& limits, const UsageSnapshot& usage);
// Status, refusing limit, Retry-After and headers for `usage`, the rules above.
Admission decide_admission(const KeyLimits& limits, const UsageSnapshot& usage, int64_t now_ms);

int64_t utc_day(int64_t now_ms);                     // days since 1970-01-01 UTC
int64_t ms_until_utc_midnight(int64_t now_ms);       // > 0
int64_t token_bucket(int64_t now_ms);                // the tpm bucket `now_ms` falls in
int64_t token_bucket_end_of_window(int64_t bucket);  // when that bucket stops counting
// Go-style duration as OpenAI writes it: "0s", "250ms", "6s", "59.5s", "1m0s", "1h2m3s".
std::string format_reset_duration(int64_t ms);

}  // namespace citadel::gateway
