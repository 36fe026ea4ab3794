// Wall-clock helpers shared by the gateway and its users (limits, audit times, usage days).
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>

namespace citadel::gateway {

// Milliseconds since the Unix epoch.
inline int64_t unix_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// `unix_s` as UTC text in strftime's `format` ("%Y-%m-%d" is the usage day).
inline std::string format_utc(int64_t unix_s, const char* format) {
    const std::time_t t = std::time_t(unix_s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    const size_t n = std::strftime(buf, sizeof buf, format, &tm);
    return std::string(buf, n);
}

}  // namespace citadel::gateway
