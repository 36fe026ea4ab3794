// Python str semantics over UTF-8 bytes: code points, whitespace, case, splitting, repr.
// Jinja templates are Python code in disguise, so their string operations must behave
// exactly as CPython's do on the same text (code-point indexing, Unicode whitespace).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "text/unicode.h"

namespace citadel::jinja {

// Decodes the code point at s[i] and advances i (invalid bytes decode as themselves).
uint32_t decode_utf8(std::string_view s, size_t& i);
using text::append_utf8;  // one UTF-8 encoder for the text layer
std::vector<uint32_t> code_points(std::string_view s);
std::string from_code_points(const std::vector<uint32_t>& cps, size_t begin, size_t end);
size_t count_code_points(std::string_view s);
bool valid_utf8(std::string_view s);

bool py_isspace(uint32_t cp);      // str.isspace() for one character
bool py_islinebreak(uint32_t cp);  // the separators of str.splitlines()
uint32_t py_upper(uint32_t cp);
uint32_t py_lower(uint32_t cp);
bool py_iscased_lower(uint32_t cp);
bool py_iscased_upper(uint32_t cp);
bool py_isalpha(uint32_t cp);
bool py_isdigit(uint32_t cp);

std::string py_upper(std::string_view s);
std::string py_lower(std::string_view s);
std::string py_capitalize(std::string_view s);
std::string py_title(std::string_view s);  // str.title()

// strip/lstrip/rstrip: chars == nullptr strips whitespace, else any of the given characters.
std::string py_strip(std::string_view s, const std::string* chars, bool left, bool right);
// str.split / str.rsplit; sep == nullptr splits on whitespace runs; maxsplit < 0: no limit.
std::vector<std::string> py_split(std::string_view s, const std::string* sep, int64_t maxsplit);
std::vector<std::string> py_rsplit(std::string_view s, const std::string* sep, int64_t maxsplit);
std::vector<std::string> py_splitlines(std::string_view s, bool keepends);
// str.replace; count < 0 replaces every occurrence.
std::string py_replace(std::string_view s, std::string_view old, std::string_view repl,
                       int64_t count);
// repr() of a str: quotes chosen and characters escaped as CPython does.
std::string py_repr_string(std::string_view s);
// repr() of a float: the shortest text that reads back the same double ("1.0", "1e-05").
std::string py_repr_float(double v);

}  // namespace citadel::jinja
