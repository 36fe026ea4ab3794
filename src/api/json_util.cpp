#include "api/json_util.h"

#include <cmath>
#include <cstdio>

#include "text/unicode.h"

namespace citadel::api {

namespace {

// Advances a scan of JSON text by one byte; true when the byte belongs to a string (its
// quotes included), so that brackets inside strings are not counted.
bool in_json_string(char c, bool& in_string, bool& escaped) {
    if (in_string) {
        if (escaped) {
            escaped = false;
        } else if (c == '\\') {
            escaped = true;
        } else if (c == '"') {
            in_string = false;
        }
        return true;
    }
    if (c != '"') return false;
    in_string = true;
    return true;
}

// The deepest bracket nesting outside strings (a prefix scan; the parser checks the rest).
int nesting_depth(std::string_view text) {
    int depth = 0, max_depth = 0;
    bool in_string = false, escaped = false;
    for (const char c : text) {
        if (in_json_string(c, in_string, escaped)) continue;
        if (c == '{' || c == '[') {
            max_depth = std::max(max_depth, ++depth);
        } else if ((c == '}' || c == ']') && depth > 0) {
            --depth;
        }
    }
    return max_depth;
}

std::string format_bound(double x) {
    char buf[64];
    if (std::abs(x) < 1e15 && x == std::trunc(x)) {
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(x));
    } else {
        std::snprintf(buf, sizeof buf, "%g", x);
    }
    return buf;
}

std::string describe(const Range& r) {
    const bool has_lo = std::isfinite(r.lo), has_hi = std::isfinite(r.hi);
    if (has_lo && has_hi) {
        return std::string("in ") + (r.lo_open ? "(" : "[") + format_bound(r.lo) + ", " +
               format_bound(r.hi) + (r.hi_open ? ")" : "]");
    }
    if (has_lo) return (r.lo_open ? "> " : ">= ") + format_bound(r.lo);
    if (has_hi) return (r.hi_open ? "< " : "<= ") + format_bound(r.hi);
    return "finite";
}

bool in_range(double x, const Range& r) {
    if (!std::isfinite(x)) return false;
    const bool lo_ok = r.lo_open ? x > r.lo : x >= r.lo;
    const bool hi_ok = r.hi_open ? x < r.hi : x <= r.hi;
    return lo_ok && hi_ok;
}

std::string describe_int(int64_t lo, int64_t hi) {
    if (lo != kInt64Min && hi != kInt64Max) {
        return "in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    }
    if (lo != kInt64Min) return ">= " + std::to_string(lo);
    if (hi != kInt64Max) return "<= " + std::to_string(hi);
    return "a 64-bit integer";
}

}  // namespace

std::optional<Json> parse_json(std::string_view text, std::string& error, int max_depth) {
    if (nesting_depth(text) > max_depth) {
        error = "JSON nested deeper than " + std::to_string(max_depth) + " levels";
        return std::nullopt;
    }
    try {
        return Json::parse(text.begin(), text.end());
    } catch (const Json::parse_error& e) {
        std::string what = e.what();
        // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
        if (const size_t close = what.find("] ");
            what.starts_with("[json.") && close != std::string::npos) {
            what.erase(0, close + 2);
        }
        error = text::sanitize_utf8(what);
    } catch (const std::exception& e) {
        error = text::sanitize_utf8(e.what());
    }
    return std::nullopt;
}

Parsed<Json> parse_body(std::string_view body) {
    std::string error;
    auto json = parse_json(body, error);
    if (!json) return invalid_request("invalid JSON body: " + error);
    if (!json->is_object()) {
        return invalid_request(std::string("the request body must be a JSON object, got ") +
                               json_type_name(*json));
    }
    return std::move(*json);
}

std::string dump_json(const Json& value) {
    return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool is_valid_utf8(std::string_view s) {
    size_t i = 0;
    const size_t n = s.size();
    while (i < n) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            len = 2, cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            len = 3, cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len) return false;
        for (size_t k = 1; k < len; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
        if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += len;
    }
    return true;
}

const char* json_type_name(const Json& value) {
    switch (value.type()) {
        case Json::value_t::null:
            return "null";
        case Json::value_t::object:
            return "an object";
        case Json::value_t::array:
            return "an array";
        case Json::value_t::string:
            return "a string";
        case Json::value_t::boolean:
            return "a boolean";
        case Json::value_t::number_integer:
        case Json::value_t::number_unsigned:
            return "an integer";
        case Json::value_t::number_float:
            return "a number";
        case Json::value_t::binary:
            return "binary data";
        case Json::value_t::discarded:
            return "nothing";
    }
    return "an unknown value";
}

JsonExtent json_extent(std::string_view text, size_t start, size_t& end) {
    if (start >= text.size() || (text[start] != '{' && text[start] != '[')) {
        return JsonExtent::kInvalid;
    }
    std::string closers;  // the brackets still open, innermost last
    bool in_string = false, escaped = false;
    for (size_t i = start; i < text.size(); ++i) {
        const char c = text[i];
        if (in_json_string(c, in_string, escaped)) continue;
        if (c == '{' || c == '[') {
            if (closers.size() >= size_t(kMaxJsonDepth)) return JsonExtent::kInvalid;
            closers.push_back(c == '{' ? '}' : ']');
        } else if (c == '}' || c == ']') {
            if (closers.back() != c) return JsonExtent::kInvalid;
            closers.pop_back();
            if (closers.empty()) {
                end = i + 1;
                return JsonExtent::kComplete;
            }
        }
    }
    return JsonExtent::kIncomplete;
}

ApiError type_error(const std::string& path, std::string_view expected, const Json& value) {
    return invalid_param(path,
                         "expected " + std::string(expected) + ", got " + json_type_name(value));
}

FieldError read_string(const Json& value, const std::string& path, std::string& out) {
    if (!value.is_string()) return type_error(path, "a string", value);
    const auto& s = value.get_ref<const std::string&>();
    if (!is_valid_utf8(s)) {
        ApiError e = invalid_param(path, "invalid UTF-8");
        e.message = "invalid UTF-8 in " + path;
        return e;
    }
    out = s;
    return std::nullopt;
}

FieldError read_bool(const Json& value, const std::string& path, bool& out) {
    if (!value.is_boolean()) return type_error(path, "a boolean", value);
    out = value.get<bool>();
    return std::nullopt;
}

FieldError read_number(const Json& value, const std::string& path, const Range& range,
                       double& out) {
    if (!value.is_number()) return type_error(path, "a number", value);
    const double x = value.get<double>();
    if (!in_range(x, range)) {
        return invalid_param(path, "must be " + describe(range) + ", got " + dump_json(value));
    }
    out = x;
    return std::nullopt;
}

FieldError read_number(const Json& value, const std::string& path, const Range& range, float& out) {
    double x = 0;
    CITADEL_API_TRY(read_number(value, path, range, x));
    out = static_cast<float>(x);
    return std::nullopt;
}

FieldError read_int(const Json& value, const std::string& path, int64_t lo, int64_t hi,
                    int64_t& out) {
    if (!value.is_number()) return type_error(path, "an integer", value);
    const auto out_of_range = [&] {
        return invalid_param(path, "must be " + describe_int(lo, hi) + ", got " + dump_json(value));
    };
    int64_t x = 0;
    if (value.is_number_unsigned()) {
        const uint64_t u = value.get<uint64_t>();
        if (u > uint64_t(kInt64Max)) return out_of_range();
        x = int64_t(u);
    } else if (value.is_number_integer()) {
        x = value.get<int64_t>();
    } else {
        const double d = value.get<double>();
        if (std::isfinite(d) && d != std::trunc(d)) {
            return invalid_param(path, "expected an integer, got " + dump_json(value));
        }
        // 2^63 is exactly representable; anything from it upwards does not fit.
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return out_of_range();
        x = static_cast<int64_t>(d);
    }
    if (x < lo || x > hi) return out_of_range();
    out = x;
    return std::nullopt;
}

FieldError read_int(const Json& value, const std::string& path, int64_t lo, int64_t hi, int& out) {
    int64_t x = 0;
    CITADEL_API_TRY(read_int(value, path, std::max<int64_t>(lo, std::numeric_limits<int>::min()),
                             std::min<int64_t>(hi, std::numeric_limits<int>::max()), x));
    out = static_cast<int>(x);
    return std::nullopt;
}

ObjectReader::ObjectReader(const Json& object, std::string prefix)
    : object_(object), prefix_(std::move(prefix)) {}

const Json* ObjectReader::find(std::string_view key) const {
    if (!object_.is_object()) return nullptr;
    const auto it = object_.find(std::string(key));
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
}

std::string ObjectReader::path(std::string_view key) const {
    return prefix_.empty() ? std::string(key) : prefix_ + "." + std::string(key);
}

FieldError ObjectReader::string(std::string_view key, std::string& out) const {
    const Json* v = find(key);
    return v ? read_string(*v, path(key), out) : std::nullopt;
}

FieldError ObjectReader::required_string(std::string_view key, std::string& out) const {
    const Json* v = find(key);
    if (!v) return invalid_param(path(key), "required (a string)");
    return read_string(*v, path(key), out);
}

FieldError ObjectReader::boolean(std::string_view key, bool& out) const {
    const Json* v = find(key);
    return v ? read_bool(*v, path(key), out) : std::nullopt;
}

FieldError ObjectReader::number(std::string_view key, const Range& range, float& out) const {
    const Json* v = find(key);
    return v ? read_number(*v, path(key), range, out) : std::nullopt;
}

FieldError ObjectReader::integer(std::string_view key, int64_t lo, int64_t hi, int64_t& out) const {
    const Json* v = find(key);
    return v ? read_int(*v, path(key), lo, hi, out) : std::nullopt;
}

FieldError ObjectReader::integer(std::string_view key, int64_t lo, int64_t hi, int& out) const {
    const Json* v = find(key);
    return v ? read_int(*v, path(key), lo, hi, out) : std::nullopt;
}

std::string index_path(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
}

}  // namespace citadel::api
