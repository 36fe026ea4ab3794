// Expressions: names, literals, operators, attribute/item access, calls, filters, tests.
#include "text/template/builtins.h"
#include "text/template/interpreter.h"
#include "text/template/operators.h"

namespace citadel::jinja {

Value Interpreter::lookup(const std::string& name, const ScopePtr& scope) {
    if (const Value* v = scope->find(name)) return *v;
    return Value::undefined("'" + name + "' is undefined");
}

Value Interpreter::call(const Value& callee, CallArgs& args) {
    if (callee.kind() == Kind::kFunction) return callee.get_function().call(args);
    if (callee.is_undefined()) raise_undefined(callee);
    raise("TypeError: '" + type_name(callee) + "' object is not callable");
}

Value Interpreter::eval(const Expr& e, const ScopePtr& scope) {
    if (++eval_depth_ > options_.limits.max_eval_depth) {
        --eval_depth_;
        raise("RecursionError: template evaluation nested too deeply");
    }
    struct Release {
        int& d;
        ~Release() { --d; }
    } release{eval_depth_};
    charge(1);
    try {
        return eval_inner(e, scope);
    } catch (TemplateError& err) {
        if (err.line == 0) err.line = e.line;
        throw;
    }
}

CallArgs Interpreter::eval_args(const Expr& e, size_t first, const ScopePtr& scope) {
    CallArgs a;
    a.line = e.line;
    for (size_t i = first; i < e.args.size(); ++i) a.args.push_back(eval(*e.args[i], scope));
    for (const auto& [k, v] : e.kwargs) a.kwargs.emplace_back(k, eval(*v, scope));
    return a;
}

Value Interpreter::apply_filter_chain(const Expr& filter, Value input, const ScopePtr& scope) {
    Value base = filter.args[0] ? apply_filter_chain(*filter.args[0], std::move(input), scope)
                                : std::move(input);
    CallArgs a = eval_args(filter, 1, scope);
    return apply_filter(*this, filter.name, base, a);
}

Value Interpreter::eval_compare(const Expr& e, const ScopePtr& scope) {
    Value left = eval(*e.args[0], scope);
    for (size_t i = 0; i < e.ops.size(); ++i) {
        Value right = eval(*e.args[i + 1], scope);
        const std::string& op = e.ops[i];
        bool ok;
        if (op == "==") {
            ok = equals(left, right);
        } else if (op == "!=") {
            ok = !equals(left, right);
        } else if (op == "in") {
            ok = contains(right, left);
        } else if (op == "notin") {
            ok = !contains(right, left);
        } else {
            const int c = compare(left, right);
            ok = op == "<" ? c < 0 : op == "<=" ? c <= 0 : op == ">" ? c > 0 : c >= 0;
        }
        if (!ok) return Value::boolean(false);
        left = std::move(right);
    }
    return Value::boolean(true);
}

Value Interpreter::eval_call(const Expr& e, const ScopePtr& scope) {
    Value callee = eval(*e.args[0], scope);
    CallArgs a = eval_args(e, 1, scope);
    return call(callee, a);
}

Value Interpreter::eval_inner(const Expr& e, const ScopePtr& scope) {
    switch (e.kind) {
        case ExprKind::kLiteral:
            return e.literal;
        case ExprKind::kName:
            return lookup(e.name, scope);
        case ExprKind::kList:
        case ExprKind::kTuple: {
            ValueList items;
            for (const auto& a : e.args) items.push_back(eval(*a, scope));
            return e.kind == ExprKind::kList ? Value::list(std::move(items))
                                             : Value::tuple(std::move(items));
        }
        case ExprKind::kDict: {
            Dict d;
            for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
                d.set(eval(*e.args[i], scope), eval(*e.args[i + 1], scope));
            }
            return Value::dict(std::move(d));
        }
        case ExprKind::kGetAttr:
            return get_attr(eval(*e.args[0], scope), e.name);
        case ExprKind::kGetItem:
            return get_item(eval(*e.args[0], scope), eval(*e.args[1], scope));
        case ExprKind::kSlice: {
            auto part = [&](size_t i) {
                return e.args[i] ? eval(*e.args[i], scope) : Value::none();
            };
            Value obj = eval(*e.args[0], scope);
            return slice(obj, part(1), part(2), part(3));
        }
        case ExprKind::kCall:
            return eval_call(e, scope);
        case ExprKind::kFilter: {
            Value input = eval(*e.args[0], scope);
            CallArgs a = eval_args(e, 1, scope);
            return apply_filter(*this, e.name, input, a);
        }
        case ExprKind::kTest: {
            Value input = eval(*e.args[0], scope);
            CallArgs a = eval_args(e, 1, scope);
            return Value::boolean(apply_test(*this, e.name, input, a) != e.negated);
        }
        case ExprKind::kUnary: {
            Value v = eval(*e.args[0], scope);
            if (e.name == "not") return Value::boolean(!truthy(v));
            if (e.name == "-") return negate(v);
            if (v.is_undefined()) raise_undefined(v);
            if (!v.is_number())
                raise("TypeError: bad operand type for unary +: '" + type_name(v) + "'");
            return v.kind() == Kind::kBool ? Value::integer(v.get_int()) : v;
        }
        case ExprKind::kBinary: {
            Value left = eval(*e.args[0], scope);
            if (e.name == "and") return truthy(left) ? eval(*e.args[1], scope) : left;
            if (e.name == "or") return truthy(left) ? left : eval(*e.args[1], scope);
            Value right = eval(*e.args[1], scope);
            Value result = binary_op(e.name, left, right, max_size());
            if (result.is_string()) charge(int64_t(result.get_string().size() / 64));
            if (result.is_sequence()) charge(int64_t(result.items().size() / 8));
            return result;
        }
        case ExprKind::kCompare:
            return eval_compare(e, scope);
        case ExprKind::kCondition:
            if (truthy(eval(*e.args[0], scope))) return eval(*e.args[1], scope);
            return e.args[2] ? eval(*e.args[2], scope)
                             : Value::undefined("conditional expression had no else");
    }
    return Value();
}

}  // namespace citadel::jinja
