// Recursive-descent parser over lexer tokens, following Jinja2's grammar and operator
// precedence (filters and `is` tests bind tighter than arithmetic; `not` looser than
// comparisons). Nesting is bounded so hostile templates cannot exhaust the stack.
#pragma once

#include <string_view>

#include "text/template/ast.h"
#include "text/template/lexer.h"

namespace citadel::jinja {

struct ParseOptions {
    LexOptions lex;
    int max_nesting = 128;  // nested blocks plus nested expressions
};

// Raises TemplateError with the line of the offending token.
Body parse_template(std::string_view source, const ParseOptions& options = {});

}  // namespace citadel::jinja
