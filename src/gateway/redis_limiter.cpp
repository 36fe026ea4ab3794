#include "gateway/redis_limiter.h"

#include <chrono>

#include "core/log.h"
#include "gateway/crypto.h"

namespace citadel::gateway {
namespace {

// KEYS: rpm log, tpm buckets, today's tokens, leases.
// ARGV: now, rpm, tpm, daily, max_concurrent, request id, lease ttl, window, bucket width.
// Returns {admitted, then the UsageSnapshot fields in declaration order}. The decision mirrors
// within_limits() in limiter.cpp; the windows mirror local_limiter.cpp.
constexpr const char* kAdmitScript = R"lua(
local now = tonumber(ARGV[1])
local rpm, tpm = tonumber(ARGV[2]), tonumber(ARGV[3])
local daily, max_conc = tonumber(ARGV[4]), tonumber(ARGV[5])
local id, lease_ttl = ARGV[6], tonumber(ARGV[7])
local window, bucket_ms = tonumber(ARGV[8]), tonumber(ARGV[9])

local function score_at(key, rank)
  return tonumber(redis.call('ZRANGE', key, rank, rank, 'WITHSCORES')[2])
end

local requests, request_free_at, requests_reset_at = 0, 0, 0
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  requests = redis.call('ZCARD', KEYS[1])
  if requests >= rpm then request_free_at = score_at(KEYS[1], requests - rpm) + window end
  if requests > 0 then requests_reset_at = score_at(KEYS[1], -1) + window end
end

local tokens, token_free_at, tokens_reset_at = 0, 0, 0
if tpm > 0 then
  local live = {}
  local flat = redis.call('HGETALL', KEYS[2])
  for i = 1, #flat, 2 do
    local bucket, n = tonumber(flat[i]), tonumber(flat[i + 1])
    if (bucket + 1) * bucket_ms + window <= now then
      redis.call('HDEL', KEYS[2], flat[i])
    else
      live[#live + 1] = {bucket, n}
      tokens = tokens + n
    end
  end
  table.sort(live, function(a, b) return a[1] < b[1] end)
  if #live > 0 then tokens_reset_at = (live[#live][1] + 1) * bucket_ms + window end
  local left = tokens
  for _, entry in ipairs(live) do
    if left < tpm then break end
    left = left - entry[2]
    if left < tpm then token_free_at = (entry[1] + 1) * bucket_ms + window end
  end
end

local day_tokens = 0
if daily > 0 then day_tokens = tonumber(redis.call('GET', KEYS[3]) or '0') end

local in_flight = 0
if max_conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
  in_flight = redis.call('ZCARD', KEYS[4])
end

local admitted = (rpm <= 0 or requests < rpm) and (tpm <= 0 or tokens < tpm)
  and (daily <= 0 or day_tokens < daily) and (max_conc <= 0 or in_flight < max_conc)
if admitted then
  if rpm > 0 then
    redis.call('ZADD', KEYS[1], now, id)
    redis.call('PEXPIRE', KEYS[1], window + bucket_ms)
  end
  if max_conc > 0 then
    redis.call('ZADD', KEYS[4], now + lease_ttl, id)
    redis.call('PEXPIRE', KEYS[4], score_at(KEYS[4], -1) - now + bucket_ms)
  end
end
return {admitted and 1 or 0, requests, request_free_at, requests_reset_at,
        tokens, token_free_at, tokens_reset_at, day_tokens, in_flight}
)lua";

// KEYS: tpm buckets, today's tokens, leases.
// ARGV: now, tokens, tpm bucket ('' = tpm not tracked), day key ttl (0 = no daily quota),
//       tpm key ttl, lease ttl, then the request ids whose leases to renew.
constexpr const char* kChargeScript = R"lua(
local now, tokens = tonumber(ARGV[1]), tonumber(ARGV[2])
local bucket, day_ttl = ARGV[3], tonumber(ARGV[4])
local tpm_ttl, lease_ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
if tokens > 0 and bucket ~= '' then
  redis.call('HINCRBY', KEYS[1], bucket, tokens)
  redis.call('PEXPIRE', KEYS[1], tpm_ttl)
end
if tokens > 0 and day_ttl > 0 then
  redis.call('INCRBY', KEYS[2], tokens)
  redis.call('PEXPIRE', KEYS[2], day_ttl)
end
if #ARGV >= 7 then
  for i = 7, #ARGV do redis.call('ZADD', KEYS[3], 'XX', now + lease_ttl, ARGV[i]) end
  local last = redis.call('ZRANGE', KEYS[3], -1, -1, 'WITHSCORES')[2]
  if last then redis.call('PEXPIRE', KEYS[3], tonumber(last) - now + 1000) end
end
return 1
)lua";

constexpr size_t kAdmitReplySize = 9;
constexpr int64_t kWarnEveryMs = 5000;

bool well_formed(const RedisReply& reply) {
    if (reply.type != RedisReply::Type::kArray || reply.elements.size() != kAdmitReplySize) {
        return false;
    }
    for (const auto& element : reply.elements) {
        if (element.type != RedisReply::Type::kInteger) return false;
    }
    return true;
}

UsageSnapshot snapshot_from(const RedisReply& reply) {
    const auto at = [&](size_t i) { return reply.elements[i].integer; };
    UsageSnapshot usage;
    usage.requests = at(1);
    usage.request_free_at_ms = at(2);
    usage.requests_reset_at_ms = at(3);
    usage.tokens = at(4);
    usage.token_free_at_ms = at(5);
    usage.tokens_reset_at_ms = at(6);
    usage.day_tokens = at(7);
    usage.in_flight = at(8);
    return usage;
}

std::string describe_failure(const Result<RedisReply>& reply) {
    if (!reply.ok()) return reply.error();
    if (reply->is_error()) return "script error: " + reply->text;
    return "unexpected reply to the admission script";
}

Status check_options(const RedisLimiterOptions& options) {
    if (options.timeout_ms <= 0) return Status::error("Redis timeout_ms must be > 0");
    if (options.pool_size <= 0) return Status::error("Redis pool_size must be > 0");
    if (options.lease_ttl_s <= 0) return Status::error("Redis lease_ttl_s must be > 0");
    return ok_status();
}

}  // namespace

