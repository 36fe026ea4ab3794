// Internal to src/gguf: on-disk constants shared by the parser and the writer, and the
// parser entry point that File::open / File::parse call.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "gguf/gguf.h"

namespace citadel::gguf {

static_assert(std::endian::native == std::endian::little, "GGUF is read as little endian");

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint32_t kWriteVersion = 3;
inline constexpr size_t kHeaderBytes = 24;  // magic, version, tensor count, kv count
inline constexpr size_t kDefaultAlignment = 32;
inline constexpr uint64_t kMaxAlignment = uint64_t(1) << 31;  // largest u32 power of two
inline constexpr int kMaxArrayDepth = 8;  // arrays of arrays nest at most this deep
inline constexpr uint32_t kMaxDims = 4;
inline constexpr const char* kAlignmentKey = "general.alignment";

// Bytes one element of `t` takes on disk at least (0 for an unknown type).
size_t min_value_bytes(ValueType t);
bool is_known_value_type(uint32_t t);
inline bool is_power_of_two(uint64_t v) {
    return v != 0 && (v & (v - 1)) == 0;
}

class Parser {
  public:
    // Validates `bytes` as a whole GGUF file. Errors start with `name`.
    static Result<std::shared_ptr<File>> run(const uint8_t* bytes, size_t size,
                                             const std::string& name);
};

}  // namespace citadel::gguf
