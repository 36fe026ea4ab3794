#include "text/template/methods.h"

#include <cstdio>

#include "text/template/operators.h"
#include "text/template/pystr.h"

namespace citadel::jinja {
namespace {

using Method = Value (*)(const Value& self, CallArgs& a);

const std::string* opt_string(const Value& v, const char* what) {
    if (v.is_none() || v.is_undefined()) return nullptr;
    if (!v.is_string()) raise(std::string("TypeError: ") + what + " arg must be None or str");
    return &v.get_string();
}

int64_t opt_int(const Value& v, int64_t fallback) {
    if (v.is_none() || v.is_undefined()) return fallback;
    if (!v.is_int())
        raise("TypeError: '" + type_name(v) + "' object cannot be interpreted as an integer");
    return v.get_int();
}

std::string need_string(const Value& v, const char* what) {
    if (!v.is_string())
        raise(std::string("TypeError: ") + what + " must be str, not " + type_name(v));
    return v.get_string();
}

Value string_list(std::vector<std::string> parts) {
    ValueList out;
    for (auto& p : parts) out.push_back(Value::string(std::move(p)));
    return Value::list(std::move(out));
}

Value str_strip(const Value& s, CallArgs& a, bool left, bool right) {
    const Value chars = a.get(0, "chars");
    return Value::string(py_strip(s.get_string(), opt_string(chars, "strip"), left, right));
}

// Code-point index of a byte offset (for find/index results).
int64_t cp_index(const std::string& s, size_t byte_offset) {
    return int64_t(count_code_points(std::string_view(s).substr(0, byte_offset)));
}

bool affix_match(const Value& self, const Value& arg, bool prefix) {
    const std::string& s = self.get_string();
    auto one = [&](const Value& v) {
        const std::string& x =
            need_string(v, prefix ? "startswith first arg" : "endswith first arg");
        if (x.size() > s.size()) return false;
        return prefix ? s.compare(0, x.size(), x) == 0
                      : s.compare(s.size() - x.size(), x.size(), x) == 0;
    };
    if (arg.kind() == Kind::kTuple) {
        for (const Value& v : arg.items()) {
            if (one(v)) return true;
        }
        return false;
    }
    return one(arg);
}

template <bool (*Pred)(uint32_t)>
Value all_chars(const Value& self) {
    const std::string& s = self.get_string();
    if (s.empty()) return Value::boolean(false);
    for (size_t i = 0; i < s.size();) {
        if (!Pred(decode_utf8(s, i))) return Value::boolean(false);
    }
    return Value::boolean(true);
}

bool is_alnum(uint32_t cp) {
    return py_isalpha(cp) || py_isdigit(cp);
}

Value cased_check(const Value& self, bool want_lower) {
    bool any_cased = false;
    const std::string& s = self.get_string();
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = decode_utf8(s, i);
        if (want_lower ? py_iscased_upper(cp) : py_iscased_lower(cp)) return Value::boolean(false);
        any_cased = any_cased || py_iscased_upper(cp) || py_iscased_lower(cp);
    }
    return Value::boolean(any_cased);
}

Value pad(const Value& self, CallArgs& a, int where) {  // -1 ljust, 0 center, 1 rjust
    const int64_t width = std::min<int64_t>(opt_int(a.get(0, "width"), 0), 1 << 20);
    const Value fill_v = a.get(1, "fillchar", Value::string(" "));
    const std::string& fill = need_string(fill_v, "fillchar");
    const std::string& s = self.get_string();
    const int64_t n = int64_t(count_code_points(s));
    if (width <= n) return self;
    const int64_t total = width - n;
    int64_t left = where < 0 ? 0 : where > 0 ? total : total / 2 + (total & width & 1);
    std::string out;
    for (int64_t i = 0; i < left; ++i) out += fill;
    out += s;
    for (int64_t i = 0; i < total - left; ++i) out += fill;
    return Value::string(std::move(out));
}

Value str_find(const Value& self, CallArgs& a, bool reverse, bool must) {
    const std::string& s = self.get_string();
    const std::string& sub = need_string(a.get(0, "sub"), "substring");
    const size_t at = reverse ? s.rfind(sub) : s.find(sub);
    if (at == std::string::npos) {
        if (must) raise("ValueError: substring not found");
        return Value::integer(-1);
    }
    return Value::integer(cp_index(s, at));
}

Value str_partition(const Value& self, CallArgs& a, bool reverse) {
    const std::string& s = self.get_string();
    const std::string& sep = need_string(a.get(0, "sep"), "separator");
    if (sep.empty()) raise("ValueError: empty separator");
    const size_t at = reverse ? s.rfind(sep) : s.find(sep);
    if (at == std::string::npos) {
        return reverse ? Value::tuple({Value::string(""), Value::string(""), self})
                       : Value::tuple({self, Value::string(""), Value::string("")});
    }
    return Value::tuple({Value::string(s.substr(0, at)), Value::string(sep),
                         Value::string(s.substr(at + sep.size()))});
}

Value str_join(const Value& self, CallArgs& a) {
    std::string out;
    bool first = true;
    size_t index = 0;
    for (const Value& v : iterate(a.get(0, "iterable"))) {
        if (!v.is_string()) {
            raise("TypeError: sequence item " + std::to_string(index) +
                  ": expected str instance, " + type_name(v) + " found");
        }
        if (!first) out += self.get_string();
        first = false;
        out += v.get_string();
        ++index;
    }
    return Value::string(std::move(out));
}

Value str_method(const Value& self, std::string_view name, CallArgs& a) {
    const std::string& s = self.get_string();
    if (name == "strip") return str_strip(self, a, true, true);
    if (name == "lstrip") return str_strip(self, a, true, false);
    if (name == "rstrip") return str_strip(self, a, false, true);
    if (name == "split" || name == "rsplit") {
        const Value sep_arg = a.get(0, "sep");
        const std::string* sep = opt_string(sep_arg, "split");
        if (sep && sep->empty()) raise("ValueError: empty separator");
        const int64_t maxsplit = opt_int(a.get(1, "maxsplit"), -1);
        return string_list(name == "split" ? py_split(s, sep, maxsplit)
                                           : py_rsplit(s, sep, maxsplit));
    }
    if (name == "splitlines") return string_list(py_splitlines(s, truthy(a.get(0, "keepends"))));
    if (name == "replace") {
        return Value::string(py_replace(s, need_string(a.get(0, "old"), "replace() argument 1"),
                                        need_string(a.get(1, "new"), "replace() argument 2"),
                                        opt_int(a.get(2, "count"), -1)));
    }
    if (name == "startswith" || name == "endswith") {
        return Value::boolean(affix_match(self, a.get(0, "prefix"), name == "startswith"));
    }
    if (name == "upper") return Value::string(py_upper(s));
    if (name == "lower" || name == "casefold") return Value::string(py_lower(s));
    if (name == "title") return Value::string(py_title(s));
    if (name == "capitalize") return Value::string(py_capitalize(s));
    if (name == "find" || name == "index") return str_find(self, a, false, name == "index");
    if (name == "rfind" || name == "rindex") return str_find(self, a, true, name == "rindex");
    if (name == "count") {
        const std::string& sub = need_string(a.get(0, "sub"), "substring");
        if (sub.empty()) return Value::integer(int64_t(count_code_points(s)) + 1);
        int64_t n = 0;
        for (size_t at = s.find(sub); at != std::string::npos; at = s.find(sub, at + sub.size()))
            ++n;
        return Value::integer(n);
    }
    if (name == "join") return str_join(self, a);
    if (name == "format") return Value::string(python_format(s, a));
    if (name == "isdigit" || name == "isdecimal" || name == "isnumeric")
        return all_chars<py_isdigit>(self);
    if (name == "isalpha") return all_chars<py_isalpha>(self);
    if (name == "isalnum") return all_chars<is_alnum>(self);
    if (name == "isspace") return all_chars<py_isspace>(self);
    if (name == "islower") return cased_check(self, true);
    if (name == "isupper") return cased_check(self, false);
    if (name == "ljust") return pad(self, a, -1);
    if (name == "rjust") return pad(self, a, 1);
    if (name == "center") return pad(self, a, 0);
    if (name == "zfill") {
        const int64_t width = std::min<int64_t>(opt_int(a.get(0, "width"), 0), 1 << 20);
        const int64_t n = int64_t(count_code_points(s));
        if (width <= n) return self;
        const bool sign = !s.empty() && (s[0] == '-' || s[0] == '+');
        std::string out = sign ? s.substr(0, 1) : "";
        out += std::string(size_t(width - n), '0') + (sign ? s.substr(1) : s);
        return Value::string(std::move(out));
    }
    if (name == "partition") return str_partition(self, a, false);
    if (name == "rpartition") return str_partition(self, a, true);
    if (name == "removeprefix" || name == "removesuffix") {
        const std::string& x = need_string(a.get(0, "prefix"), "argument");
        if (name == "removeprefix" && s.compare(0, x.size(), x) == 0)
            return Value::string(s.substr(x.size()));
        if (name == "removesuffix" && !x.empty() && s.size() >= x.size() &&
            s.compare(s.size() - x.size(), x.size(), x) == 0) {
            return Value::string(s.substr(0, s.size() - x.size()));
        }
        return self;
    }
    raise("AttributeError: 'str' object has no attribute '" + std::string(name) + "'");
}

const char* const kStrMethods[] = {
    "strip",        "lstrip",      "rstrip",    "split",   "rsplit",   "splitlines", "replace",
    "startswith",   "endswith",    "upper",     "lower",   "casefold", "title",      "capitalize",
    "find",         "index",       "rfind",     "rindex",  "count",    "join",       "format",
    "isdigit",      "isdecimal",   "isnumeric", "isalpha", "isalnum",  "isspace",    "islower",
    "isupper",      "ljust",       "rjust",     "center",  "zfill",    "partition",  "rpartition",
    "removeprefix", "removesuffix"};
const char* const kDictMethods[] = {"items", "keys", "values", "get", "copy"};
const char* const kDictUnsafe[] = {"pop", "popitem", "clear", "update", "setdefault"};
const char* const kListMethods[] = {"count", "index", "copy"};
const char* const kListUnsafe[] = {"append", "extend",  "insert", "pop",
                                   "remove", "reverse", "sort",   "clear"};

template <size_t N>
bool listed(const char* const (&names)[N], std::string_view name) {
    for (const char* n : names) {
        if (name == n) return true;
    }
    return false;
}

Value dict_method(const Value& self, std::string_view name, CallArgs& a) {
    const Dict& d = self.get_dict();
    if (name == "get") {
        const Value* v = d.find(a.get(0, "key"));
        return v ? *v : a.get(1, "default", Value::none());
    }
    if (name == "copy") return Value::dict(d);
    ValueList out;
    for (const auto& [k, v] : d.entries) {
        if (name == "items") {
            out.push_back(Value::tuple({k, v}));
        } else {
            out.push_back(name == "keys" ? k : v);
        }
    }
    return Value::list(std::move(out));
}

Value list_method(const Value& self, std::string_view name, CallArgs& a) {
    const ValueList& items = self.items();
    if (name == "copy") return Value::list(items);
    const Value x = a.get(0, "value");
    int64_t n = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        if (!equals(items[i], x)) continue;
        if (name == "index") return Value::integer(int64_t(i));
        ++n;
    }
    if (name == "index") raise("ValueError: " + repr(x) + " is not in list");
    return Value::integer(n);
}

