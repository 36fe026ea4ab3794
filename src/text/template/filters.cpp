// Jinja2's built-in filters as chat templates use them, plus Hugging Face's tojson.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "text/template/builtins.h"
#include "text/template/interpreter.h"
#include "text/template/json.h"
#include "text/template/methods.h"
#include "text/template/operators.h"
#include "text/template/pystr.h"

namespace citadel::jinja {
namespace {

using FilterFn = Value (*)(Interpreter& in, const Value& v, CallArgs& a);

// Jinja's make_attrgetter: "a.b.0" looks up item a, then b, then index 0.
Value get_path(const Value& item, const Value& attribute) {
    if (!attribute.is_string()) return get_item(item, attribute);
    const std::string dot = ".";
    Value cur = item;
    for (const std::string& part : py_split(attribute.get_string(), &dot, -1)) {
        const bool digits = !part.empty() && std::all_of(part.begin(), part.end(), [](char c) {
            return c >= '0' && c <= '9';
        });
        cur = digits && part.size() < 18 ? get_item(cur, Value::integer(std::atoll(part.c_str())))
                                         : get_item(cur, Value::string(part));
    }
    return cur;
}

Value sort_key(const Value& item, const Value& attribute, bool case_sensitive) {
    Value k = attribute.is_none() || attribute.is_undefined() ? item : get_path(item, attribute);
    if (!case_sensitive && k.is_string()) return Value::string(py_lower(k.get_string()));
    return k;
}

Value f_length(Interpreter&, const Value& v, CallArgs&) {
    return Value::integer(length(v));
}

Value f_string(Interpreter& in, const Value& v, CallArgs&) {
    return v.is_string() ? v : Value::string(to_str(v, in.max_size()));
}

Value f_list(Interpreter&, const Value& v, CallArgs&) {
    return Value::list(iterate(v));
}

Value f_trim(Interpreter&, const Value& v, CallArgs& a) {
    const Value chars = a.get(0, "chars");
    const std::string s = to_str(v);
    return Value::string(
        py_strip(s, chars.is_string() ? &chars.get_string() : nullptr, true, true));
}

Value f_upper(Interpreter&, const Value& v, CallArgs&) {
    return Value::string(py_upper(to_str(v)));
}
Value f_lower(Interpreter&, const Value& v, CallArgs&) {
    return Value::string(py_lower(to_str(v)));
}
Value f_capitalize(Interpreter&, const Value& v, CallArgs&) {
    return Value::string(py_capitalize(to_str(v)));
}

// Jinja's title: upper-case the first character after each run of "-", space, (, {, [, <.
Value f_title(Interpreter&, const Value& v, CallArgs&) {
    const std::string s = to_str(v);
    std::string out;
    bool word_start = true;
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = decode_utf8(s, i);
        const bool sep =
            cp == '-' || cp == '(' || cp == '{' || cp == '[' || cp == '<' || py_isspace(cp);
        append_utf8(sep ? cp : word_start ? py_upper(cp) : py_lower(cp), out);
        word_start = sep;
    }
    return Value::string(std::move(out));
}

Value f_default(Interpreter&, const Value& v, CallArgs& a) {
    const Value fallback = a.get(0, "default_value", Value::string(""));
    const bool boolean = truthy(a.get(1, "boolean", Value::boolean(false)));
    if (v.is_undefined() || (boolean && !truthy(v))) return fallback;
    return v;
}

Value f_join(Interpreter& in, const Value& v, CallArgs& a) {
    const std::string sep = to_str(a.get(0, "d", Value::string("")));
    const Value attribute = a.get(1, "attribute", Value::none());
    std::string out;
    bool first = true;
    for (const Value& item : iterate(v)) {
        if (!first) out += sep;
        first = false;
        out += to_str(attribute.is_none() ? item : get_path(item, attribute), in.max_size());
        if (out.size() > in.max_size()) raise("join result too large");
    }
    return Value::string(std::move(out));
}

Value f_first(Interpreter&, const Value& v, CallArgs&) {
    ValueList items = iterate(v);
    return items.empty() ? Value::undefined("No first item, sequence was empty.") : items.front();
}

Value f_last(Interpreter&, const Value& v, CallArgs&) {
    ValueList items = iterate(v);
    return items.empty() ? Value::undefined("No last item, sequence was empty.") : items.back();
}

Value f_reverse(Interpreter&, const Value& v, CallArgs&) {
    if (v.is_string()) {
        std::vector<uint32_t> cps = code_points(v.get_string());
        std::reverse(cps.begin(), cps.end());
        return Value::string(from_code_points(cps, 0, cps.size()));
    }
    ValueList items = iterate(v);
    std::reverse(items.begin(), items.end());
    return Value::list(std::move(items));
}

Value f_replace(Interpreter& in, const Value& v, CallArgs& a) {
    const Value count = a.get(2, "count", Value::none());
    std::string out = py_replace(to_str(v), to_str(a.get(0, "old")), to_str(a.get(1, "new")),
                                 count.is_int() ? count.get_int() : -1);
    if (out.size() > in.max_size()) raise("replace result too large");
    return Value::string(std::move(out));
}

// Python int(str): optional sign, digits with single underscores, surrounding whitespace.
std::optional<int64_t> parse_int(const std::string& text, int base) {
    std::string s = py_strip(text, nullptr, true, true);
    std::string digits;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '_' && i > 0 && i + 1 < s.size() && s[i - 1] != '_') continue;
        digits += s[i];
    }
    if (digits.empty()) return std::nullopt;
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(digits.c_str(), &end, base);
    if (errno || *end || !std::isxdigit(static_cast<unsigned char>(digits.back())))
        return std::nullopt;
    return int64_t(v);
}

