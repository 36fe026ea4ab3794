#include "server/http_wire.h"

#include <boost/beast/http/status.hpp>
#include <cstdio>
#include <ctime>

#include "core/log.h"

namespace citadel::server::wire {
namespace http = boost::beast::http;

namespace {

char lower_ascii(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (lower_ascii(a[i]) != lower_ascii(b[i])) return false;
    }
    return true;
}

// RFC 9110 token characters.
bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s) {
        const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                        (c >= 'A' && c <= 'Z') ||
                        std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
        if (!ok) return false;
    }
    return true;
}

bool is_field_value(std::string_view s) {
    for (char c : s) {
        if (c == '\r' || c == '\n' || c == '\0') return false;
    }
    return true;
}

// Headers the server owns: an application value would corrupt the framing.
bool is_framing_header(std::string_view name) {
    return iequals(name, "content-length") || iequals(name, "transfer-encoding") ||
           iequals(name, "connection");
}

std::string_view reason_phrase(int status) {
    const auto known = http::int_to_status(static_cast<unsigned>(status));
    if (known == http::status::unknown) return "Unknown";
    const auto reason = http::obsolete_reason(known);
    return std::string_view(reason.data(), reason.size());
}

// "Sun, 06 Nov 1994 08:49:37 GMT", formatted once per second per thread.
std::string_view http_date() {
    thread_local std::time_t cached_second = 0;
    thread_local char text[40] = {};
    const std::time_t now = std::time(nullptr);
    if (now != cached_second) {
        std::tm tm{};
        gmtime_r(&now, &tm);
        static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
        static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
        // By hand: strftime's names follow the locale.
        std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                      kDays[tm.tm_wday % 7], tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900,
                      tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_second = now;
    }
    return text;
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
    out.append(name);
    out.append(": ");
    out.append(value);
    out.append("\r\n");
}

}  // namespace

int checked_status(int status) {
    if (status >= 200 && status <= 999) return status;
    CITADEL_LOG_WARN("http: the application answered with status %d; sending 500", status);
    return 500;
}

bool status_has_no_body(int status) {
    return status < 200 || status == 204 || status == 304;
}

bool asks_to_close(const HeaderList& headers) {
    for (const auto& [name, value] : headers) {
        if (iequals(name, "connection") && iequals(value, "close")) return true;
    }
    return false;
}

std::string response_head(const HeadSpec& spec) {
    std::string out;
    out.reserve(256);
    out.append("HTTP/1.1 ");
    out.append(std::to_string(spec.status));
    out.push_back(' ');
    out.append(reason_phrase(spec.status));
    out.append("\r\n");
    bool has_server = false;
    if (spec.extra) {
        for (const auto& [name, value] : *spec.extra) {
            if (iequals(name, "server")) has_server = true;
        }
    }
    if (!has_server) append_header(out, "Server", "citadel");
    append_header(out, "Date", http_date());
    if (!spec.content_type.empty() && is_field_value(spec.content_type)) {
        append_header(out, "Content-Type", spec.content_type);
    }
    switch (spec.framing) {
        case Framing::kLength:
            append_header(out, "Content-Length", std::to_string(spec.content_length));
            break;
        case Framing::kChunked:
            append_header(out, "Transfer-Encoding", "chunked");
            break;
        case Framing::kUntilClose:
        case Framing::kNoBody:
            break;
    }
    if (spec.persistence == Persistence::kClose) append_header(out, "Connection", "close");
    if (spec.persistence == Persistence::kKeepAlive) {
        append_header(out, "Connection", "keep-alive");
    }
    if (spec.extra) {
        for (const auto& [name, value] : *spec.extra) {
            if (is_framing_header(name)) continue;
            if (!is_token(name) || !is_field_value(value)) {
                CITADEL_LOG_WARN("http: dropped an invalid response header '%.64s'", name.c_str());
                continue;
            }
            append_header(out, name, value);
        }
    }
    out.append("\r\n");
    return out;
}

std::string chunk_frame(std::string_view data) {
    char size[24];
    const int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    std::string out;
    out.reserve(static_cast<size_t>(n) + data.size() + 2);
    out.append(size, static_cast<size_t>(n));
    out.append(data);
    out.append("\r\n");
    return out;
}

std::string error_json(std::string_view message, std::string_view type) {
    std::string out = R"({"error":{"message":")";
    for (char c : message) {
        switch (c) {
            case '"':
                out.append("\\\"");
                break;
            case '\\':
                out.append("\\\\");
                break;
            case '\n':
                out.append("\\n");
                break;
            case '\r':
                out.append("\\r");
                break;
            case '\t':
                out.append("\\t");
                break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char esc[8];
                    std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(c));
                    out.append(esc);
                } else {
                    out.push_back(c);
                }
        }
    }
    out.append(R"(","type":")");
    out.append(type);
    out.append(R"(","param":null,"code":null}})");
    return out;
}

std::string error_response(int status, std::string_view type, std::string_view message) {
    const std::string body = error_json(message, type);
    std::string out = response_head({.status = status,
                                     .content_type = "application/json",
                                     .framing = Framing::kLength,
                                     .content_length = body.size(),
                                     .persistence = Persistence::kClose});
    out.append(body);
    return out;
}

Request to_request(http::request<http::string_body>&& message, std::string remote) {
    Request req;
    req.method = std::string(message.method_string());
    req.target = std::string(message.target());
    const size_t q = req.target.find('?');
    req.path = req.target.substr(0, q);
    if (q != std::string::npos) req.query = req.target.substr(q + 1);
    for (const auto& field : message) {
        std::string name(field.name_string());
        for (char& c : name) c = lower_ascii(c);
        req.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    req.body = std::move(message.body());
    req.remote = std::move(remote);
    req.http_version = static_cast<int>(message.version());
    return req;
}

}  // namespace citadel::server::wire