Value unsafe(const Value& self, std::string_view name) {
    return Value::undefined("SecurityError: access to attribute '" + std::string(name) + "' of '" +
                            type_name(self) + "' object is unsafe.");
}

template <Value (*Impl)(const Value&, std::string_view, CallArgs&)>
Value bind(const Value& self, std::string_view name) {
    std::string method(name);
    return Value::function(type_name(self) + "." + method,
                           [self, method](CallArgs& a) { return Impl(self, method, a); });
}

}  // namespace

std::optional<Value> bound_method(const Value& obj, std::string_view name) {
    switch (obj.kind()) {
        case Kind::kString:
            if (listed(kStrMethods, name)) return bind<str_method>(obj, name);
            return std::nullopt;
        case Kind::kDict:
            if (listed(kDictMethods, name)) return bind<dict_method>(obj, name);
            if (listed(kDictUnsafe, name)) return unsafe(obj, name);
            return std::nullopt;
        case Kind::kList:
        case Kind::kTuple:
            if (listed(kListMethods, name) && !(obj.kind() == Kind::kTuple && name == "copy")) {
                return bind<list_method>(obj, name);
            }
            if (obj.kind() == Kind::kList && listed(kListUnsafe, name)) return unsafe(obj, name);
            return std::nullopt;
        default:
            return std::nullopt;
    }
}

