// Metadata values, tensor infos and the File accessors (everything but parsing and I/O).
#include <limits>

#include "gguf/format.h"
#include "gguf/gguf.h"

namespace citadel::gguf {

const char* value_type_name(ValueType t) {
    switch (t) {
        case ValueType::U8:
            return "u8";
        case ValueType::I8:
            return "i8";
        case ValueType::U16:
            return "u16";
        case ValueType::I16:
            return "i16";
        case ValueType::U32:
            return "u32";
        case ValueType::I32:
            return "i32";
        case ValueType::F32:
            return "f32";
        case ValueType::BOOL:
            return "bool";
        case ValueType::STRING:
            return "string";
        case ValueType::ARRAY:
            return "array";
        case ValueType::U64:
            return "u64";
        case ValueType::I64:
            return "i64";
        case ValueType::F64:
            return "f64";
    }
    return "unknown";
}

bool is_known_value_type(uint32_t t) {
    return t <= static_cast<uint32_t>(ValueType::F64);
}

size_t min_value_bytes(ValueType t) {
    switch (t) {
        case ValueType::U8:
        case ValueType::I8:
        case ValueType::BOOL:
            return 1;
        case ValueType::U16:
        case ValueType::I16:
            return 2;
        case ValueType::U32:
        case ValueType::I32:
        case ValueType::F32:
            return 4;
        case ValueType::U64:
        case ValueType::I64:
        case ValueType::F64:
        case ValueType::STRING:
            return 8;  // a string is at least its u64 length
        case ValueType::ARRAY:
            return 12;  // u32 element type + u64 length
    }
    return 0;
}

Value Value::string_array(const std::vector<std::string>& v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (const std::string& s : v) items.push_back(Value::string(s));
    return array(ValueType::STRING, std::move(items));
}

Value Value::f32_array(const std::vector<float>& v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (float f : v) items.push_back(Value::f32(f));
    return array(ValueType::F32, std::move(items));
}

Value Value::i32_array(const std::vector<int32_t>& v) {
    std::vector<Value> items;
    items.reserve(v.size());
    for (int32_t i : v) items.push_back(Value::i32(i));
    return array(ValueType::I32, std::move(items));
}

namespace {

bool is_integer_type(ValueType t) {
    switch (t) {
        case ValueType::U8:
        case ValueType::I8:
        case ValueType::U16:
        case ValueType::I16:
        case ValueType::U32:
        case ValueType::I32:
        case ValueType::U64:
        case ValueType::I64:
            return true;
        default:
            return false;
    }
}

}  // namespace

std::optional<int64_t> Value::as_int() const {
    if (!is_integer_type(type)) return std::nullopt;
    if (const auto* u = std::get_if<uint64_t>(&data)) {
        if (*u > uint64_t(std::numeric_limits<int64_t>::max())) return std::nullopt;
        return int64_t(*u);
    }
    if (const auto* i = std::get_if<int64_t>(&data)) return *i;
    return std::nullopt;
}

std::optional<double> Value::as_float() const {
    if (type == ValueType::F32 || type == ValueType::F64) {
        if (const auto* d = std::get_if<double>(&data)) return *d;
        return std::nullopt;
    }
    if (!is_integer_type(type)) return std::nullopt;
    if (const auto* u = std::get_if<uint64_t>(&data)) return double(*u);
    if (const auto* i = std::get_if<int64_t>(&data)) return double(*i);
    return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
    if (type != ValueType::BOOL) return std::nullopt;
    if (const auto* b = std::get_if<bool>(&data)) return *b;
    return std::nullopt;
}

const std::string* Value::as_string() const {
    return type == ValueType::STRING ? std::get_if<std::string>(&data) : nullptr;
}

const Array* Value::as_array() const {
    return type == ValueType::ARRAY ? std::get_if<Array>(&data) : nullptr;
}

int64_t TensorInfo::n_elements() const {
    if (dims.empty()) return 0;
    int64_t n = 1;
    for (int64_t d : dims) n *= d;
    return n;
}

const Value* File::find(std::string_view key) const {
    auto it = kv_index_.find(key);
    return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

std::optional<int64_t> File::get_int(std::string_view key) const {
    const Value* v = find(key);
    return v ? v->as_int() : std::nullopt;
}

std::optional<double> File::get_float(std::string_view key) const {
    const Value* v = find(key);
    return v ? v->as_float() : std::nullopt;
}

std::optional<bool> File::get_bool(std::string_view key) const {
    const Value* v = find(key);
    return v ? v->as_bool() : std::nullopt;
}

std::optional<std::string> File::get_string(std::string_view key) const {
    const Value* v = find(key);
    const std::string* s = v ? v->as_string() : nullptr;
    return s ? std::optional<std::string>(*s) : std::nullopt;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

}  // namespace citadel::gguf
