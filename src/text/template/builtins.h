// Filters (`x|name(args)`), tests (`x is name(args)`) and global functions (range,
// namespace, dict, raise_exception, strftime_now, cycler, joiner) of the Jinja2 subset
// chat templates use, with Hugging Face's tojson (json.dumps, ensure_ascii=False).
#pragma once

#include <string>
#include <string_view>

#include "text/template/value.h"

namespace citadel::jinja {

class Interpreter;
struct Scope;

bool is_filter(std::string_view name);
bool is_test(std::string_view name);

Value apply_filter(Interpreter& in, std::string_view name, const Value& input, CallArgs& args);
bool apply_test(Interpreter& in, std::string_view name, const Value& input, CallArgs& args);
void install_globals(Scope& globals, Interpreter& in);

}  // namespace citadel::jinja
