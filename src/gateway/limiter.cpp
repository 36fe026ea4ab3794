#include "gateway/limiter.h"

#include <algorithm>
#include <cstdio>
#include <optional>

namespace citadel::gateway {
namespace {

int64_t floor_div(int64_t a, int64_t b) {
    return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

int retry_seconds(int64_t wait_ms) {
    return int(std::max<int64_t>(1, (wait_ms + 999) / 1000));
}

int64_t until(int64_t at_ms, int64_t now_ms) {
    return at_ms > now_ms ? at_ms - now_ms : 0;
}

void add_trio(std::vector<std::pair<std::string, std::string>>& headers, const char* what,
              int64_t limit, int64_t remaining, int64_t reset_ms) {
    const std::string suffix = what;
    headers.emplace_back("x-ratelimit-limit-" + suffix, std::to_string(limit));
    headers.emplace_back("x-ratelimit-remaining-" + suffix,
                         std::to_string(std::max<int64_t>(0, remaining)));
    headers.emplace_back("x-ratelimit-reset-" + suffix, format_reset_duration(reset_ms));
}

std::vector<std::pair<std::string, std::string>> rate_headers(const KeyLimits& limits,
                                                              const UsageSnapshot& usage,
                                                              int64_t now_ms, bool admitted) {
    std::vector<std::pair<std::string, std::string>> headers;
    if (limits.rpm > 0) {
        // An admitted request is the newest in the window: the window empties a minute on.
        const int64_t counted = usage.requests + (admitted ? 1 : 0);
        const int64_t reset_ms =
            admitted ? kRateWindowMs : until(usage.requests_reset_at_ms, now_ms);
        add_trio(headers, "requests", limits.rpm, limits.rpm - counted, reset_ms);
    }
    if (limits.tpm > 0) {
        add_trio(headers, "tokens", limits.tpm, limits.tpm - usage.tokens,
                 until(usage.tokens_reset_at_ms, now_ms));
    } else if (limits.daily_tokens > 0) {
        add_trio(headers, "tokens", limits.daily_tokens, limits.daily_tokens - usage.day_tokens,
                 ms_until_utc_midnight(now_ms));
    }
    return headers;
}

struct Refusal {
    const char* limit;
    int retry_after_s;
};

// The exceeded limit with the longest wait; on equal waits the earlier check wins.
std::optional<Refusal> worst_refusal(const KeyLimits& limits, const UsageSnapshot& usage,
                                     int64_t now_ms) {
    std::optional<Refusal> worst;
    auto consider = [&](bool exceeded, const char* limit, int64_t wait_ms) {
        const int retry_s = retry_seconds(wait_ms);
        if (exceeded && (!worst || retry_s > worst->retry_after_s)) worst = Refusal{limit, retry_s};
    };
    consider(limits.daily_tokens > 0 && usage.day_tokens >= limits.daily_tokens,
             "daily token quota", ms_until_utc_midnight(now_ms));
    consider(limits.tpm > 0 && usage.tokens >= limits.tpm, "tokens per minute",
             until(usage.token_free_at_ms, now_ms));
    consider(limits.rpm > 0 && usage.requests >= limits.rpm, "requests per minute",
             until(usage.request_free_at_ms, now_ms));
    consider(limits.max_concurrent > 0 && usage.in_flight >= limits.max_concurrent,
             "concurrent requests", 1000);
    return worst;
}

}  // namespace

bool has_any_limit(const KeyLimits& limits) {
    return limits.rpm > 0 || limits.tpm > 0 || limits.max_concurrent > 0 || limits.daily_tokens > 0;
}

bool within_limits(const KeyLimits& limits, const UsageSnapshot& usage) {
    return (limits.rpm <= 0 || usage.requests < limits.rpm) &&
           (limits.tpm <= 0 || usage.tokens < limits.tpm) &&
           (limits.daily_tokens <= 0 || usage.day_tokens < limits.daily_tokens) &&
           (limits.max_concurrent <= 0 || usage.in_flight < limits.max_concurrent);
}

Admission decide_admission(const KeyLimits& limits, const UsageSnapshot& usage, int64_t now_ms) {
    Admission admission;
    if (!has_any_limit(limits)) return admission;
    const bool admitted = within_limits(limits, usage);
    admission.headers = rate_headers(limits, usage, now_ms, admitted);
    if (admitted) return admission;
    const std::optional<Refusal> refusal = worst_refusal(limits, usage, now_ms);
    CITADEL_CHECK(refusal.has_value());
    admission.status = 429;
    admission.limit = refusal->limit;
    admission.retry_after_s = refusal->retry_after_s;
    return admission;
}

int64_t utc_day(int64_t now_ms) {
    return floor_div(now_ms, kDayMs);
}

int64_t ms_until_utc_midnight(int64_t now_ms) {
    return (utc_day(now_ms) + 1) * kDayMs - now_ms;
}

int64_t token_bucket(int64_t now_ms) {
    return floor_div(now_ms, kTokenBucketMs);
}

int64_t token_bucket_end_of_window(int64_t bucket) {
    return (bucket + 1) * kTokenBucketMs + kRateWindowMs;
}

std::string format_reset_duration(int64_t ms) {
    if (ms <= 0) return "0s";
    if (ms < 1000) return std::to_string(ms) + "ms";
    const int64_t hours = ms / 3'600'000, minutes = ms / 60'000 % 60;
    const int64_t seconds = ms / 1000 % 60, millis = ms % 1000;
    std::string out;
    if (hours > 0) out += std::to_string(hours) + "h";
    if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
    out += std::to_string(seconds);
    if (millis > 0) {
        char frac[8];
        std::snprintf(frac, sizeof frac, ".%03d", int(millis));
        std::string digits = frac;
        while (digits.back() == '0') digits.pop_back();
        out += digits;
    }
    return out + "s";
}

}  // namespace citadel::gateway
