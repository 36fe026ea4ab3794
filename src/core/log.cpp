#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

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

bool json_format() {
    static const bool json = [] {
        const char* f = std::getenv("CITADEL_LOG_FORMAT");
        if (f && std::strcmp(f, "json") == 0) return true;
        if (f && std::strcmp(f, "text") == 0) return false;
        return !::isatty(STDERR_FILENO);
    }();
    return json;
}

// "2026-11-21T10:00:00.123Z"
std::string timestamp() {
    const auto now = std::chrono::system_clock::now();
    const int64_t ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const std::time_t t = std::time_t(ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    const size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    std::snprintf(buf + n, sizeof buf - n, ".%03dZ", int(ms % 1000));
    return buf;
}

// JSON string escaping; bytes >= 0x80 pass through (the text is UTF-8).
void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += char(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    out += '"';
}

void append_field(std::string& out, const LogField& f, bool json) {
    if (json) {
        out += ',';
        append_json_string(out, f.key);
        out += ':';
        if (f.is_number)
            out += std::to_string(f.number);
        else
            append_json_string(out, f.text);
        return;
    }
    out += ' ';
    out += f.key;
    out += '=';
    out += f.is_number ? std::to_string(f.number) : f.text;
}

// One whole line per write, so lines from several threads never interleave.
void emit(LogLevel level, std::string_view msg, const std::vector<LogField>* fields) {
    const bool json = json_format();
    std::string line;
    if (json) {
        line = "{\"time\":\"" + timestamp() + "\",\"level\":\"" + level_name(level) + "\",\"msg\":";
        append_json_string(line, msg);
        if (fields) {
            for (const LogField& f : *fields) append_field(line, f, true);
        }
        line += "}\n";
    } else {
        line = std::string("citadel ") + level_name(level) + ": ";
        line += msg;
        if (fields) {
            for (const LogField& f : *fields) append_field(line, f, false);
        }
        line += '\n';
    }
    std::fwrite(line.data(), 1, line.size(), stderr);
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
    emit(level, buf, nullptr);
}

void log_event(LogLevel level, const char* event, const std::vector<LogField>& fields) {
    if (level < g_level.load()) return;
    emit(level, event, &fields);
}

}  // namespace citadel