namespace {

// Applies a str.format spec ([[fill]align][sign][0][width][.precision][type]).
std::string apply_spec(const Value& v, std::string_view spec) {
    if (spec.empty()) return to_str(v);
    size_t i = 0;
    std::string fill = " ";
    char align = 0;
    auto is_align = [](char c) { return c == '<' || c == '>' || c == '^' || c == '='; };
    if (spec.size() >= 2 && is_align(spec[1])) {
        fill = std::string(1, spec[0]);
        align = spec[1];
        i = 2;
    } else if (is_align(spec[0])) {
        align = spec[0];
        i = 1;
    }
    std::string sign;
    if (i < spec.size() && (spec[i] == '+' || spec[i] == '-' || spec[i] == ' ')) sign = spec[i++];
    if (i < spec.size() && spec[i] == '0') {
        fill = "0";
        if (!align) align = '=';
        ++i;
    }
    int width = 0, precision = -1;
    while (i < spec.size() && spec[i] >= '0' && spec[i] <= '9' && width < 100000)
        width = width * 10 + (spec[i++] - '0');
    if (i < spec.size() && spec[i] == '.') {
        precision = 0;
        while (++i < spec.size() && spec[i] >= '0' && spec[i] <= '9' && precision < 1000)
            precision = precision * 10 + (spec[i] - '0');
    }
    const char type = i < spec.size() ? spec[i] : 0;
    std::string body;
    if (type == 'f' || type == 'F' || type == 'e' || type == 'g' || type == '%' ||
        (precision >= 0 && v.is_number() && type == 0)) {
        if (!v.is_number())
            raise("ValueError: Unknown format code for object of type '" + type_name(v) + "'");
        char buf[512];
        const double x = type == '%' ? v.get_float() * 100 : v.get_float();
        const char conv = type == 0 ? 'g' : type == '%' ? 'f' : type;
        std::snprintf(
            buf, sizeof buf,
            ("%" + sign + "." + std::to_string(precision < 0 ? 6 : precision) + conv).c_str(), x);
        body = buf;
        if (type == '%') body += '%';
    } else if (type == 'd') {
        if (!v.is_int())
            raise("ValueError: Unknown format code 'd' for object of type '" + type_name(v) + "'");
        body = (sign == "+" && v.get_int() >= 0 ? "+" : "") + std::to_string(v.get_int());
    } else {
        body = to_str(v);
        if (precision >= 0)
            body = from_code_points(code_points(body), 0,
                                    std::min<size_t>(size_t(precision), count_code_points(body)));
    }
    const int n = int(count_code_points(body));
    if (width <= n) return body;
    if (!align) align = v.is_number() ? '>' : '<';
    std::string left, right;
    const int total = width - n;
    const int l = align == '<' ? 0 : align == '^' ? total / 2 : total;
    for (int k = 0; k < l; ++k) left += fill;
    for (int k = 0; k < total - l; ++k) right += fill;
    return left + body + right;
}

}  // namespace

