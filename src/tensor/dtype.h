// Element types of GGUF tensors. Numeric values are the GGUF on-disk type ids.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace citadel {

enum class DType : uint32_t {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    BF16 = 30,
};

struct DTypeInfo {
    const char* name;     // lower-case, as llama.cpp prints it: "q4_K", "f16"
    int64_t block_elems;  // elements per block (1 for plain types)
    size_t block_bytes;   // bytes per block
    bool computable;      // we have dequantize + matmul kernels for it
};

// Info for any GGUF type id we know the layout of (including ones we cannot compute with);
// nullopt for ids that are unknown or were removed from the format.
std::optional<DTypeInfo> dtype_info(uint32_t gguf_type_id);
const DTypeInfo& dtype_info(DType t);
inline const char* dtype_name(DType t) {
    return dtype_info(t).name;
}
std::optional<DType> dtype_from_name(std::string_view name);  // case-insensitive

// Bytes of a row of n elements; n must be a multiple of the block size.
inline size_t row_bytes(DType t, int64_t n) {
    const DTypeInfo& i = dtype_info(t);
    return size_t(n / i.block_elems) * i.block_bytes;
}

}  // namespace citadel
