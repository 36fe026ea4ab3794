// Splits template source into tokens the way Jinja2's lexer does with trim_blocks and
// lstrip_blocks on: text runs (whitespace control already applied), tag delimiters and
// the expression tokens inside tags. Comments and {% raw %} are resolved here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace citadel::jinja {

enum class Tok : uint8_t {
    kText,
    kVarBegin,
    kVarEnd,
    kBlockBegin,
    kBlockEnd,
    kName,
    kString,
    kInt,
    kFloat,
    kOp,
    kEof,
};

struct Token {
    Tok type = Tok::kEof;
    std::string text;  // text run, name, decoded string literal or operator
    int line = 1;
    int64_t int_value = 0;
    double float_value = 0.0;
};

struct LexOptions {
    bool trim_blocks = true;
    bool lstrip_blocks = true;
};

// Raises TemplateError (with the line) on malformed input: unterminated tags, strings or
// comments, unknown characters, unbalanced brackets.
std::vector<Token> tokenize(std::string_view source, const LexOptions& options = {});

}  // namespace citadel::jinja