std::optional<double> parse_float(const std::string& text) {
    const std::string s = py_strip(text, nullptr, true, true);
    if (s.empty()) return std::nullopt;
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (*end) return std::nullopt;
    return d;
}

Value f_int(Interpreter&, const Value& v, CallArgs& a) {
    const Value fallback = a.get(0, "default", Value::integer(0));
    const int64_t base = a.get(1, "base", Value::integer(10)).get_int();
    if (v.is_int()) return Value::integer(v.get_int());
    if (v.kind() == Kind::kFloat) {
        const double d = v.get_float();
        if (!std::isfinite(d) || std::fabs(d) > 9.2e18) return fallback;
        return Value::integer(int64_t(d));
    }
    if (v.is_string()) {
        if (auto i = parse_int(v.get_string(), int(base))) return Value::integer(*i);
        if (auto d = parse_float(v.get_string());
            d && std::isfinite(*d) && std::fabs(*d) < 9.2e18) {
            return Value::integer(int64_t(*d));
        }
    }
    return fallback;
}

Value f_float(Interpreter&, const Value& v, CallArgs& a) {
    const Value fallback = a.get(0, "default", Value::number(0.0));
    if (v.is_number()) return Value::number(v.get_float());
    if (v.is_string()) {
        if (auto d = parse_float(v.get_string())) return Value::number(*d);
    }
    return fallback;
}

Value f_abs(Interpreter&, const Value& v, CallArgs&) {
    if (v.is_int()) {
        if (v.get_int() == INT64_MIN) raise("OverflowError: integer result out of range");
        return Value::integer(std::llabs(v.get_int()));
    }
    if (v.kind() == Kind::kFloat) return Value::number(std::fabs(v.get_float()));
    raise("TypeError: bad operand type for abs(): '" + type_name(v) + "'");
}

Value f_round(Interpreter&, const Value& v, CallArgs& a) {
    const int64_t precision = a.get(0, "precision", Value::integer(0)).get_int();
    const std::string method = to_str(a.get(1, "method", Value::string("common")));
    if (!v.is_number())
        raise("TypeError: type " + type_name(v) + " doesn't define __round__ method");
    if (method == "common") {
        if (v.is_int()) return Value::integer(v.get_int());
        char buf[512];
        std::snprintf(buf, sizeof buf, "%.*f", int(std::clamp<int64_t>(precision, 0, 300)),
                      v.get_float());
        return Value::number(std::strtod(buf, nullptr));
    }
    const double scale = std::pow(10.0, double(precision));
    const double x = v.get_float() * scale;
    if (method == "ceil") return Value::number(std::ceil(x) / scale);
    if (method == "floor") return Value::number(std::floor(x) / scale);
    raise("FilterArgumentError: method must be common, ceil or floor");
}

