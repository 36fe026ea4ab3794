// The values a template computes with, modelled on the Python objects Jinja2 sees when
// Hugging Face renders a chat template: None, bool, int, float, str, list, tuple, dict,
// callables, plus Jinja's Undefined and a few runtime objects (loop, namespace, cycler).
//
// Lists, tuples and dicts are shared and immutable once built (the immutable sandbox
// forbids mutating them); only namespace objects change, through `set ns.attr = ...`.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace citadel::jinja {

// Raised inside the interpreter and caught at its boundary (Template::render), where it
// becomes a Status naming the template line. Never escapes this folder's public API.
struct TemplateError {
    std::string message;
    int line = 0;
};
[[noreturn]] void raise(std::string message);
// Joins pieces of a message (avoids GCC 12's false -Wrestrict on chained operator+).
std::string concat(std::initializer_list<std::string_view> parts);

class Value;
class Object;
struct Function;
struct Dict;
using ValueList = std::vector<Value>;

enum class Kind : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kTuple,
    kDict,
    kFunction,
    kObject,
};

class Value {
  public:
    Value() = default;  // Undefined
    static Value undefined(std::string hint) {
        Value v;
        v.payload_ = std::move(hint);
        return v;
    }
    static Value none() { return Value(Kind::kNone, std::monostate{}); }
    static Value boolean(bool b) { return Value(Kind::kBool, b); }
    static Value integer(int64_t i) { return Value(Kind::kInt, i); }
    static Value number(double d) { return Value(Kind::kFloat, d); }
    static Value string(std::string s) { return Value(Kind::kString, std::move(s)); }
    static Value list(ValueList items);
    static Value tuple(ValueList items);
    static Value dict(Dict d);
    static Value function(std::string name, std::function<Value(struct CallArgs&)> fn);
    static Value object(std::shared_ptr<Object> o) { return Value(Kind::kObject, std::move(o)); }

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::kUndefined; }
    bool is_none() const { return kind_ == Kind::kNone; }
    bool is_string() const { return kind_ == Kind::kString; }
    bool is_int() const { return kind_ == Kind::kInt || kind_ == Kind::kBool; }  // bool is an int
    bool is_number() const { return is_int() || kind_ == Kind::kFloat; }
    bool is_sequence() const { return kind_ == Kind::kList || kind_ == Kind::kTuple; }
    bool is_dict() const { return kind_ == Kind::kDict; }

    // Typed access; a value of another kind raises TypeError (templates are untrusted, so
    // a wrong type is a template error, never undefined behaviour).
    bool get_bool() const { return std::get<bool>(checked(Kind::kBool)); }
    int64_t get_int() const;   // bool or int
    double get_float() const;  // any number
    const std::string& get_string() const { return std::get<std::string>(checked(Kind::kString)); }
    const std::string& undefined_hint() const;
    const ValueList& items() const;  // list or tuple
    const Dict& get_dict() const {
        return *std::get<std::shared_ptr<const Dict>>(checked(Kind::kDict));
    }
    const Function& get_function() const {
        return *std::get<std::shared_ptr<Function>>(checked(Kind::kFunction));
    }
    Object& get_object() const {
        return *std::get<std::shared_ptr<Object>>(checked(Kind::kObject));
    }
    // Identity of shared containers (Jinja's `sameas`); null for plain values.
    const void* identity() const;

  private:
    using Payload = std::variant<std::monostate, bool, int64_t, double, std::string,
                                 std::shared_ptr<const ValueList>, std::shared_ptr<const Dict>,
                                 std::shared_ptr<Function>, std::shared_ptr<Object>>;
    template <typename T>
    Value(Kind k, T&& p) : kind_(k), payload_(std::forward<T>(p)) {}
    const Payload& checked(Kind want) const;
    Kind kind_ = Kind::kUndefined;
    Payload payload_;
};

// A Python dict: insertion-ordered; keys compare as Python does (1 == 1.0 == True).
struct Dict {
    std::vector<std::pair<Value, Value>> entries;

    const Value* find(const Value& key) const;
    const Value* find(std::string_view key) const;
    void set(Value key, Value value);  // replaces in place or appends
};

// Positional and keyword arguments of one call.
struct CallArgs {
    std::vector<Value> args;
    std::vector<std::pair<std::string, Value>> kwargs;
    int line = 0;

    // The argument at `pos` or named `name`; `fallback` when neither was given.
    Value get(size_t pos, std::string_view name, Value fallback = Value()) const;
    const Value* kwarg(std::string_view name) const;
};

struct Function {
    std::string name;
    std::function<Value(CallArgs&)> call;
};

// Runtime objects with attributes (loop, namespace, cycler).
class Object {
  public:
    virtual ~Object() = default;
    virtual const char* type_name() const = 0;
    virtual Value get_attr(std::string_view name) = 0;
    // Only namespaces accept `set obj.attr = value`; false means "not assignable".
    virtual bool set_attr(const std::string& name, Value value) { return false; }
    virtual std::string repr(int depth) const;
};

// Python semantics used across the interpreter.
bool truthy(const Value& v);
bool equals(const Value& a, const Value& b);
// <0, 0, >0 as Python's ordering; raises TypeError for unorderable pairs.
int compare(const Value& a, const Value& b);
// str(v) and repr(v); Undefined prints as "". Raise past max_bytes of text, which bounds
// values that share sub-lists many times over.
constexpr size_t kMaxTextBytes = size_t(64) << 20;
std::string to_str(const Value& v, size_t max_bytes = kMaxTextBytes);
std::string repr(const Value& v, int depth = 0, size_t max_bytes = kMaxTextBytes);
std::string type_name(const Value& v);  // Python's type(v).__name__

}  // namespace citadel::jinja
