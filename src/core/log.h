// Minimal leveled logging to stderr (structured logs arrive with the server).
#pragma once

#include <cstdarg>

namespace citadel {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
void log_message(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

#define CITADEL_LOG_INFO(...) ::citadel::log_message(::citadel::LogLevel::kInfo, __VA_ARGS__)
#define CITADEL_LOG_WARN(...) ::citadel::log_message(::citadel::LogLevel::kWarn, __VA_ARGS__)
#define CITADEL_LOG_DEBUG(...) ::citadel::log_message(::citadel::LogLevel::kDebug, __VA_ARGS__)

}  // namespace citadel
