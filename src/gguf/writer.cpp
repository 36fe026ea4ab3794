// Writer: serialises the header and tensor infos in memory (they are small), then streams
// each tensor's bytes from its FillFn into `path.tmp`, and renames that over `path` only
// once everything has been written and synced.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <set>
#include <system_error>

#include "gguf/format.h"

namespace citadel::gguf {
namespace {

std::string errno_text(int err) {
    return std::generic_category().message(err);
}

class Bytes {
  public:
    template <typename T>
    void put(T v) {
        const size_t at = buf_.size();
        buf_.resize(at + sizeof(T));
        std::memcpy(buf_.data() + at, &v, sizeof(T));
    }
    void put_string(std::string_view s) {
        put(uint64_t(s.size()));
        buf_.insert(buf_.end(), s.begin(), s.end());
    }
    void pad_to(size_t alignment) {
        buf_.resize((buf_.size() + alignment - 1) / alignment * alignment);
    }
    std::vector<uint8_t>& data() { return buf_; }

  private:
    std::vector<uint8_t> buf_;
};

// Integer payload of `v` if it fits in [lo, hi].
template <typename T>
std::optional<T> int_in_range(const Value& v) {
    using L = std::numeric_limits<T>;
    if (const auto* u = std::get_if<uint64_t>(&v.data)) {
        if (*u <= uint64_t(L::max())) return T(*u);
    } else if (const auto* i = std::get_if<int64_t>(&v.data)) {
        if (*i >= int64_t(L::min()) && (*i < 0 || uint64_t(*i) <= uint64_t(L::max()))) {
            return T(*i);
        }
    }
    return std::nullopt;
}

template <typename T>
bool put_int(Bytes& out, const Value& v) {
    const std::optional<T> x = int_in_range<T>(v);
    if (x) out.put(*x);
    return x.has_value();
}

bool put_scalar(Bytes& out, const Value& v) {
    switch (v.type) {
        case ValueType::U8:
            return put_int<uint8_t>(out, v);
        case ValueType::I8:
            return put_int<int8_t>(out, v);
        case ValueType::U16:
            return put_int<uint16_t>(out, v);
        case ValueType::I16:
            return put_int<int16_t>(out, v);
        case ValueType::U32:
            return put_int<uint32_t>(out, v);
        case ValueType::I32:
            return put_int<int32_t>(out, v);
        case ValueType::U64:
            return put_int<uint64_t>(out, v);
        case ValueType::I64:
            return put_int<int64_t>(out, v);
        case ValueType::F32:
        case ValueType::F64: {
            const auto* d = std::get_if<double>(&v.data);
            if (!d) return false;
            if (v.type == ValueType::F32) out.put(float(*d));
            if (v.type == ValueType::F64) out.put(*d);
            return true;
        }
        case ValueType::BOOL: {
            const auto* b = std::get_if<bool>(&v.data);
            if (b) out.put(uint8_t(*b ? 1 : 0));
            return b != nullptr;
        }
        default:
            return false;
    }
}

// Serialises one value (its payload, not its type tag).
Status put_value(Bytes& out, const Value& v, std::string_view key, int depth) {
    auto bad = [&](const std::string& why) {
        return Status::error("gguf writer: key '" + std::string(key) + "': " + why);
    };
    if (v.type == ValueType::STRING) {
        const auto* s = std::get_if<std::string>(&v.data);
        if (!s) return bad("string value does not hold a string");
        out.put_string(*s);
        return ok_status();
    }
    if (v.type == ValueType::ARRAY) {
        const auto* a = std::get_if<Array>(&v.data);
        if (!a) return bad("array value does not hold an array");
        if (depth >= kMaxArrayDepth) return bad("arrays nested too deeply");
        out.put(uint32_t(a->elem_type));
        out.put(uint64_t(a->items.size()));
        for (const Value& item : a->items) {
            if (item.type != a->elem_type) {
                return bad(std::string("array of ") + value_type_name(a->elem_type) + " holds a " +
                           value_type_name(item.type));
            }
            CITADEL_TRY(put_value(out, item, key, depth + 1));
        }
        return ok_status();
    }
    if (!is_known_value_type(uint32_t(v.type))) return bad("unknown value type");
    if (!put_scalar(out, v)) {
        return bad(std::string("payload does not fit a ") + value_type_name(v.type));
    }
    return ok_status();
}

// An open `path.tmp` that is removed unless commit() renamed it over `path`.
class TempFile {
  public:
    explicit TempFile(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {}
    ~TempFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!committed_) ::unlink(tmp_.c_str());
    }
    Status open() {
        fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd_ < 0) return error("cannot create " + tmp_);
        return ok_status();
    }
    Status write(const uint8_t* p, size_t n) {
        while (n > 0) {
            const ssize_t w = ::write(fd_, p, n);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return error("cannot write " + tmp_);
            p += w;
            n -= size_t(w);
        }
        return ok_status();
    }
    Status commit() {
        if (::fsync(fd_) != 0) return error("cannot sync " + tmp_);
        const int fd = fd_;
        fd_ = -1;
        if (::close(fd) != 0) return error("cannot close " + tmp_);
        if (::rename(tmp_.c_str(), path_.c_str()) != 0) return error("cannot rename " + tmp_);
        committed_ = true;
        return ok_status();
    }

