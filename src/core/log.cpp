#include "core/log.h"

#include <atomic>
#include <cstdio>

namespace citadel {
namespace {
std::atomic<LogLevel> g_level{LogLevel::kWarn};
const char* level_name(LogLevel l) {
    switch (l) {
        case LogLevel::kDebug:
            return "debug";
        case LogLevel::kInfo:
            return "info";
        case LogLevel::kWarn:
            return "warn";
        case LogLevel::kError:
            return "error";
    }
    return "?";
}
}  // namespace

void set_log_level(LogLevel level) {
    g_level = level;
}
LogLevel log_level() {
    return g_level;
}

void log_message(LogLevel level, const char* fmt, ...) {
    if (level < g_level.load()) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    std::fprintf(stderr, "citadel %s: %s\n", level_name(level), buf);
}

}  // namespace citadel