Value f_tojson(Interpreter&, const Value& v, CallArgs& a) {
    JsonDumpOptions o;
    o.ensure_ascii = truthy(a.get(0, "ensure_ascii", Value::boolean(false)));
    const Value indent = a.get(1, "indent", Value::none());
    if (indent.is_int()) {
        o.indent = std::string(size_t(std::clamp<int64_t>(indent.get_int(), 0, 64)), ' ');
    } else if (indent.is_string()) {
        o.indent = indent.get_string();
    }
    if (o.indent) o.item_separator = ",";
    const Value separators = a.get(2, "separators", Value::none());
    if (separators.is_sequence()) {
        if (separators.items().size() != 2) raise("ValueError: separators must be a pair");
        o.item_separator = to_str(separators.items()[0]);
        o.key_separator = to_str(separators.items()[1]);
    }
    o.sort_keys = truthy(a.get(3, "sort_keys", Value::boolean(false)));
    return Value::string(dump_json(v, o));
}

Value f_items(Interpreter&, const Value& v, CallArgs&) {
    if (v.is_undefined()) return Value::list({});
    if (!v.is_dict()) raise("TypeError: Can only get item pairs from a mapping.");
    ValueList out;
    for (const auto& [k, val] : v.get_dict().entries) out.push_back(Value::tuple({k, val}));
    return Value::list(std::move(out));
}

Value f_dictsort(Interpreter&, const Value& v, CallArgs& a) {
    if (!v.is_dict()) raise("TypeError: dictsort requires a mapping");
    const bool case_sensitive = truthy(a.get(0, "case_sensitive", Value::boolean(false)));
    const std::string by = to_str(a.get(1, "by", Value::string("key")));
    const bool reverse = truthy(a.get(2, "reverse", Value::boolean(false)));
    const size_t pos = by == "value" ? 1 : 0;
    ValueList out;
    for (const auto& [k, val] : v.get_dict().entries) out.push_back(Value::tuple({k, val}));
    std::stable_sort(out.begin(), out.end(), [&](const Value& x, const Value& y) {
        const int c = compare(sort_key(x.items()[pos], Value::none(), case_sensitive),
                              sort_key(y.items()[pos], Value::none(), case_sensitive));
        return reverse ? c > 0 : c < 0;
    });
    return Value::list(std::move(out));
}

Value f_sort(Interpreter&, const Value& v, CallArgs& a) {
    const bool reverse = truthy(a.get(0, "reverse", Value::boolean(false)));
    const bool case_sensitive = truthy(a.get(1, "case_sensitive", Value::boolean(false)));
    const Value attribute = a.get(2, "attribute", Value::none());
    ValueList items = iterate(v);
    std::vector<std::pair<Value, size_t>> keyed;
    for (size_t i = 0; i < items.size(); ++i)
        keyed.emplace_back(sort_key(items[i], attribute, case_sensitive), i);
    std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
        const int c = compare(x.first, y.first);
        return reverse ? c > 0 : c < 0;
    });
    ValueList out;
    for (const auto& [k, i] : keyed) out.push_back(items[i]);
    return Value::list(std::move(out));
}

Value f_unique(Interpreter&, const Value& v, CallArgs& a) {
    const bool case_sensitive = truthy(a.get(0, "case_sensitive", Value::boolean(false)));
    const Value attribute = a.get(1, "attribute", Value::none());
    ValueList out, seen;
    for (const Value& item : iterate(v)) {
        Value k = sort_key(item, attribute, case_sensitive);
        if (std::any_of(seen.begin(), seen.end(), [&](const Value& s) { return equals(s, k); }))
            continue;
        seen.push_back(std::move(k));
        out.push_back(item);
    }
    return Value::list(std::move(out));
}

Value min_max(const Value& v, CallArgs& a, bool want_max) {
    const bool case_sensitive = truthy(a.get(0, "case_sensitive", Value::boolean(false)));
    const Value attribute = a.get(1, "attribute", Value::none());
    const ValueList items = iterate(v);
    if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
    size_t best = 0;
    for (size_t i = 1; i < items.size(); ++i) {
        const int c = compare(sort_key(items[i], attribute, case_sensitive),
                              sort_key(items[best], attribute, case_sensitive));
        if (want_max ? c > 0 : c < 0) best = i;
    }
    return items[best];
}

Value f_min(Interpreter&, const Value& v, CallArgs& a) {
    return min_max(v, a, false);
}
Value f_max(Interpreter&, const Value& v, CallArgs& a) {
    return min_max(v, a, true);
}

Value f_sum(Interpreter& in, const Value& v, CallArgs& a) {
    const Value attribute = a.get(0, "attribute", Value::none());
    Value total = a.get(1, "start", Value::integer(0));
    for (const Value& item : iterate(v)) {
        total = binary_op("+", total, attribute.is_none() ? item : get_path(item, attribute),
                          in.max_size());
    }
    return total;
}

Value f_safe(Interpreter&, const Value& v, CallArgs&) {
    return v;
}

