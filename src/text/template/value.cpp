#include "text/template/value.h"

#include <cmath>

#include "text/template/pystr.h"

namespace citadel::jinja {

namespace {
constexpr int kMaxReprDepth = 200;
}

void raise(std::string message) {
    throw TemplateError{std::move(message), 0};
}

std::string concat(std::initializer_list<std::string_view> parts) {
    std::string out;
    for (std::string_view p : parts) out.append(p);
    return out;
}

Value Value::list(ValueList items) {
    return Value(Kind::kList, std::make_shared<const ValueList>(std::move(items)));
}

Value Value::tuple(ValueList items) {
    return Value(Kind::kTuple, std::make_shared<const ValueList>(std::move(items)));
}

Value Value::dict(Dict d) {
    return Value(Kind::kDict, std::make_shared<const Dict>(std::move(d)));
}

Value Value::function(std::string name, std::function<Value(CallArgs&)> fn) {
    return Value(Kind::kFunction,
                 std::make_shared<Function>(Function{std::move(name), std::move(fn)}));
}

const Value::Payload& Value::checked(Kind want) const {
    if (kind_ != want) {
        static const char* const names[] = {"Undefined", "None",     "bool",  "int",
                                            "float",     "str",      "list",  "tuple",
                                            "dict",      "function", "object"};
        if (kind_ == Kind::kUndefined && want != Kind::kUndefined) {
            raise("UndefinedError: " + (undefined_hint().empty() ? std::string("value is undefined")
                                                                 : undefined_hint()));
        }
        raise(concat({"TypeError: expected ", names[int(want)], ", got ", names[int(kind_)]}));
    }
    return payload_;
}

int64_t Value::get_int() const {
    if (kind_ == Kind::kBool) return int64_t(std::get<bool>(payload_));
    return std::get<int64_t>(checked(Kind::kInt));
}

double Value::get_float() const {
    if (kind_ == Kind::kFloat) return std::get<double>(payload_);
    return double(get_int());
}

const ValueList& Value::items() const {
    if (kind_ == Kind::kTuple) return *std::get<std::shared_ptr<const ValueList>>(payload_);
    return *std::get<std::shared_ptr<const ValueList>>(checked(Kind::kList));
}

const std::string& Value::undefined_hint() const {
    static const std::string none;
    const auto* s = std::get_if<std::string>(&payload_);
    return s ? *s : none;
}

const void* Value::identity() const {
    switch (kind_) {
        case Kind::kList:
        case Kind::kTuple:
            return std::get<std::shared_ptr<const ValueList>>(payload_).get();
        case Kind::kDict:
            return std::get<std::shared_ptr<const Dict>>(payload_).get();
        case Kind::kFunction:
            return std::get<std::shared_ptr<Function>>(payload_).get();
        case Kind::kObject:
            return std::get<std::shared_ptr<Object>>(payload_).get();
        default:
            return nullptr;
    }
}

const Value* Dict::find(const Value& key) const {
    if (key.is_string()) return find(std::string_view(key.get_string()));
    for (const auto& [k, v] : entries) {
        if (equals(k, key)) return &v;
    }
    return nullptr;
}

const Value* Dict::find(std::string_view key) const {
    for (const auto& [k, v] : entries) {
        if (k.is_string() && k.get_string() == key) return &v;
    }
    return nullptr;
}

void Dict::set(Value key, Value value) {
    for (auto& [k, v] : entries) {
        if (equals(k, key)) {
            v = std::move(value);
            return;
        }
    }
    entries.emplace_back(std::move(key), std::move(value));
}

Value CallArgs::get(size_t pos, std::string_view name, Value fallback) const {
    if (pos < args.size()) return args[pos];
    if (const Value* v = kwarg(name)) return *v;
    return fallback;
}

const Value* CallArgs::kwarg(std::string_view name) const {
    for (const auto& [k, v] : kwargs) {
        if (k == name) return &v;
    }
    return nullptr;
}

std::string Object::repr(int) const {
    return std::string("<") + type_name() + " object>";
}

bool truthy(const Value& v) {
    switch (v.kind()) {
        case Kind::kUndefined:
        case Kind::kNone:
            return false;
        case Kind::kBool:
            return v.get_bool();
        case Kind::kInt:
            return v.get_int() != 0;
        case Kind::kFloat:
            return v.get_float() != 0.0;
        case Kind::kString:
            return !v.get_string().empty();
        case Kind::kList:
        case Kind::kTuple:
            return !v.items().empty();
        case Kind::kDict:
            return !v.get_dict().entries.empty();
        default:
            return true;
    }
}

namespace {

bool equals_at(const Value& a, const Value& b, int depth) {
    if (depth > kMaxReprDepth) raise("RecursionError: maximum recursion depth exceeded");
    if (a.identity() && a.identity() == b.identity()) return true;
    if (a.is_number() && b.is_number()) {
        if (a.kind() == Kind::kFloat || b.kind() == Kind::kFloat) {
            return a.get_float() == b.get_float();
        }
        return a.get_int() == b.get_int();
    }
    if (a.kind() != b.kind()) return false;
    switch (a.kind()) {
        case Kind::kUndefined:
        case Kind::kNone:
            return true;
        case Kind::kString:
            return a.get_string() == b.get_string();
        case Kind::kList:
        case Kind::kTuple: {
            const ValueList &x = a.items(), &y = b.items();
            if (x.size() != y.size()) return false;
            for (size_t i = 0; i < x.size(); ++i) {
                if (!equals_at(x[i], y[i], depth + 1)) return false;
            }
            return true;
        }
        case Kind::kDict: {
            const Dict &x = a.get_dict(), &y = b.get_dict();
            if (x.entries.size() != y.entries.size()) return false;
            for (const auto& [k, v] : x.entries) {
                const Value* other = y.find(k);
                if (!other || !equals_at(v, *other, depth + 1)) return false;
            }
            return true;
        }
        default:
            return a.identity() == b.identity();
    }
}

}  // namespace

bool equals(const Value& a, const Value& b) {
    return equals_at(a, b, 0);
}

int compare(const Value& a, const Value& b) {
    if (a.is_number() && b.is_number()) {
        if (a.kind() == Kind::kFloat || b.kind() == Kind::kFloat) {
            const double x = a.get_float(), y = b.get_float();
            return x < y ? -1 : x > y ? 1 : 0;
        }
        const int64_t x = a.get_int(), y = b.get_int();
        return x < y ? -1 : x > y ? 1 : 0;
    }
    if (a.is_string() && b.is_string()) {
        // UTF-8 byte order is code point order.
        const int c = a.get_string().compare(b.get_string());
        return c < 0 ? -1 : c > 0 ? 1 : 0;
    }
    if (a.is_sequence() && a.kind() == b.kind()) {
        const ValueList &x = a.items(), &y = b.items();
        for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (!equals(x[i], y[i])) return compare(x[i], y[i]);
        }
        return x.size() < y.size() ? -1 : x.size() > y.size() ? 1 : 0;
    }
    if (a.is_undefined() || b.is_undefined()) raise("UndefinedError: value is undefined");
    raise("TypeError: '<' not supported between instances of '" + type_name(a) + "' and '" +
          type_name(b) + "'");
}

