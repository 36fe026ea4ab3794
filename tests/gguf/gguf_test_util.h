// Helpers for the GGUF tests: a byte builder for hand-made (often broken) files and a
// scratch directory that removes itself.
#pragma once

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"

namespace citadel::gguf::testing {

class Raw {
  public:
    template <typename T>
    Raw& put(T v) {
        const size_t at = bytes.size();
        bytes.resize(at + sizeof(T));
        std::memcpy(bytes.data() + at, &v, sizeof(T));
        return *this;
    }
    Raw& str(std::string_view s) {
        put(uint64_t(s.size()));
        bytes.insert(bytes.end(), s.begin(), s.end());
        return *this;
    }
    Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        bytes.insert(bytes.end(), {'G', 'G', 'U', 'F'});
        return put(version).put(n_tensors).put(n_kv);
    }
    Raw& kv_u32(std::string_view key, uint32_t v) {
        return str(key).put(uint32_t(ValueType::U32)).put(v);
    }
    Raw& kv_str(std::string_view key, std::string_view v) {
        return str(key).put(uint32_t(ValueType::STRING)).str(v);
    }
    Raw& tensor(std::string_view name, const std::vector<uint64_t>& dims, uint32_t type,
                uint64_t offset) {
        str(name).put(uint32_t(dims.size()));
        for (uint64_t d : dims) put(d);
        return put(type).put(offset);
    }
    Raw& pad(size_t alignment) {
        bytes.resize((bytes.size() + alignment - 1) / alignment * alignment);
        return *this;
    }
    Raw& zeros(size_t n) {
        bytes.resize(bytes.size() + n);
        return *this;
    }
    std::vector<uint8_t> bytes;
};

class TempDir {
  public:
    TempDir() {
        std::string tmpl = (std::filesystem::temp_directory_path() / "gguf_test.XXXXXX").string();
        path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
    }
    ~TempDir() {
        std::error_code ec;
        if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    }
    std::string file(std::string_view name) const { return path_ + "/" + std::string(name); }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
};

}  // namespace citadel::gguf::testing