Value f_escape(Interpreter&, const Value& v, CallArgs&) {
    std::string out;
    for (char c : to_str(v)) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&#34;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
    return Value::string(std::move(out));
}

Value f_indent(Interpreter& in, const Value& v, CallArgs& a) {
    const Value width = a.get(0, "width", Value::integer(4));
    const bool first = truthy(a.get(1, "first", Value::boolean(false)));
    const bool blank = truthy(a.get(2, "blank", Value::boolean(false)));
    const std::string indention =
        width.is_string() ? width.get_string()
                          : std::string(size_t(std::clamp<int64_t>(width.get_int(), 0, 1024)), ' ');
    const std::vector<std::string> lines = py_splitlines(to_str(v) + "\n", false);
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (i > 0) {
            out += "\n";
            if (blank || !lines[i].empty()) out += indention;
        }
        out += lines[i];
        if (out.size() > in.max_size()) raise("indent result too large");
    }
    if (first) out = indention + out;
    return Value::string(std::move(out));
}

Value f_wordcount(Interpreter&, const Value& v, CallArgs&) {
    const std::string s = to_str(v);
    int64_t n = 0;
    bool in_word = false;
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = decode_utf8(s, i);
        const bool w = cp == '_' || py_isalpha(cp) || py_isdigit(cp);
        if (w && !in_word) ++n;
        in_word = w;
    }
    return Value::integer(n);
}

Value f_batch(Interpreter&, const Value& v, CallArgs& a) {
    const int64_t size = a.get(0, "linecount", Value::integer(1)).get_int();
    if (size <= 0) raise("ValueError: batch size must be positive");
    const Value fill = a.get(1, "fill_with", Value::none());
    ValueList out, cur;
    for (const Value& item : iterate(v)) {
        cur.push_back(item);
        if (int64_t(cur.size()) == size) out.push_back(Value::list(std::exchange(cur, {})));
    }
    if (!cur.empty()) {
        if (!fill.is_none()) {
            while (int64_t(cur.size()) < size) cur.push_back(fill);
        }
        out.push_back(Value::list(std::move(cur)));
    }
    return Value::list(std::move(out));
}

Value f_format(Interpreter& in, const Value& v, CallArgs& a) {
    std::string out;
    if (!a.kwargs.empty()) {
        Dict d;
        for (const auto& [k, val] : a.kwargs) d.set(Value::string(k), val);
        out = percent_format(to_str(v), Value::dict(std::move(d)));
    } else {
        out = percent_format(to_str(v), Value::tuple(a.args));
    }
    if (out.size() > in.max_size()) raise("format result too large");
    return Value::string(std::move(out));
}

Value f_center(Interpreter&, const Value& v, CallArgs& a) {
    CallArgs inner;
    inner.args.push_back(a.get(0, "width", Value::integer(80)));
    auto m = bound_method(Value::string(to_str(v)), "center");
    return m->get_function().call(inner);
}

Value f_truncate(Interpreter&, const Value& v, CallArgs& a) {
    const std::string s = to_str(v);
    const int64_t len = a.get(0, "length", Value::integer(255)).get_int();
    const bool killwords = truthy(a.get(1, "killwords", Value::boolean(false)));
    const std::string end = to_str(a.get(2, "end", Value::string("...")));
    const Value leeway_v = a.get(3, "leeway", Value::integer(5));
    const int64_t leeway = leeway_v.is_int() ? leeway_v.get_int() : 5;
    const std::vector<uint32_t> cps = code_points(s);
    const int64_t end_len = int64_t(count_code_points(end));
    if (int64_t(cps.size()) <= len + leeway) return Value::string(s);
    const size_t keep = size_t(std::max<int64_t>(0, len - end_len));
    std::string head = from_code_points(cps, 0, std::min(keep, cps.size()));
    if (killwords) return Value::string(head + end);
    const size_t space = head.rfind(' ');
    if (space != std::string::npos) head = head.substr(0, space);
    return Value::string(head + end);
}

Value f_attr(Interpreter&, const Value& v, CallArgs& a) {
    const std::string name = to_str(a.get(0, "name"));
    if (v.kind() == Kind::kObject) return v.get_object().get_attr(name);
    if (v.is_undefined()) raise_undefined(v);
    if (auto m = bound_method(v, name)) return *m;
    return Value::undefined("'" + type_name(v) + " object' has no attribute '" + name + "'");
}

Value f_pprint(Interpreter& in, const Value& v, CallArgs&) {
    return Value::string(repr(v, 0, in.max_size()));
}

