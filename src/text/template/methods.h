// Methods of the built-in Python types that the immutable sandbox lets a template call:
// str (strip, split, replace, startswith, format, ...), dict (items, keys, values, get)
// and list (count, index). Mutating methods (append, update, pop, ...) resolve to an
// Undefined that raises SecurityError when used, as Jinja's sandbox does.
#pragma once

#include <optional>
#include <string_view>

#include "text/template/value.h"

namespace citadel::jinja {

// The bound method `obj.name`, or nullopt when the type has no such attribute.
std::optional<Value> bound_method(const Value& obj, std::string_view name);

// str.format(*args, **kwargs) with {} / {0} / {name} fields and simple format specs.
std::string python_format(std::string_view fmt, const CallArgs& args);

}  // namespace citadel::jinja
