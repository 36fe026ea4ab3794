// GGUF files: a validated, memory-mapped reader and a streaming writer.
//
// Layout (v2/v3, little endian): magic "GGUF", u32 version, u64 tensor count, u64 metadata
// count, the metadata key/value pairs, the tensor infos (name, dims, type, offset), padding
// to `general.alignment` (default 32), then the tensor data. Tensor offsets are relative to
// the start of the data section. Dimension 0 is the fastest-varying (a row).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/status.h"
#include "tensor/dtype.h"

namespace citadel::gguf {

enum class ValueType : uint32_t {
    U8 = 0,
    I8 = 1,
    U16 = 2,
    I16 = 3,
    U32 = 4,
    I32 = 5,
    F32 = 6,
    BOOL = 7,
    STRING = 8,
    ARRAY = 9,
    U64 = 10,
    I64 = 11,
    F64 = 12,
};
const char* value_type_name(ValueType t);

struct Value;
struct Array {
    ValueType elem_type = ValueType::U8;
    std::vector<Value> items;
};

// One metadata value. Integers keep their declared type in `type`; the payload is widened.
struct Value {
    ValueType type = ValueType::U8;
    std::variant<uint64_t, int64_t, double, bool, std::string, Array> data;

    static Value u32(uint32_t v) { return {ValueType::U32, uint64_t(v)}; }
    static Value u64(uint64_t v) { return {ValueType::U64, v}; }
    static Value i32(int32_t v) { return {ValueType::I32, int64_t(v)}; }
    static Value f32(float v) { return {ValueType::F32, double(v)}; }
    static Value boolean(bool v) { return {ValueType::BOOL, v}; }
    static Value string(std::string v) { return {ValueType::STRING, std::move(v)}; }
    static Value array(ValueType elem, std::vector<Value> items) {
        return {ValueType::ARRAY, Array{elem, std::move(items)}};
    }
    static Value string_array(const std::vector<std::string>& v);
    static Value f32_array(const std::vector<float>& v);
    static Value i32_array(const std::vector<int32_t>& v);

    std::optional<int64_t> as_int() const;   // any integer type (u64 above int64 max: none)
    std::optional<double> as_float() const;  // any float or integer type
    std::optional<bool> as_bool() const;
    const std::string* as_string() const;
    const Array* as_array() const;
};

struct TensorInfo {
    std::string name;
    std::vector<int64_t> dims;  // dims[0] is the row length
    DType type = DType::F32;
    uint64_t offset = 0;            // from the start of the data section
    const uint8_t* data = nullptr;  // into the mapping (reader only)
    size_t n_bytes = 0;

    int64_t n_elements() const;
    int64_t n_rows() const { return dims.empty() ? 0 : n_elements() / dims[0]; }
};

class File {
  public:
    // Opens, maps and validates the whole file. Errors name the file and the problem.
    static Result<std::shared_ptr<const File>> open(const std::string& path);
    // Same checks on bytes in memory (no copy; `bytes` must outlive the File). For fuzzing.
    static Result<std::shared_ptr<const File>> parse(const uint8_t* bytes, size_t size,
                                                     const std::string& name);
    ~File();
    File(const File&) = delete;
    File& operator=(const File&) = delete;

    const std::string& path() const { return path_; }
    uint32_t version() const { return version_; }
    size_t alignment() const { return alignment_; }
    size_t file_size() const { return size_; }
    size_t data_offset() const { return data_offset_; }

    const std::vector<std::pair<std::string, Value>>& metadata() const { return kv_; }
    const Value* find(std::string_view key) const;
    std::optional<int64_t> get_int(std::string_view key) const;
    std::optional<double> get_float(std::string_view key) const;
    std::optional<bool> get_bool(std::string_view key) const;
    std::optional<std::string> get_string(std::string_view key) const;

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;

  private:
    File() = default;
    friend class Parser;
    std::string path_;
    uint32_t version_ = 0;
    size_t alignment_ = 32;
    size_t size_ = 0;
    size_t data_offset_ = 0;
    const uint8_t* base_ = nullptr;
    void* mapping_ = nullptr;  // owned mmap, or null when parsing caller memory
    std::vector<std::pair<std::string, Value>> kv_;
    std::map<std::string, size_t, std::less<>> kv_index_;
    std::vector<TensorInfo> tensors_;
    std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Writes GGUF v3. Tensor bytes are produced on demand while writing, so a quantizer never
// holds the whole output in memory.
class Writer {
  public:
    using FillFn = std::function<void(uint8_t* dst, size_t n_bytes)>;

    // Replaces an existing key, keeps order. Setting "general.alignment" = set_alignment().
    void set(const std::string& key, Value value);
    // Power of two; written as "general.alignment" whenever it is not the default 32.
    void set_alignment(size_t alignment) { alignment_ = alignment; }
    // dims[0] is the row length; bytes = row_bytes(type, dims[0]) * rows.
    void add_tensor(const std::string& name, std::vector<int64_t> dims, DType type, FillFn fill);
    // Copy of bytes that outlive the write() call.
    void add_tensor(const std::string& name, std::vector<int64_t> dims, DType type,
                    const void* bytes);
    Status write(const std::string& path) const;

  private:
    struct Pending {
        std::string name;
        std::vector<int64_t> dims;
        DType type;
        FillFn fill;
    };
    size_t alignment_ = 32;
    std::vector<std::pair<std::string, Value>> kv_;
    std::vector<Pending> tensors_;
};

}  // namespace citadel::gguf