RedisLimiter::RedisLimiter(const RedisLimiterOptions& options, const RedisUrl& url)
    : options_(options),
      pool_([&] {
          RedisPoolOptions pool_options;
          pool_options.url = url;
          pool_options.timeout_ms = options.timeout_ms;
          pool_options.pool_size = options.pool_size;
          return pool_options;
      }()),
      admit_script_(kAdmitScript),
      charge_script_(kChargeScript),
      instance_id_(crypto::to_hex(crypto::random_bytes(8))) {}

Result<std::unique_ptr<RedisLimiter>> RedisLimiter::create(const RedisLimiterOptions& options) {
    CITADEL_TRY(check_options(options));
    auto url = parse_redis_url(options.url);
    if (!url.ok()) return url.status();
    std::unique_ptr<RedisLimiter> limiter(new RedisLimiter(options, *url));
    CITADEL_TRY(limiter->connect_and_load());
    return limiter;
}

Status RedisLimiter::connect_and_load() {
    auto pong = pool_.command({"PING"});
    if (!pong.ok()) return pong.status();
    if (pong->is_error()) {
        return Status::error("Redis at " + describe() + " answered PING with '" + pong->text +
                             "' (a password goes in the URL: redis://:password@host)");
    }
    // Loaded now so that the first request does not pay for it.
    for (RedisScript* script : {&admit_script_, &charge_script_}) {
        auto loaded = script->load(pool_);
        if (!loaded.ok()) return loaded.status();
    }
    return ok_status();
}

std::string RedisLimiter::key(const std::string& identity_id, const std::string& kind) const {
    return options_.key_prefix + "{" + identity_id + "}:" + kind;
}

std::string RedisLimiter::next_request_id() {
    return instance_id_ + "-" + std::to_string(next_request_.fetch_add(1));
}

