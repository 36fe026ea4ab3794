// Global functions: range, namespace, dict, cycler, joiner, raise_exception, strftime_now.
#include <ctime>

#include "text/template/builtins.h"
#include "text/template/interpreter.h"
#include "text/template/objects.h"

namespace citadel::jinja {
namespace {

int64_t int_arg(const Value& v) {
    if (!v.is_int())
        raise("TypeError: '" + type_name(v) + "' object cannot be interpreted as an integer");
    return v.get_int();
}

Value range_fn(Interpreter& in, CallArgs& a) {
    if (a.args.empty() || a.args.size() > 3) raise("TypeError: range expected 1 to 3 arguments");
    int64_t start = 0, stop, step = 1;
    if (a.args.size() == 1) {
        stop = int_arg(a.args[0]);
    } else {
        start = int_arg(a.args[0]);
        stop = int_arg(a.args[1]);
        if (a.args.size() == 3) step = int_arg(a.args[2]);
    }
    if (step == 0) raise("ValueError: range() arg 3 must not be zero");
    ValueList out;
    const int64_t limit =
        std::min<int64_t>(in.options().limits.max_loop_iterations, int64_t(in.max_size()));
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        if (int64_t(out.size()) >= limit) raise("range too large");
        out.push_back(Value::integer(i));
        if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
    }
    return Value::list(std::move(out));
}

Dict dict_from_args(CallArgs& a) {
    Dict d;
    if (!a.args.empty()) {
        const Value& src = a.args[0];
        if (src.is_dict()) {
            d = src.get_dict();
        } else if (!src.is_none()) {
            for (const Value& pair : src.is_sequence() ? src.items() : ValueList{}) {
                if (!pair.is_sequence() || pair.items().size() != 2) {
                    raise("ValueError: dictionary update sequence element has wrong length");
                }
                d.set(pair.items()[0], pair.items()[1]);
            }
        }
    }
    for (const auto& [k, v] : a.kwargs) d.set(Value::string(k), v);
    return d;
}

std::tm local_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    localtime_r(&t, &tm);
    return tm;
}

Value strftime_fn(Interpreter& in, CallArgs& a) {
    const Value fmt = a.get(0, "format");
    if (!fmt.is_string()) raise("TypeError: strftime_now() argument must be str");
    const std::tm tm = in.options().clock ? in.options().clock() : local_now();
    if (fmt.get_string().empty()) return Value::string("");
    std::string buf(256 + fmt.get_string().size() * 16, '\0');
    const size_t n = std::strftime(buf.data(), buf.size(), fmt.get_string().c_str(), &tm);
    buf.resize(n);
    return Value::string(std::move(buf));
}

}  // namespace

void install_globals(Scope& globals, Interpreter& in) {
    Interpreter* interp = &in;
    globals.set("range",
                Value::function("range", [interp](CallArgs& a) { return range_fn(*interp, a); }));
    globals.set("dict", Value::function(
                            "dict", [](CallArgs& a) { return Value::dict(dict_from_args(a)); }));
    globals.set("namespace", Value::function("namespace", [interp](CallArgs& a) {
                    auto ns = std::make_shared<NamespaceObject>(dict_from_args(a));
                    interp->track(ns);
                    return Value::object(ns);
                }));
    globals.set("cycler", Value::function("cycler", [interp](CallArgs& a) {
                    auto c = std::make_shared<CyclerObject>(a.args);
                    interp->track(c);
                    return Value::object(c);
                }));
    globals.set("joiner", Value::function("joiner", [](CallArgs& a) {
                    const std::string sep = to_str(a.get(0, "sep", Value::string(", ")));
                    auto used = std::make_shared<bool>(false);
                    return Value::function("joiner", [sep, used](CallArgs&) {
                        if (!*used) {
                            *used = true;
                            return Value::string("");
                        }
                        return Value::string(sep);
                    });
                }));
    globals.set("raise_exception", Value::function("raise_exception", [](CallArgs& a) -> Value {
                    raise("TemplateError: " + to_str(a.get(0, "message")));
                }));
    globals.set("strftime_now", Value::function("strftime_now", [interp](CallArgs& a) {
                    return strftime_fn(*interp, a);
                }));
}

}  // namespace citadel::jinja
