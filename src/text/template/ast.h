// The syntax tree of a parsed template: expressions and statements, each with its line.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "text/template/value.h"

namespace citadel::jinja {

enum class ExprKind : uint8_t {
    kLiteral,    // literal
    kName,       // name
    kList,       // args = items
    kTuple,      // args = items
    kDict,       // args = key0, value0, key1, value1, ...
    kGetAttr,    // args[0].name
    kGetItem,    // args[0][args[1]]
    kSlice,      // args[0][args[1]:args[2]:args[3]] (null parts omitted)
    kCall,       // args[0](args[1:], kwargs)
    kFilter,     // name(args[0], args[1:], kwargs); args[0] null in {% filter %} blocks
    kTest,       // args[0] is name(args[1:], kwargs); negated
    kUnary,      // op: "not", "-", "+"
    kBinary,     // args[0] op args[1]: + - * / // % ** ~ and or
    kCompare,    // args[0] ops[0] args[1] ops[1] args[2] ...
    kCondition,  // args[1] if args[0] else args[2] (args[2] may be null)
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    ExprKind kind = ExprKind::kLiteral;
    int line = 0;
    Value literal;
    std::string name;  // variable, attribute, filter, test or operator
    std::vector<ExprPtr> args;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    std::vector<std::string> ops;  // comparison operators
    bool negated = false;
};

// An assignment target: one name, a tuple of names, or `namespace.attribute`.
struct Target {
    std::vector<std::string> names;
    bool is_tuple = false;
    std::string attribute;  // non-empty for ns.attr
};

enum class StmtKind : uint8_t {
    kText,
    kOutput,       // {{ expr }}
    kIf,           // expr, body, else_body
    kFor,          // target, expr (iterable), filter (test), body, else_body, recursive
    kSet,          // target = expr
    kSetBlock,     // target = body (through filter)
    kMacro,        // name, params, body
    kCallBlock,    // expr (the call), params (caller's), body
    kFilterBlock,  // filter applied to body
    kWith,         // assignments, body
    kBreak,
    kContinue,
    kBlock,  // a plain body: {% generation %}, {% block %}
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Param {
    std::string name;
    ExprPtr fallback;  // may be null
};

struct Stmt {
    StmtKind kind = StmtKind::kText;
    int line = 0;
    std::string text;  // kText payload, macro name
    ExprPtr expr;
    ExprPtr filter;  // for-loop test, set-block / filter-block filter chain
    Target target;
    Body body;
    Body else_body;
    std::vector<Param> params;
    std::vector<std::pair<Target, ExprPtr>> assignments;  // {% with %}
    bool recursive = false;
};

}  // namespace citadel::jinja
