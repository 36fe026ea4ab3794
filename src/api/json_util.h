// JSON helpers of the api layer: parsing untrusted text (nesting limited, errors as values),
// dumping that never throws, and typed field readers whose errors name the field's path
// ("messages[2].content") and say what was expected and what came.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/errors.h"

namespace citadel::api {

using Json = nlohmann::ordered_json;

// Deeper nesting is refused before parsing: copying, comparing and dumping a value recurse.
inline constexpr int kMaxJsonDepth = 64;

// Parses JSON text. On failure returns nullopt and sets `error` ("parse error at line 1,
// column 7: ..." or "JSON nested deeper than 64 levels"); never throws.
std::optional<Json> parse_json(std::string_view text, std::string& error,
                               int max_depth = kMaxJsonDepth);

// A request body: a JSON object, else a 400 saying why.
Parsed<Json> parse_body(std::string_view body);

// Compact JSON text; invalid UTF-8 inside strings becomes U+FFFD instead of throwing.
std::string dump_json(const Json& value);

bool is_valid_utf8(std::string_view s);

// "a string", "an integer", "a number", "a boolean", "an object", "an array", "null".
const char* json_type_name(const Json& value);

// Where a JSON object or array that starts at text[start] ('{' or '[') ends, looking only at
// brackets and strings (the parser checks the rest). kComplete sets end one past the closing
// bracket; kIncomplete: the text ends first; kInvalid: no '{' or '[' at start, a stray
// closing bracket, or nesting deeper than kMaxJsonDepth.
enum class JsonExtent { kComplete, kIncomplete, kInvalid };
JsonExtent json_extent(std::string_view text, size_t start, size_t& end);

// Field readers. A FieldError is empty, or the 400 to answer with.
using FieldError = std::optional<ApiError>;

#define CITADEL_API_TRY(expr)                                    \
    do {                                                         \
        if (auto api_err_ = (expr)) return std::move(*api_err_); \
    } while (0)

// A closed or open interval; an infinite bound means none.
struct Range {
    double lo = -std::numeric_limits<double>::infinity();
    double hi = std::numeric_limits<double>::infinity();
    bool lo_open = false, hi_open = false;
};
inline constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// "path: expected <what>, got <type of value>".
ApiError type_error(const std::string& path, std::string_view expected, const Json& value);

// Each checks the value's type (and range); `path` names it in errors.
FieldError read_string(const Json& value, const std::string& path, std::string& out);
FieldError read_bool(const Json& value, const std::string& path, bool& out);
FieldError read_number(const Json& value, const std::string& path, const Range& range, double& out);
FieldError read_number(const Json& value, const std::string& path, const Range& range, float& out);
// An integer: JSON integers, and numbers with no fraction (5.0); a number out of [lo, hi]
// (including ones too big for int64, like 1e300) is a range error.
FieldError read_int(const Json& value, const std::string& path, int64_t lo, int64_t hi,
                    int64_t& out);
FieldError read_int(const Json& value, const std::string& path, int64_t lo, int64_t hi, int& out);

// Reads the fields of one object. A missing field and a null one both count as absent (the
// OpenAI clients send null for "not set"): readers leave `out` unchanged then.
class ObjectReader {
  public:
    // `prefix` is the object's own path ("" for the body, "messages[2]").
    ObjectReader(const Json& object, std::string prefix);

    const Json* find(std::string_view key) const;  // nullptr when absent or null
    bool has(std::string_view key) const { return find(key) != nullptr; }
    std::string path(std::string_view key) const;

    FieldError string(std::string_view key, std::string& out) const;
    FieldError required_string(std::string_view key, std::string& out) const;
    FieldError boolean(std::string_view key, bool& out) const;
    FieldError number(std::string_view key, const Range& range, float& out) const;
    FieldError integer(std::string_view key, int64_t lo, int64_t hi, int64_t& out) const;
    FieldError integer(std::string_view key, int64_t lo, int64_t hi, int& out) const;

  private:
    const Json& object_;
    std::string prefix_;
};

// path + "[i]".
std::string index_path(const std::string& path, size_t i);

}  // namespace citadel::api
