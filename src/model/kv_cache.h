// Keys and values of past positions in one arena of fixed-size blocks (paged KV cache).
// A sequence owns a block table: position p lives in row p % block_size of block
// table[p / block_size]. Which sequence owns which block is decided elsewhere (the serving
// engine's block pool, or ForwardState's fixed slots); this class only stores rows.
// Rows are F16 (default) or Q8_0 (half the memory; attention dequantizes a block at a time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "model/hparams.h"
#include "tensor/kernels.h"

namespace citadel {

enum class KvType { kF16, kQ8_0 };

Result<KvType> parse_kv_type(const std::string& name);  // "f16" | "q8_0"
const char* kv_type_name(KvType t);

struct KvCacheConfig {
    int64_t n_blocks = 0;
    int block_size = 16;
    KvType type = KvType::kF16;
};

class KvCache {
  public:
    KvCache(const HParams& hp, const KvCacheConfig& config);

    // Bytes one block takes over all layers (keys and values).
    static size_t block_bytes(const HParams& hp, int block_size, KvType type);
    // Checks the head sizes suit the row type (Q8_0 needs head sizes divisible by 32).
    static Status check(const HParams& hp, KvType type);

    int64_t n_blocks() const { return n_blocks_; }
    int block_size() const { return block_size_; }
    KvType type() const { return type_; }
    size_t bytes() const { return arena_.size(); }

    // Row `row` of block `block` in `layer`: keys and values of one position.
    uint8_t* k_row(int64_t layer, int64_t block, int64_t row) {
        return &arena_[offset(layer, block, row, k_row_bytes_, 0)];
    }
    uint8_t* v_row(int64_t layer, int64_t block, int64_t row) {
        return &arena_[offset(layer, block, row, v_row_bytes_, k_layer_bytes())];
    }
    size_t k_row_bytes() const { return k_row_bytes_; }
    size_t v_row_bytes() const { return v_row_bytes_; }

    // Converts one position's keys and values (F32) to the row type and stores them.
    void store(int64_t layer, int64_t block, int64_t row, const float* k, const float* v,
               const KernelTable& kernels);

    // Keys (or values) of one head for rows [0, n) of a block as F16, head_size elements
    // each, row_stride elements apart. F16 rows are returned in place (row_stride = the
    // row's width); Q8_0 rows are dequantized into `scratch` (row_stride = head_size).
    const uint16_t* k_head_f16(int64_t layer, int64_t block, int64_t head, int64_t n,
                               uint16_t* scratch, int64_t* row_stride) const;
    const uint16_t* v_head_f16(int64_t layer, int64_t block, int64_t head, int64_t n,
                               uint16_t* scratch, int64_t* row_stride) const;

  private:
    size_t k_layer_bytes() const { return size_t(n_blocks_ * block_size_) * k_row_bytes_; }
    size_t layer_bytes() const {
        return size_t(n_blocks_ * block_size_) * (k_row_bytes_ + v_row_bytes_);
    }
    size_t offset(int64_t layer, int64_t block, int64_t row, size_t row_bytes, size_t part) const {
        return size_t(layer) * layer_bytes() + part + size_t(block * block_size_ + row) * row_bytes;
    }
    const uint16_t* head_f16(const uint8_t* row0, size_t row_bytes, int64_t head, int64_t head_size,
                             int64_t n, uint16_t* scratch, int64_t* row_stride) const;

    int64_t n_blocks_;
    int block_size_;
    KvType type_;
    int64_t kv_dim_;
    int64_t v_dim_;
    int64_t head_dim_;
    int64_t head_dim_v_;
    size_t k_row_bytes_;
    size_t v_row_bytes_;
    std::vector<uint8_t> arena_;  // [n_layer][keys: n_blocks*block_size rows | values: same]
};

}  // namespace citadel