Admission RedisLimiter::admit(const std::string& identity_id, const KeyLimits& limits,
                              int64_t now_ms) {
    if (!has_any_limit(limits)) return Admission{};
    const std::string request_id = next_request_id();
    const std::vector<std::string> keys = {
        key(identity_id, "rpm"), key(identity_id, "tpm"),
        key(identity_id, "day:" + std::to_string(utc_day(now_ms))), key(identity_id, "leases")};
    const std::vector<std::string> args = {std::to_string(now_ms),
                                           std::to_string(limits.rpm),
                                           std::to_string(limits.tpm),
                                           std::to_string(limits.daily_tokens),
                                           std::to_string(limits.max_concurrent),
                                           request_id,
                                           std::to_string(int64_t(options_.lease_ttl_s) * 1000),
                                           std::to_string(kRateWindowMs),
                                           std::to_string(kTokenBucketMs)};
    auto reply = admit_script_.run(pool_, keys, args);
    if (!reply.ok() || !well_formed(*reply)) return unavailable(describe_failure(reply));
    Admission admission = decide_admission(limits, snapshot_from(*reply), now_ms);
    CITADEL_CHECK(admission.ok() == (reply->elements[0].integer == 1));
    if (admission.ok() && limits.max_concurrent > 0) {
        std::lock_guard lock(held_mu_);
        held_[identity_id].push_back(request_id);
    }
    return admission;
}

std::vector<std::string> RedisLimiter::leases_held(const std::string& identity_id) {
    std::lock_guard lock(held_mu_);
    auto it = held_.find(identity_id);
    return it == held_.end() ? std::vector<std::string>{} : it->second;
}

void RedisLimiter::charge(const std::string& identity_id, const KeyLimits& limits, int64_t tokens,
                          int64_t now_ms) {
    const bool tracked = tokens > 0 && (limits.tpm > 0 || limits.daily_tokens > 0);
    std::vector<std::string> leases = leases_held(identity_id);
    if (!tracked && leases.empty()) return;
    const std::vector<std::string> keys = {
        key(identity_id, "tpm"), key(identity_id, "day:" + std::to_string(utc_day(now_ms))),
        key(identity_id, "leases")};
    // Today's counter outlives midnight by an hour, for replicas whose clocks run behind.
    const int64_t day_ttl_ms =
        limits.daily_tokens > 0 ? ms_until_utc_midnight(now_ms) + 3'600'000 : 0;
    std::vector<std::string> args = {std::to_string(now_ms),
                                     std::to_string(std::max<int64_t>(0, tokens)),
                                     limits.tpm > 0 ? std::to_string(token_bucket(now_ms)) : "",
                                     std::to_string(day_ttl_ms),
                                     std::to_string(kRateWindowMs + 2 * kTokenBucketMs),
                                     std::to_string(int64_t(options_.lease_ttl_s) * 1000)};
    args.insert(args.end(), leases.begin(), leases.end());
    auto reply = charge_script_.run(pool_, keys, args);
    if (!reply.ok() || reply->is_error()) {
        warn_throttled("tokens not counted: " +
                       (reply.ok() ? "script error: " + reply->text : reply.error()));
    }
}

void RedisLimiter::release(const std::string& identity_id) {
    std::string request_id;
    {
        std::lock_guard lock(held_mu_);
        auto it = held_.find(identity_id);
        if (it == held_.end()) return;  // no slot was taken (no max_concurrent, or fail-open)
        request_id = std::move(it->second.back());
        it->second.pop_back();
        if (it->second.empty()) held_.erase(it);
    }
    auto reply = pool_.command({"ZREM", key(identity_id, "leases"), request_id});
    if (!reply.ok() || reply->is_error()) {
        warn_throttled("a concurrency slot stays taken until its lease lapses: " +
                       (reply.ok() ? reply->text : reply.error()));
    }
}

Admission RedisLimiter::unavailable(const std::string& why) {
    Admission admission;
    if (options_.fail_open) {
        warn_throttled("admitting without limits (fail_open): " + why);
        return admission;
    }
    warn_throttled("refusing requests (503): " + why);
    admission.status = 503;
    admission.limit = "rate limiter unavailable";
    admission.retry_after_s = 1;
    return admission;
}

void RedisLimiter::warn_throttled(const std::string& what) {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
    int64_t due = next_warning_ms_.load();
    if (now_ms < due || !next_warning_ms_.compare_exchange_strong(due, now_ms + kWarnEveryMs)) {
        return;
    }
    CITADEL_LOG_WARN("rate limiter %s: %s", describe().c_str(), what.c_str());
}

Result<std::unique_ptr<Limiter>> make_redis_limiter(const RedisLimiterOptions& options) {
    auto limiter = RedisLimiter::create(options);
    if (!limiter.ok()) return limiter.status();
    return std::unique_ptr<Limiter>(std::move(*limiter));
}

}  // namespace citadel::gateway