// select / reject / selectattr / rejectattr share one walk.
Value select_items(Interpreter& in, const Value& v, CallArgs& a, bool by_attr, bool keep) {
    size_t next = 0;
    Value attribute;
    if (by_attr) attribute = a.get(next++, "attr");
    const Value test = a.get(next++, "test", Value::none());
    CallArgs test_args;
    for (size_t i = next; i < a.args.size(); ++i) test_args.args.push_back(a.args[i]);
    ValueList out;
    for (const Value& item : iterate(v)) {
        in.charge(1);
        const Value probe = by_attr ? get_path(item, attribute) : item;
        CallArgs args = test_args;
        const bool hit = test.is_none() ? truthy(probe) : apply_test(in, to_str(test), probe, args);
        if (hit == keep) out.push_back(item);
    }
    return Value::list(std::move(out));
}

Value f_select(Interpreter& in, const Value& v, CallArgs& a) {
    return select_items(in, v, a, false, true);
}
Value f_reject(Interpreter& in, const Value& v, CallArgs& a) {
    return select_items(in, v, a, false, false);
}
Value f_selectattr(Interpreter& in, const Value& v, CallArgs& a) {
    return select_items(in, v, a, true, true);
}
Value f_rejectattr(Interpreter& in, const Value& v, CallArgs& a) {
    return select_items(in, v, a, true, false);
}

Value f_map(Interpreter& in, const Value& v, CallArgs& a) {
    ValueList out;
    if (const Value* attribute = a.kwarg("attribute")) {
        const Value* fallback = a.kwarg("default");
        for (const Value& item : iterate(v)) {
            Value x = get_path(item, *attribute);
            if (x.is_undefined() && fallback) x = *fallback;
            out.push_back(std::move(x));
        }
        return Value::list(std::move(out));
    }
    if (a.args.empty()) raise("TypeError: map requires a filter argument");
    const std::string name = to_str(a.args[0]);
    if (!is_filter(name)) raise("TemplateRuntimeError: No filter named '" + name + "'");
    CallArgs rest;
    rest.args.assign(a.args.begin() + 1, a.args.end());
    rest.kwargs = a.kwargs;
    for (const Value& item : iterate(v)) {
        in.charge(1);
        CallArgs args = rest;
        out.push_back(apply_filter(in, name, item, args));
    }
    return Value::list(std::move(out));
}

struct FilterEntry {
    const char* name;
    FilterFn fn;
};

const FilterEntry kFilters[] = {
    {"abs", f_abs},
    {"attr", f_attr},
    {"batch", f_batch},
    {"capitalize", f_capitalize},
    {"center", f_center},
    {"count", f_length},
    {"d", f_default},
    {"default", f_default},
    {"dictsort", f_dictsort},
    {"e", f_escape},
    {"escape", f_escape},
    {"first", f_first},
    {"float", f_float},
    {"forceescape", f_escape},
    {"format", f_format},
    {"indent", f_indent},
    {"int", f_int},
    {"items", f_items},
    {"join", f_join},
    {"last", f_last},
    {"length", f_length},
    {"list", f_list},
    {"lower", f_lower},
    {"map", f_map},
    {"max", f_max},
    {"min", f_min},
    {"pprint", f_pprint},
    {"reject", f_reject},
    {"rejectattr", f_rejectattr},
    {"replace", f_replace},
    {"reverse", f_reverse},
    {"round", f_round},
    {"safe", f_safe},
    {"select", f_select},
    {"selectattr", f_selectattr},
    {"sort", f_sort},
    {"string", f_string},
    {"sum", f_sum},
    {"title", f_title},
    {"tojson", f_tojson},
    {"trim", f_trim},
    {"truncate", f_truncate},
    {"unique", f_unique},
    {"upper", f_upper},
    {"wordcount", f_wordcount},
};

const FilterEntry* find_filter(std::string_view name) {
    for (const FilterEntry& f : kFilters) {
        if (name == f.name) return &f;
    }
    return nullptr;
}

}  // namespace

bool is_filter(std::string_view name) {
    return find_filter(name) != nullptr;
}

Value apply_filter(Interpreter& in, std::string_view name, const Value& input, CallArgs& args) {
    const FilterEntry* f = find_filter(name);
    if (!f) raise("TemplateAssertionError: No filter named '" + std::string(name) + "'");
    in.charge(1);
    return f->fn(in, input, args);
}

}  // namespace citadel::jinja