std::string python_format(std::string_view fmt, const CallArgs& args) {
    std::string out;
    size_t auto_index = 0;
    for (size_t i = 0; i < fmt.size(); ++i) {
        const char c = fmt[i];
        if (c == '}') {
            if (i + 1 < fmt.size() && fmt[i + 1] == '}')
                ++i;
            else
                raise("ValueError: Single '}' encountered in format string");
            out += '}';
            continue;
        }
        if (c != '{') {
            out += c;
            continue;
        }
        if (i + 1 < fmt.size() && fmt[i + 1] == '{') {
            out += '{';
            ++i;
            continue;
        }
        const size_t close = fmt.find('}', i);
        if (close == std::string_view::npos)
            raise("ValueError: Single '{' encountered in format string");
        std::string_view field = fmt.substr(i + 1, close - i - 1);
        i = close;
        std::string_view spec, conversion;
        if (const size_t colon = field.find(':'); colon != std::string_view::npos) {
            spec = field.substr(colon + 1);
            field = field.substr(0, colon);
        }
        if (const size_t bang = field.find('!'); bang != std::string_view::npos) {
            conversion = field.substr(bang + 1);
            field = field.substr(0, bang);
        }
        Value v;
        if (field.empty()) {
            if (auto_index >= args.args.size()) raise("IndexError: Replacement index out of range");
            v = args.args[auto_index++];
        } else if (field[0] >= '0' && field[0] <= '9') {
            const size_t k = size_t(std::atoi(std::string(field).c_str()));
            if (k >= args.args.size()) raise("IndexError: Replacement index out of range");
            v = args.args[k];
        } else {
            const Value* kw = args.kwarg(field);
            if (!kw) raise("KeyError: '" + std::string(field) + "'");
            v = *kw;
        }
        if (conversion == "r") v = Value::string(repr(v));
        out += apply_spec(v, spec);
    }
    return out;
}

}  // namespace citadel::jinja
