// Leveled logging to stderr, one line per event. On a terminal the lines are for people
// ("citadel info: ..."); otherwise (a service, a container, a pipe) each line is a JSON object
// with time, level and message, plus the fields of structured events (log_event), so log
// shippers need no parsing rules. CITADEL_LOG_FORMAT=json|text overrides the choice.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <string>
#include <vector>

namespace citadel {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
void log_message(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// One field of a structured event: text, or a number (written without quotes in JSON).
struct LogField {
    LogField(const char* k, std::string v) : key(k), text(std::move(v)) {}
    LogField(const char* k, const char* v) : key(k), text(v) {}
    LogField(const char* k, int64_t v) : key(k), number(v), is_number(true) {}
    LogField(const char* k, int v) : key(k), number(v), is_number(true) {}
    const char* key;
    std::string text;
    int64_t number = 0;
    bool is_number = false;
};

// A structured event: `event` names it ("request"), the fields carry its data.
void log_event(LogLevel level, const char* event, const std::vector<LogField>& fields);

#define CITADEL_LOG_INFO(...) ::citadel::log_message(::citadel::LogLevel::kInfo, __VA_ARGS__)
#define CITADEL_LOG_WARN(...) ::citadel::log_message(::citadel::LogLevel::kWarn, __VA_ARGS__)
#define CITADEL_LOG_DEBUG(...) ::citadel::log_message(::citadel::LogLevel::kDebug, __VA_ARGS__)

}  // namespace citadel