  private:
    Status error(const std::string& what) const {
        const int err = errno;
        return Status::error(path_ + ": " + what + ": " + errno_text(err == 0 ? EIO : err));
    }
    std::string path_, tmp_;
    int fd_ = -1;
    bool committed_ = false;
};

}  // namespace

void Writer::set(const std::string& key, Value value) {
    // Setting the alignment key is the same as set_alignment(); write() validates it.
    if (key == kAlignmentKey) {
        const std::optional<int64_t> a = value.as_int();
        alignment_ = a && *a > 0 ? size_t(*a) : 0;
    }
    for (auto& kv : kv_) {
        if (kv.first == key) {
            kv.second = std::move(value);
            return;
        }
    }
    kv_.emplace_back(key, std::move(value));
}

void Writer::add_tensor(const std::string& name, std::vector<int64_t> dims, DType type,
                        FillFn fill) {
    tensors_.push_back({name, std::move(dims), type, std::move(fill)});
}

void Writer::add_tensor(const std::string& name, std::vector<int64_t> dims, DType type,
                        const void* bytes) {
    const auto* src = static_cast<const uint8_t*>(bytes);
    add_tensor(name, std::move(dims), type,
               [src](uint8_t* dst, size_t n) { std::memcpy(dst, src, n); });
}

namespace {

// Bytes of a tensor, or an error naming what is wrong with its shape or type.
Result<size_t> tensor_bytes(const std::string& path, const std::string& name,
                            const std::vector<int64_t>& dims, DType type) {
    auto bad = [&](const std::string& why) {
        return Status::error(path + ": tensor '" + name + "': " + why);
    };
    const std::optional<DTypeInfo> info = dtype_info(uint32_t(type));
    if (!info) return bad("unknown type id " + std::to_string(uint32_t(type)));
    if (dims.empty() || dims.size() > kMaxDims) return bad("n_dims must be 1 to 4");
    int64_t n = 1;
    for (int64_t d : dims) {
        if (d <= 0) return bad("dimensions must be positive");
        if (__builtin_mul_overflow(n, d, &n)) return bad("element count overflows");
    }
    if (dims[0] % info->block_elems != 0) {
        return bad("row length " + std::to_string(dims[0]) + " is not a multiple of the " +
                   info->name + " block size " + std::to_string(info->block_elems));
    }
    size_t n_bytes = 0;
    if (__builtin_mul_overflow(size_t(n / info->block_elems), info->block_bytes, &n_bytes) ||
        n_bytes > (size_t(1) << 62)) {
        return bad("byte size overflows");
    }
    return n_bytes;
}

}  // namespace

Status Writer::write(const std::string& path) const {
    const size_t a = alignment_;
    if (!is_power_of_two(a) || a > kMaxAlignment) {
        return Status::error(path + ": alignment " + std::to_string(a) +
                             " must be a non-zero power of two");
    }
    // The alignment travels in the metadata whenever it is not the default.
    auto kv = kv_;
    bool have_alignment = false;
    for (auto& [key, value] : kv) {
        if (key == kAlignmentKey) {
            value = Value::u32(uint32_t(a));
            have_alignment = true;
        }
    }
    if (!have_alignment && a != kDefaultAlignment) kv.emplace_back(kAlignmentKey, Value::u32(a));

    Bytes head;
    head.put(kMagic);
    head.put(kWriteVersion);
    head.put(uint64_t(tensors_.size()));
    head.put(uint64_t(kv.size()));
    for (const auto& [key, value] : kv) {
        head.put_string(key);
        head.put(uint32_t(value.type));
        Status s = put_value(head, value, key, 0);
        if (!s.ok()) return Status::error(path + ": " + s.message());
    }
    std::vector<size_t> sizes;
    std::set<std::string, std::less<>> names;
    uint64_t offset = 0;
    for (const Pending& t : tensors_) {
        Result<size_t> n = tensor_bytes(path, t.name, t.dims, t.type);
        if (!n) return n.status();
        if (!names.insert(t.name).second) {
            return Status::error(path + ": duplicate tensor name '" + t.name + "'");
        }
        head.put_string(t.name);
        head.put(uint32_t(t.dims.size()));
        for (int64_t d : t.dims) head.put(uint64_t(d));
        head.put(uint32_t(t.type));
        head.put(offset);
        sizes.push_back(*n);
        offset += (*n + a - 1) / a * a;
    }
    head.pad_to(a);

    TempFile out(path);
    CITADEL_TRY(out.open());
    CITADEL_TRY(out.write(head.data().data(), head.data().size()));
    std::vector<uint8_t> buf;
    for (size_t i = 0; i < tensors_.size(); ++i) {
        const size_t padded = (sizes[i] + a - 1) / a * a;
        buf.assign(padded, 0);
        if (tensors_[i].fill) tensors_[i].fill(buf.data(), sizes[i]);
        CITADEL_TRY(out.write(buf.data(), padded));
    }
    return out.commit();
}

}  // namespace citadel::gguf
