// Jinja2's tests: `x is defined`, `x is string`, `x is divisibleby 3`, ...
#include <cmath>

#include "text/template/builtins.h"
#include "text/template/interpreter.h"
#include "text/template/operators.h"
#include "text/template/pystr.h"

namespace citadel::jinja {
namespace {

using TestFn = bool (*)(Interpreter& in, const Value& v, CallArgs& a);

const Value& arg0(const CallArgs& a) {
    static const Value undefined;
    return a.args.empty() ? (a.kwargs.empty() ? undefined : a.kwargs[0].second) : a.args[0];
}

bool t_defined(Interpreter&, const Value& v, CallArgs&) {
    return !v.is_undefined();
}
bool t_undefined(Interpreter&, const Value& v, CallArgs&) {
    return v.is_undefined();
}
bool t_none(Interpreter&, const Value& v, CallArgs&) {
    return v.is_none();
}
bool t_boolean(Interpreter&, const Value& v, CallArgs&) {
    return v.kind() == Kind::kBool;
}
bool t_true(Interpreter&, const Value& v, CallArgs&) {
    return v.kind() == Kind::kBool && v.get_bool();
}
bool t_false(Interpreter&, const Value& v, CallArgs&) {
    return v.kind() == Kind::kBool && !v.get_bool();
}
bool t_integer(Interpreter&, const Value& v, CallArgs&) {
    return v.kind() == Kind::kInt;
}
bool t_float(Interpreter&, const Value& v, CallArgs&) {
    return v.kind() == Kind::kFloat;
}
bool t_number(Interpreter&, const Value& v, CallArgs&) {
    return v.is_number();
}
bool t_string(Interpreter&, const Value& v, CallArgs&) {
    return v.is_string();
}
bool t_mapping(Interpreter&, const Value& v, CallArgs&) {
    return v.is_dict();
}
bool t_callable(Interpreter&, const Value& v, CallArgs&) {
    return v.kind() == Kind::kFunction;
}
bool t_escaped(Interpreter&, const Value&, CallArgs&) {
    return false;
}

bool t_iterable(Interpreter&, const Value& v, CallArgs&) {
    return v.is_undefined() || v.is_string() || v.is_sequence() || v.is_dict();
}

bool t_sequence(Interpreter&, const Value& v, CallArgs&) {
    return v.is_undefined() || v.is_string() || v.is_sequence() || v.is_dict();
}

int64_t need_int(const Value& v) {
    if (v.is_undefined()) raise_undefined(v);
    if (v.is_int()) return v.get_int();
    if (v.kind() == Kind::kFloat && std::floor(v.get_float()) == v.get_float() &&
        std::fabs(v.get_float()) < 9e18) {
        return int64_t(v.get_float());
    }
    raise("TypeError: '" + type_name(v) + "' object is not an integer");
}

bool t_odd(Interpreter&, const Value& v, CallArgs&) {
    return need_int(v) % 2 != 0;
}
bool t_even(Interpreter&, const Value& v, CallArgs&) {
    return need_int(v) % 2 == 0;
}

bool t_divisibleby(Interpreter&, const Value& v, CallArgs& a) {
    const int64_t d = need_int(arg0(a));
    if (d == 0) raise("ZeroDivisionError: integer division or modulo by zero");
    if (d == -1) return true;
    return need_int(v) % d == 0;
}

bool t_eq(Interpreter&, const Value& v, CallArgs& a) {
    return equals(v, arg0(a));
}
bool t_ne(Interpreter&, const Value& v, CallArgs& a) {
    return !equals(v, arg0(a));
}
bool t_lt(Interpreter&, const Value& v, CallArgs& a) {
    return compare(v, arg0(a)) < 0;
}
bool t_le(Interpreter&, const Value& v, CallArgs& a) {
    return compare(v, arg0(a)) <= 0;
}
bool t_gt(Interpreter&, const Value& v, CallArgs& a) {
    return compare(v, arg0(a)) > 0;
}
bool t_ge(Interpreter&, const Value& v, CallArgs& a) {
    return compare(v, arg0(a)) >= 0;
}
bool t_in(Interpreter&, const Value& v, CallArgs& a) {
    return contains(arg0(a), v);
}

bool t_sameas(Interpreter&, const Value& v, CallArgs& a) {
    const Value& other = arg0(a);
    if (v.identity() || other.identity()) return v.identity() == other.identity();
    if (v.kind() != other.kind()) return false;
    // None, True and False are singletons; small ints and equal strings may or may not be.
    return equals(v, other);
}

bool t_lower(Interpreter&, const Value& v, CallArgs&) {
    const std::string s = to_str(v);
    bool cased = false;
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = decode_utf8(s, i);
        if (py_iscased_upper(cp)) return false;
        cased = cased || py_iscased_lower(cp);
    }
    return cased;
}

bool t_upper(Interpreter&, const Value& v, CallArgs&) {
    const std::string s = to_str(v);
    bool cased = false;
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = decode_utf8(s, i);
        if (py_iscased_lower(cp)) return false;
        cased = cased || py_iscased_upper(cp);
    }
    return cased;
}

bool t_filter(Interpreter&, const Value& v, CallArgs&) {
    return v.is_string() && is_filter(v.get_string());
}
bool t_test(Interpreter&, const Value& v, CallArgs&) {
    return v.is_string() && is_test(v.get_string());
}

struct TestEntry {
    const char* name;
    TestFn fn;
};

const TestEntry kTests[] = {
    {"!=", t_ne},
    {"<", t_lt},
    {"<=", t_le},
    {"==", t_eq},
    {">", t_gt},
    {">=", t_ge},
    {"boolean", t_boolean},
    {"callable", t_callable},
    {"defined", t_defined},
    {"divisibleby", t_divisibleby},
    {"eq", t_eq},
    {"equalto", t_eq},
    {"escaped", t_escaped},
    {"even", t_even},
    {"false", t_false},
    {"filter", t_filter},
    {"float", t_float},
    {"ge", t_ge},
    {"greaterthan", t_gt},
    {"gt", t_gt},
    {"in", t_in},
    {"integer", t_integer},
    {"iterable", t_iterable},
    {"le", t_le},
    {"lessthan", t_lt},
    {"lower", t_lower},
    {"lt", t_lt},
    {"mapping", t_mapping},
    {"ne", t_ne},
    {"none", t_none},
    {"number", t_number},
    {"odd", t_odd},
    {"sameas", t_sameas},
    {"sequence", t_sequence},
    {"string", t_string},
    {"test", t_test},
    {"true", t_true},
    {"undefined", t_undefined},
    {"upper", t_upper},
};

const TestEntry* find_test(std::string_view name) {
    for (const TestEntry& t : kTests) {
        if (name == t.name) return &t;
    }
    return nullptr;
}

}  // namespace

bool is_test(std::string_view name) {
    return find_test(name) != nullptr;
}

bool apply_test(Interpreter& in, std::string_view name, const Value& input, CallArgs& args) {
    const TestEntry* t = find_test(name);
    if (!t) raise("TemplateAssertionError: No test named '" + std::string(name) + "'");
    in.charge(1);
    return t->fn(in, input, args);
}

}  // namespace citadel::jinja