namespace {

void repr_into(const Value& v, int depth, size_t max_bytes, std::string& out) {
    if (depth > kMaxReprDepth) raise("RecursionError: maximum recursion depth exceeded");
    if (out.size() > max_bytes)
        raise("text too large (over " + std::to_string(max_bytes) + " bytes)");
    switch (v.kind()) {
        case Kind::kUndefined:
            out += "Undefined";
            return;
        case Kind::kNone:
            out += "None";
            return;
        case Kind::kBool:
            out += v.get_bool() ? "True" : "False";
            return;
        case Kind::kInt:
            out += std::to_string(v.get_int());
            return;
        case Kind::kFloat:
            out += py_repr_float(v.get_float());
            return;
        case Kind::kString:
            out += py_repr_string(v.get_string());
            return;
        case Kind::kList:
        case Kind::kTuple: {
            const bool tuple = v.kind() == Kind::kTuple;
            out += tuple ? "(" : "[";
            const ValueList& items = v.items();
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += ", ";
                repr_into(items[i], depth + 1, max_bytes, out);
            }
            if (tuple && items.size() == 1) out += ",";
            out += tuple ? ")" : "]";
            return;
        }
        case Kind::kDict: {
            out += "{";
            bool first = true;
            for (const auto& [k, val] : v.get_dict().entries) {
                if (!first) out += ", ";
                first = false;
                repr_into(k, depth + 1, max_bytes, out);
                out += ": ";
                repr_into(val, depth + 1, max_bytes, out);
            }
            out += "}";
            return;
        }
        case Kind::kFunction:
            out += "<function " + v.get_function().name + ">";
            return;
        case Kind::kObject:
            out += v.get_object().repr(depth + 1);
            return;
    }
}

}  // namespace

std::string to_str(const Value& v, size_t max_bytes) {
    switch (v.kind()) {
        case Kind::kUndefined:
            return "";
        case Kind::kString:
            return v.get_string();
        default:
            return repr(v, 0, max_bytes);
    }
}

std::string repr(const Value& v, int depth, size_t max_bytes) {
    std::string out;
    repr_into(v, depth, max_bytes, out);
    if (out.size() > max_bytes)
        raise("text too large (over " + std::to_string(max_bytes) + " bytes)");
    return out;
}

std::string type_name(const Value& v) {
    switch (v.kind()) {
        case Kind::kUndefined:
            return "Undefined";
        case Kind::kNone:
            return "NoneType";
        case Kind::kBool:
            return "bool";
        case Kind::kInt:
            return "int";
        case Kind::kFloat:
            return "float";
        case Kind::kString:
            return "str";
        case Kind::kList:
            return "list";
        case Kind::kTuple:
            return "tuple";
        case Kind::kDict:
            return "dict";
        case Kind::kFunction:
            return "function";
        case Kind::kObject:
            return v.get_object().type_name();
    }
    return "object";
}

}  // namespace citadel::jinja
