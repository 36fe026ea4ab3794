// Validating GGUF parser over bytes in memory. Every field is bounds-checked before it is
// read, every count is checked against the bytes left before anything is allocated for it,
// and every failure is a Status naming the file and the problem; bad input never crashes.
#include <algorithm>
#include <cstring>
#include <limits>

#include "gguf/format.h"

namespace citadel::gguf {
namespace {

// A key or tensor name made safe to print: non-printable bytes escaped, long names cut.
std::string quoted(std::string_view s) {
    constexpr size_t kMaxShown = 80;
    std::string out = "'";
    for (size_t i = 0; i < s.size() && i < kMaxShown; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f) {
            out += char(c);
        } else {
            static const char* kHex = "0123456789abcdef";
            out += "\\x";
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    if (s.size() > kMaxShown) out += "...";
    return out + "'";
}

std::string str(uint64_t v) {
    return std::to_string(v);
}

// Everything parsed, moved into the File once the whole input has validated.
struct Parsed {
    uint32_t version = 0;
    size_t alignment = kDefaultAlignment;
    size_t data_offset = 0;
    std::vector<std::pair<std::string, Value>> kv;
    std::map<std::string, size_t, std::less<>> kv_index;
    std::vector<TensorInfo> tensors;
    std::map<std::string, size_t, std::less<>> tensor_index;
};

class Parse {
  public:
    Parse(const uint8_t* bytes, size_t size, const std::string& name)
        : bytes_(bytes), size_(size), name_(name) {}
    Status run(Parsed& out);

  private:
    Status fail(const std::string& problem) const { return Status::error(name_ + ": " + problem); }
    Status truncated(const std::string& what) const {
        return fail("truncated: the file ends (at " + str(size_) + " bytes) while reading " + what);
    }
    size_t remaining() const { return size_ - pos_; }
    template <typename T>
    bool read(T& out) {
        if (remaining() < sizeof(T)) return false;
        std::memcpy(&out, bytes_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return true;
    }
    Status read_header(Parsed& out, uint64_t& n_tensors, uint64_t& n_kv);
    Status read_string(std::string& out, const char* what, std::string_view owner);
    Status read_metadata(uint64_t n_kv, Parsed& out);
    Status read_value(ValueType type, int depth, std::string_view key, Value& out);
    Status read_scalar(ValueType type, std::string_view key, Value& out);
    Status read_array(int depth, std::string_view key, Value& out);
    Status read_alignment(Parsed& out);
    Status read_tensor_infos(uint64_t n_tensors, Parsed& out);
    Status read_tensor_info(uint64_t index, TensorInfo& t);
    Status check_shape(TensorInfo& t, uint32_t type_id);
    Status place_tensors(Parsed& out);
    Status check_overlaps(const std::vector<TensorInfo>& tensors);

    const uint8_t* bytes_;
    size_t size_;
    size_t pos_ = 0;
    const std::string& name_;
};

Status Parse::run(Parsed& out) {
    uint64_t n_tensors = 0, n_kv = 0;
    CITADEL_TRY(read_header(out, n_tensors, n_kv));
    CITADEL_TRY(read_metadata(n_kv, out));
    CITADEL_TRY(read_alignment(out));
    CITADEL_TRY(read_tensor_infos(n_tensors, out));
    return place_tensors(out);
}

Status Parse::read_header(Parsed& out, uint64_t& n_tensors, uint64_t& n_kv) {
    uint32_t magic = 0;
    if (!read(magic)) return fail("too small to be a GGUF file (" + str(size_) + " bytes)");
    if (magic != kMagic) {
        return fail("not a GGUF file (it does not start with the magic bytes \"GGUF\")");
    }
    if (size_ < kHeaderBytes) {
        return fail("too small to be a GGUF file (" + str(size_) + " bytes; the header alone is " +
                    str(kHeaderBytes) + ")");
    }
    uint32_t version = 0;
    read(version);
    if (version == 1) {
        return fail(
            "GGUF version 1 is not supported (only versions 2 and 3 are); "
            "convert the file with a current llama.cpp");
    }
    const uint32_t swapped = __builtin_bswap32(version);
    if (swapped >= 1 && swapped <= 3) return fail("big-endian GGUF files are not supported");
    if (version != 2 && version != 3) {
        return fail("unsupported GGUF version " + str(version) + " (only 2 and 3 are supported)");
    }
    out.version = version;
    read(n_tensors);
    read(n_kv);
    return ok_status();
}

Status Parse::read_string(std::string& out, const char* what, std::string_view owner) {
    const std::string ctx = std::string(what) + (owner.empty() ? "" : " " + quoted(owner));
    uint64_t len = 0;
    if (!read(len)) return truncated("the length of " + ctx);
    if (len > remaining()) {
        return fail("truncated: " + ctx + " claims " + str(len) + " bytes but only " +
                    str(remaining()) + " remain");
    }
    out.assign(reinterpret_cast<const char*>(bytes_ + pos_), size_t(len));
    pos_ += size_t(len);
    return ok_status();
}

Status Parse::read_metadata(uint64_t n_kv, Parsed& out) {
    // Smallest entry: u64 key length, empty key, u32 type, 1-byte value.
    constexpr uint64_t kMinEntryBytes = 8 + 4 + 1;
    if (n_kv > remaining() / kMinEntryBytes) {
        return fail("metadata count " + str(n_kv) + " cannot fit in the remaining " +
                    str(remaining()) + " bytes (corrupt or truncated file)");
    }
    out.kv.reserve(size_t(n_kv));
    for (uint64_t i = 0; i < n_kv; ++i) {
        std::string key;
        const std::string entry = "metadata entry " + str(i);
        CITADEL_TRY(read_string(key, ("the key of " + entry).c_str(), {}));
        uint32_t type = 0;
        if (!read(type)) return truncated("the value type of key " + quoted(key));
        if (!is_known_value_type(type)) {
            return fail("key " + quoted(key) + " has unknown value type " + str(type));
        }
        Value value;
        CITADEL_TRY(read_value(ValueType(type), 0, key, value));
        if (!out.kv_index.emplace(key, out.kv.size()).second) {
            return fail("duplicate metadata key " + quoted(key));
        }
        out.kv.emplace_back(std::move(key), std::move(value));
    }
    return ok_status();
}

Status Parse::read_value(ValueType type, int depth, std::string_view key, Value& out) {
    if (type == ValueType::ARRAY) return read_array(depth, key, out);
    if (type == ValueType::STRING) {
        out.type = type;
        std::string s;
        CITADEL_TRY(read_string(s, "a string value of key", key));
        out.data = std::move(s);
        return ok_status();
    }
    return read_scalar(type, key, out);
}

Status Parse::read_scalar(ValueType type, std::string_view key, Value& out) {
    out.type = type;
    bool ok = true;
    switch (type) {
        // clang-format off
        case ValueType::U8: { uint8_t v = 0; ok = read(v); out.data = uint64_t(v); break; }
        case ValueType::I8: { int8_t v = 0; ok = read(v); out.data = int64_t(v); break; }
        case ValueType::U16: { uint16_t v = 0; ok = read(v); out.data = uint64_t(v); break; }
        case ValueType::I16: { int16_t v = 0; ok = read(v); out.data = int64_t(v); break; }
        case ValueType::U32: { uint32_t v = 0; ok = read(v); out.data = uint64_t(v); break; }
        case ValueType::I32: { int32_t v = 0; ok = read(v); out.data = int64_t(v); break; }
        case ValueType::U64: { uint64_t v = 0; ok = read(v); out.data = v; break; }
        case ValueType::I64: { int64_t v = 0; ok = read(v); out.data = v; break; }
        case ValueType::F32: { float v = 0; ok = read(v); out.data = double(v); break; }
        case ValueType::F64: { double v = 0; ok = read(v); out.data = v; break; }
        case ValueType::BOOL: { uint8_t v = 0; ok = read(v); out.data = v != 0; break; }
        // clang-format on
        default:
            return fail("key " + quoted(key) + " has an unknown value type");
    }
    if (!ok)
        return truncated(std::string("a ") + value_type_name(type) + " value of key " +
                         quoted(key));
    return ok_status();
}

Status Parse::read_array(int depth, std::string_view key, Value& out) {
    if (depth >= kMaxArrayDepth) {
        return fail("key " + quoted(key) + ": arrays nested deeper than " + str(kMaxArrayDepth) +
                    " levels");
    }
    uint32_t elem = 0;
    uint64_t count = 0;
    if (!read(elem)) return truncated("the element type of array key " + quoted(key));
    if (!is_known_value_type(elem)) {
        return fail("array key " + quoted(key) + " has unknown element type " + str(elem));
    }
    if (!read(count)) return truncated("the length of array key " + quoted(key));
    const size_t min_bytes = min_value_bytes(ValueType(elem));
    if (count > remaining() / min_bytes) {
        return fail("array key " + quoted(key) + ": length " + str(count) +
                    " cannot fit in the remaining " + str(remaining()) +
                    " bytes (corrupt or truncated file)");
    }
    out.type = ValueType::ARRAY;
    Array& array = out.data.emplace<Array>();
    array.elem_type = ValueType(elem);
    array.items.resize(size_t(count));
    for (Value& item : array.items) {
        CITADEL_TRY(read_value(array.elem_type, depth + 1, key, item));
    }
    return ok_status();
}

Status Parse::read_alignment(Parsed& out) {
    auto it = out.kv_index.find(std::string_view(kAlignmentKey));
    if (it == out.kv_index.end()) return ok_status();
    const Value& v = out.kv[it->second].second;
    const std::optional<int64_t> a = v.as_int();
    if (!a) {
        return fail(std::string(kAlignmentKey) + " must be an integer, not " +
                    value_type_name(v.type));
    }
    if (*a <= 0 || !is_power_of_two(uint64_t(*a)) || uint64_t(*a) > kMaxAlignment) {
        return fail(std::string(kAlignmentKey) + " is " + std::to_string(*a) +
                    " (must be a non-zero power of two, at most 2^31)");
    }
    out.alignment = size_t(*a);
    return ok_status();
}

Status Parse::read_tensor_infos(uint64_t n_tensors, Parsed& out) {
    // Smallest info: u64 name length, u32 n_dims, one u64 dim, u32 type, u64 offset.
    constexpr uint64_t kMinInfoBytes = 8 + 4 + 8 + 4 + 8;
    if (n_tensors > remaining() / kMinInfoBytes) {
        return fail("tensor count " + str(n_tensors) + " cannot fit in the remaining " +
                    str(remaining()) + " bytes (corrupt or truncated file)");
    }
    out.tensors.resize(size_t(n_tensors));
    for (uint64_t i = 0; i < n_tensors; ++i) {
        TensorInfo& t = out.tensors[size_t(i)];
        CITADEL_TRY(read_tensor_info(i, t));
        if (!out.tensor_index.emplace(t.name, size_t(i)).second) {
            return fail("duplicate tensor name " + quoted(t.name));
        }
    }
    return ok_status();
}

Status Parse::read_tensor_info(uint64_t index, TensorInfo& t) {
    CITADEL_TRY(read_string(t.name, ("the name of tensor " + str(index)).c_str(), {}));
    const std::string who = "tensor " + quoted(t.name);
    uint32_t n_dims = 0;
    if (!read(n_dims)) return truncated("the dimension count of " + who);
    if (n_dims == 0 || n_dims > kMaxDims) {
        return fail(who + " has n_dims " + str(n_dims) + " (must be 1 to " + str(kMaxDims) + ")");
    }
    t.dims.resize(n_dims);
    for (uint32_t d = 0; d < n_dims; ++d) {
        uint64_t dim = 0;
        if (!read(dim)) return truncated("the dimensions of " + who);
        if (dim == 0 || dim > uint64_t(std::numeric_limits<int64_t>::max())) {
            return fail(who + " has dimension " + str(d) + " = " + str(dim) +
                        " (must be positive)");
        }
        t.dims[d] = int64_t(dim);
    }
    uint32_t type_id = 0;
    if (!read(type_id)) return truncated("the type of " + who);
    if (!read(t.offset)) return truncated("the data offset of " + who);
    return check_shape(t, type_id);
}

Status Parse::check_shape(TensorInfo& t, uint32_t type_id) {
    const std::string who = "tensor " + quoted(t.name);
    const std::optional<DTypeInfo> info = dtype_info(type_id);
    if (!info) return fail(who + " has unknown tensor type id " + str(type_id));
    t.type = DType(type_id);
    int64_t n = 1;
    for (int64_t d : t.dims) {
        if (__builtin_mul_overflow(n, d, &n)) return fail(who + ": element count overflows");
    }
    if (t.dims[0] % info->block_elems != 0) {
        return fail(who + " (" + info->name + "): row length " + str(uint64_t(t.dims[0])) +
                    " is not a multiple of the block size " + str(uint64_t(info->block_elems)));
    }
    uint64_t n_bytes = 0;
    if (__builtin_mul_overflow(uint64_t(n / info->block_elems), uint64_t(info->block_bytes),
                               &n_bytes)) {
        return fail(who + ": byte size overflows");
    }
    t.n_bytes = size_t(n_bytes);
    return ok_status();
}

Status Parse::place_tensors(Parsed& out) {
    const uint64_t a = out.alignment;
    const uint64_t start = (uint64_t(pos_) + a - 1) / a * a;  // pos_ <= size_, a <= 2^31
    if (out.tensors.empty()) {
        out.data_offset = size_t(std::min<uint64_t>(start, size_));
        return ok_status();
    }
    if (start > size_) {
        return truncated("the padding before the tensor data (which would start at byte " +
                         str(start) + ")");
    }
    out.data_offset = size_t(start);
    const uint64_t data_bytes = size_ - start;
    for (TensorInfo& t : out.tensors) {
        const std::string who = "tensor " + quoted(t.name);
        if (t.offset % a != 0) {
            return fail(who + ": offset " + str(t.offset) + " is not aligned to " + str(a) +
                        " bytes");
        }
        if (t.offset > data_bytes || t.n_bytes > data_bytes - t.offset) {
            return fail(who + ": data at offset " + str(t.offset) + " (+" + str(t.n_bytes) +
                        " bytes) lies outside the file's " + str(data_bytes) +
                        " bytes of tensor data (data out of range; truncated file?)");
        }
        t.data = bytes_ + start + t.offset;
    }
    return check_overlaps(out.tensors);
}

Status Parse::check_overlaps(const std::vector<TensorInfo>& tensors) {
    std::vector<const TensorInfo*> order;
    order.reserve(tensors.size());
    for (const TensorInfo& t : tensors) order.push_back(&t);
    std::sort(order.begin(), order.end(),
              [](const TensorInfo* x, const TensorInfo* y) { return x->offset < y->offset; });
    for (size_t i = 1; i < order.size(); ++i) {
        const TensorInfo& prev = *order[i - 1];
        const TensorInfo& next = *order[i];
        if (prev.offset + prev.n_bytes > next.offset) {
            return fail("tensors " + quoted(prev.name) + " and " + quoted(next.name) +
                        " overlap (offsets " + str(prev.offset) + "+" + str(prev.n_bytes) +
                        " and " + str(next.offset) + ")");
        }
    }
    return ok_status();
}

}  // namespace

Result<std::shared_ptr<File>> Parser::run(const uint8_t* bytes, size_t size,
                                          const std::string& name) {
    Parsed parsed;
    CITADEL_TRY(Parse(bytes, size, name).run(parsed));
    std::shared_ptr<File> file(new File());
    file->path_ = name;
    file->version_ = parsed.version;
    file->alignment_ = parsed.alignment;
    file->size_ = size;
    file->data_offset_ = parsed.data_offset;
    file->base_ = bytes;
    file->kv_ = std::move(parsed.kv);
    file->kv_index_ = std::move(parsed.kv_index);
    file->tensors_ = std::move(parsed.tensors);
    file->tensor_index_ = std::move(parsed.tensor_index);
    return file;
}

Result<std::shared_ptr<const File>> File::parse(const uint8_t* bytes, size_t size,
                                                const std::string& name) {
    Result<std::shared_ptr<File>> r = Parser::run(bytes, size, name);
    if (!r) return r.status();
    return std::shared_ptr<const File>(std::move(r).value());
}

}  // namespace citadel::gguf
