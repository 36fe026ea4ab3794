#include "text/template/operators.h"

#include <cmath>
#include <cstdio>

#include "text/template/methods.h"
#include "text/template/pystr.h"

namespace citadel::jinja {

void raise_undefined(const Value& undefined) {
    const std::string& hint = undefined.undefined_hint();
    if (hint.rfind("SecurityError", 0) == 0) raise(hint);
    raise("UndefinedError: " + (hint.empty() ? std::string("value is undefined") : hint));
}

namespace {

[[noreturn]] void unsupported(std::string_view op, const Value& a, const Value& b) {
    raise("TypeError: unsupported operand type(s) for " + std::string(op) + ": '" + type_name(a) +
          "' and '" + type_name(b) + "'");
}

void check_size(size_t size, size_t max_size) {
    if (size > max_size) raise("result too large (over " + std::to_string(max_size) + " bytes)");
}

void check_overflow(bool overflow) {
    if (overflow) raise("OverflowError: integer result out of range");
}

// Python's float divmod: the quotient is floored, the remainder has the divisor's sign.
std::pair<double, double> float_divmod(double x, double y) {
    double mod = std::fmod(x, y);
    double div = (x - mod) / y;
    if (mod != 0.0) {
        if ((y < 0) != (mod < 0)) {
            mod += y;
            div -= 1.0;
        }
    } else {
        mod = std::copysign(0.0, y);
    }
    double floordiv;
    if (div != 0.0) {
        floordiv = std::floor(div);
        if (div - floordiv > 0.5) floordiv += 1.0;
    } else {
        floordiv = std::copysign(0.0, x / y);
    }
    return {floordiv, mod};
}

Value repeat(const Value& seq, int64_t n, size_t max_size) {
    if (n < 0) n = 0;
    if (seq.is_string()) {
        const std::string& s = seq.get_string();
        if (!s.empty())
            check_size(s.size() * size_t(std::min<int64_t>(n, int64_t(max_size) + 1)), max_size);
        std::string out;
        for (int64_t i = 0; i < n && !s.empty(); ++i) out += s;
        return Value::string(std::move(out));
    }
    const ValueList& items = seq.items();
    if (!items.empty()) {
        check_size(items.size() * size_t(std::min<int64_t>(n, int64_t(max_size) + 1)), max_size);
    }
    ValueList out;
    for (int64_t i = 0; i < n && !items.empty(); ++i)
        out.insert(out.end(), items.begin(), items.end());
    return seq.kind() == Kind::kTuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

int64_t int_pow(int64_t base, int64_t exp) {
    int64_t result = 1;
    while (exp > 0) {
        if (exp & 1) check_overflow(__builtin_mul_overflow(result, base, &result));
        exp >>= 1;
        if (exp) check_overflow(__builtin_mul_overflow(base, base, &base));
    }
    return result;
}

Value add(const Value& a, const Value& b, size_t max_size) {
    if (a.is_string() && b.is_string()) {
        check_size(a.get_string().size() + b.get_string().size(), max_size);
        return Value::string(a.get_string() + b.get_string());
    }
    if ((a.kind() == Kind::kList || a.kind() == Kind::kTuple) && a.kind() == b.kind()) {
        check_size(a.items().size() + b.items().size(), max_size);
        ValueList out = a.items();
        out.insert(out.end(), b.items().begin(), b.items().end());
        return a.kind() == Kind::kTuple ? Value::tuple(std::move(out))
                                        : Value::list(std::move(out));
    }
    if (a.is_string() || a.kind() == Kind::kList || a.kind() == Kind::kTuple) {
        if (!b.is_undefined()) {
            raise("TypeError: can only concatenate " + type_name(a) + " (not \"" + type_name(b) +
                  "\") to " + type_name(a));
        }
    }
    unsupported("+", a, b);
}

Value arithmetic(std::string_view op, const Value& a, const Value& b) {
    const bool ints = a.is_int() && b.is_int();
    if (ints) {
        const int64_t x = a.get_int(), y = b.get_int();
        int64_t r = 0;
        if (op == "+" || op == "-" || op == "*") {
            const bool overflow = op == "+"   ? __builtin_add_overflow(x, y, &r)
                                  : op == "-" ? __builtin_sub_overflow(x, y, &r)
                                              : __builtin_mul_overflow(x, y, &r);
            check_overflow(overflow);
            return Value::integer(r);
        }
        if (op == "**") {
            if (y >= 0) return Value::integer(int_pow(x, y));
            if (x == 0) raise("ZeroDivisionError: 0.0 cannot be raised to a negative power");
            return Value::number(std::pow(double(x), double(y)));
        }
        if (op == "/") {
            if (y == 0) raise("ZeroDivisionError: division by zero");
            return Value::number(double(x) / double(y));
        }
        if (y == 0) raise("ZeroDivisionError: integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) raise("OverflowError: integer result out of range");
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {
            --q;
            m += y;
        }
        return Value::integer(op == "//" ? q : m);
    }
    const double x = a.get_float(), y = b.get_float();
    if (op == "+") return Value::number(x + y);
    if (op == "-") return Value::number(x - y);
    if (op == "*") return Value::number(x * y);
    if (op == "**") {
        if (x == 0.0 && y < 0) raise("ZeroDivisionError: 0.0 cannot be raised to a negative power");
        return Value::number(std::pow(x, y));
    }
    if (y == 0.0) raise("ZeroDivisionError: float division by zero");
    if (op == "/") return Value::number(x / y);
    const auto [q, m] = float_divmod(x, y);
    return Value::number(op == "//" ? q : m);
}

}  // namespace

Value binary_op(std::string_view op, const Value& a, const Value& b, size_t max_size) {
    if (op == "~") {
        std::string s = to_str(a);
        s += to_str(b);
        check_size(s.size(), max_size);
        return Value::string(std::move(s));
    }
    if (a.is_undefined()) raise_undefined(a);
    if (b.is_undefined()) raise_undefined(b);
    if (a.is_number() && b.is_number()) return arithmetic(op, a, b);
    if (op == "+") return add(a, b, max_size);
    if (op == "*") {
        if ((a.is_string() || a.is_sequence()) && b.is_int())
            return repeat(a, b.get_int(), max_size);
        if (a.is_int() && (b.is_string() || b.is_sequence()))
            return repeat(b, a.get_int(), max_size);
    }
    if (op == "%" && a.is_string()) {
        std::string s = percent_format(a.get_string(), b);
        check_size(s.size(), max_size);
        return Value::string(std::move(s));
    }
    unsupported(op, a, b);
}

Value negate(const Value& v) {
    if (v.is_undefined()) raise_undefined(v);
    if (v.is_int()) {
        if (v.get_int() == INT64_MIN) raise("OverflowError: integer result out of range");
        return Value::integer(-v.get_int());
    }
    if (v.kind() == Kind::kFloat) return Value::number(-v.get_float());
    raise("TypeError: bad operand type for unary -: '" + type_name(v) + "'");
}

bool contains(const Value& container, const Value& item) {
    switch (container.kind()) {
        case Kind::kString:
            if (!item.is_string()) {
                raise("TypeError: 'in <string>' requires string as left operand, not " +
                      type_name(item));
            }
            return container.get_string().find(item.get_string()) != std::string::npos;
        case Kind::kList:
        case Kind::kTuple:
            for (const Value& v : container.items()) {
                if (equals(v, item)) return true;
            }
            return false;
        case Kind::kDict:
            return container.get_dict().find(item) != nullptr;
        case Kind::kUndefined:
            return false;
        default:
            raise("TypeError: argument of type '" + type_name(container) + "' is not iterable");
    }
}

Value get_attr(const Value& obj, std::string_view name) {
    switch (obj.kind()) {
        case Kind::kUndefined:
            raise_undefined(obj);
        case Kind::kObject:
            return obj.get_object().get_attr(name);
        case Kind::kDict: {
            if (auto m = bound_method(obj, name)) return *m;
            if (const Value* v = obj.get_dict().find(name)) return *v;
            break;
        }
        default:
            if (auto m = bound_method(obj, name)) return *m;
    }
    return Value::undefined(
        concat({"'", type_name(obj), " object' has no attribute '", name, "'"}));
}

Value get_item(const Value& obj, const Value& key) {
    switch (obj.kind()) {
        case Kind::kUndefined:
            raise_undefined(obj);
        case Kind::kDict:
            if (const Value* v = obj.get_dict().find(key)) return *v;
            break;
        case Kind::kList:
        case Kind::kTuple:
        case Kind::kString:
            if (key.is_int()) {
                int64_t i = key.get_int();
                if (obj.is_string()) {
                    const std::vector<uint32_t> cps = code_points(obj.get_string());
                    if (i < 0) i += int64_t(cps.size());
                    if (i < 0 || i >= int64_t(cps.size())) break;
                    std::string out;
                    append_utf8(cps[size_t(i)], out);
                    return Value::string(std::move(out));
                }
                const ValueList& items = obj.items();
                if (i < 0) i += int64_t(items.size());
                if (i >= 0 && i < int64_t(items.size())) return items[size_t(i)];
            }
            break;
        default:
            break;
    }
    if (key.is_string()) return get_attr(obj, key.get_string());
    return Value::undefined(concat({"'", type_name(obj), " object' has no element ", repr(key)}));
}

namespace {

// Python's slice.indices(): normalized start, stop and step for a sequence of length n.
void slice_indices(int64_t n, const Value& start_v, const Value& stop_v, const Value& step_v,
                   int64_t& start, int64_t& stop, int64_t& step) {
    auto as_index = [](const Value& v) -> std::optional<int64_t> {
        if (v.is_none() || v.is_undefined()) return std::nullopt;
        if (!v.is_int()) raise("TypeError: slice indices must be integers or None");
        return v.get_int();
    };
    step = as_index(step_v).value_or(1);
    if (step == 0) raise("ValueError: slice step cannot be zero");
    if (step == INT64_MIN) step = -INT64_MAX;
    const int64_t lower = step < 0 ? -1 : 0, upper = step < 0 ? n - 1 : n;
    auto clamp = [&](std::optional<int64_t> v, int64_t fallback) {
        if (!v) return fallback;
        int64_t i = *v;
        if (i < 0) {
            i = i < -n ? lower : i + n;
            return std::max(i, lower);
        }
        return std::min(i, upper);
    };
    start = clamp(as_index(start_v), step < 0 ? upper : lower);
    stop = clamp(as_index(stop_v), step < 0 ? lower : upper);
}

}  // namespace

Value slice(const Value& obj, const Value& start_v, const Value& stop_v, const Value& step_v) {
    if (obj.is_undefined()) raise_undefined(obj);
    const bool is_str = obj.is_string();
    if (!is_str && !obj.is_sequence())
        return Value::undefined(concat({"'", type_name(obj), " object' is not sliceable"}));
    std::vector<uint32_t> cps;
    if (is_str) cps = code_points(obj.get_string());
    const int64_t n = is_str ? int64_t(cps.size()) : int64_t(obj.items().size());
    int64_t start, stop, step;
    slice_indices(n, start_v, stop_v, step_v, start, stop, step);
    std::vector<size_t> picks;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) picks.push_back(size_t(i));
    if (is_str) {
        std::string out;
        for (size_t i : picks) append_utf8(cps[i], out);
        return Value::string(std::move(out));
    }
    ValueList out;
    for (size_t i : picks) out.push_back(obj.items()[i]);
    return obj.kind() == Kind::kTuple ? Value::tuple(std::move(out)) : Value::list(std::move(out));
}

ValueList iterate(const Value& v) {
    switch (v.kind()) {
        case Kind::kUndefined:
            return {};
        case Kind::kList:
        case Kind::kTuple:
            return v.items();
        case Kind::kDict: {
            ValueList keys;
            for (const auto& [k, val] : v.get_dict().entries) keys.push_back(k);
            return keys;
        }
        case Kind::kString: {
            ValueList chars;
            const std::string& s = v.get_string();
            for (size_t i = 0; i < s.size();) {
                const size_t b = i;
                decode_utf8(s, i);
                chars.push_back(Value::string(s.substr(b, i - b)));
            }
            return chars;
        }
        default:
            raise("TypeError: '" + type_name(v) + "' object is not iterable");
    }
}

int64_t length(const Value& v) {
    switch (v.kind()) {
        case Kind::kUndefined:
            return 0;
        case Kind::kString:
            return int64_t(count_code_points(v.get_string()));
        case Kind::kList:
        case Kind::kTuple:
            return int64_t(v.items().size());
        case Kind::kDict:
            return int64_t(v.get_dict().entries.size());
        default:
            raise("TypeError: object of type '" + type_name(v) + "' has no len()");
    }
}

namespace {

std::string format_one(char conv, const std::string& flags, int width, int precision,
                       const Value& v) {
    std::string body;
    char buf[512];
    std::string spec = "%";
    spec += flags;
    if (width >= 0) spec += std::to_string(std::min(width, 200));
    if (precision >= 0) spec += concat({".", std::to_string(std::min(precision, 100))});
    switch (conv) {
        case 's':
            body = to_str(v);
            break;
        case 'r':
        case 'a':
            body = repr(v);
            break;
        case 'd':
        case 'i':
        case 'u':
            if (!v.is_number())
                raise("TypeError: %d format: a real number is required, not " + type_name(v));
            std::snprintf(buf, sizeof buf, (spec + "lld").c_str(),
                          (long long)(v.is_int() ? v.get_int() : int64_t(v.get_float())));
            return buf;
        case 'x':
        case 'X':
        case 'o':
            if (!v.is_int()) raise("TypeError: %x format: an integer is required");
            std::snprintf(buf, sizeof buf, (spec + "ll" + conv).c_str(), (long long)v.get_int());
            return buf;
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
            if (!v.is_number()) raise("TypeError: must be real number, not " + type_name(v));
            std::snprintf(buf, sizeof buf, (spec + conv).c_str(), v.get_float());
            return buf;
        default:
            raise(std::string("ValueError: unsupported format character '") + conv + "'");
    }
    if (precision >= 0)
        body = from_code_points(code_points(body), 0,
                                std::min<size_t>(size_t(precision), count_code_points(body)));
    const int pad = width - int(count_code_points(body));
    if (pad > 0) {
        const std::string fill(size_t(pad), ' ');
        body = flags.find('-') != std::string::npos ? body + fill : fill + body;
    }
    return body;
}

}  // namespace

std::string percent_format(std::string_view fmt, const Value& args) {
    ValueList values;
    if (args.kind() == Kind::kTuple) {
        values = args.items();
    } else {
        values.push_back(args);
    }
    std::string out;
    size_t next = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
        if (fmt[i] != '%') {
            out += fmt[i];
            continue;
        }
        if (++i >= fmt.size()) raise("ValueError: incomplete format");
        if (fmt[i] == '%') {
            out += '%';
            continue;
        }
        std::string flags;
        while (i < fmt.size() && std::string_view("-+ #0").find(fmt[i]) != std::string_view::npos)
            flags += fmt[i++];
        int width = -1, precision = -1;
        // Digits saturate at 100000, which the check below rejects.
        while (i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9')
            width = std::min(std::max(width, 0) * 10 + (fmt[i++] - '0'), 100000);
        if (i < fmt.size() && fmt[i] == '.') {
            precision = 0;
            while (++i < fmt.size() && fmt[i] >= '0' && fmt[i] <= '9')
                precision = std::min(precision * 10 + (fmt[i] - '0'), 100000);
        }
        if (i >= fmt.size()) raise("ValueError: incomplete format");
        if (width > 10000 || precision > 10000) raise("ValueError: format width too large");
        if (next >= values.size()) raise("TypeError: not enough arguments for format string");
        out += format_one(fmt[i], flags, width, precision, values[next++]);
    }
    if (next < values.size() && args.kind() == Kind::kTuple) {
        raise("TypeError: not all arguments converted during string formatting");
    }
    return out;
}

}  // namespace citadel::jinja
