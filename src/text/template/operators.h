// Python semantics of the operators and lookups a template expression uses: arithmetic
// with int/float rules, `in`, attribute and item access (Jinja's getattr/getitem order),
// slicing, iteration and printf-style `%` formatting.
#pragma once

#include <string>
#include <string_view>

#include "text/template/value.h"

namespace citadel::jinja {

// Raises the error an Undefined carries (UndefinedError, or SecurityError for unsafe
// attribute access in the sandbox).
[[noreturn]] void raise_undefined(const Value& undefined);

Value binary_op(std::string_view op, const Value& a, const Value& b, size_t max_size);
Value negate(const Value& v);
bool contains(const Value& container, const Value& item);

// obj.name: Python attribute first (methods, objects), then obj["name"].
Value get_attr(const Value& obj, std::string_view name);
// obj[key]: item first, then a string key as an attribute.
Value get_item(const Value& obj, const Value& key);
Value slice(const Value& obj, const Value& start, const Value& stop, const Value& step);

// The items a `for` loop (or list()) visits: list/tuple items, dict keys, characters.
ValueList iterate(const Value& v);
// len(); raises TypeError for values without a length.
int64_t length(const Value& v);

// "fmt % args" (printf-style); args is a tuple for several values.
std::string percent_format(std::string_view fmt, const Value& args);

}  // namespace citadel::jinja
