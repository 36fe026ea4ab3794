#include "model/kv_cache.h"

#include <algorithm>

#include "core/fp16.h"
#include "tensor/blocks.h"
#include "tensor/dtype.h"

namespace citadel {
namespace {

size_t row_bytes_of(KvType type, int64_t n) {
    return type == KvType::kF16 ? size_t(n) * sizeof(uint16_t) : row_bytes(DType::Q8_0, n);
}

}  // namespace

Result<KvType> parse_kv_type(const std::string& name) {
    if (name == "f16") return KvType::kF16;
    if (name == "q8_0") return KvType::kQ8_0;
    return Status::error("unknown KV cache type '" + name + "' (expected f16 or q8_0)");
}

const char* kv_type_name(KvType t) {
    return t == KvType::kF16 ? "f16" : "q8_0";
}

size_t KvCache::block_bytes(const HParams& hp, int block_size, KvType type) {
    return size_t(hp.n_layer) * size_t(block_size) *
           (row_bytes_of(type, hp.kv_dim()) + row_bytes_of(type, hp.v_dim()));
}

Status KvCache::check(const HParams& hp, KvType type) {
    if (type == KvType::kQ8_0 && (hp.head_dim % kQK8_0 != 0 || hp.head_dim_v % kQK8_0 != 0)) {
        return Status::error("a q8_0 KV cache needs head sizes divisible by 32 (this model has " +
                             std::to_string(hp.head_dim) + "); use f16");
    }
    return ok_status();
}

KvCache::KvCache(const HParams& hp, const KvCacheConfig& c)
    : n_blocks_(c.n_blocks),
      block_size_(c.block_size),
      type_(c.type),
      kv_dim_(hp.kv_dim()),
      v_dim_(hp.v_dim()),
      head_dim_(hp.head_dim),
      head_dim_v_(hp.head_dim_v),
      k_row_bytes_(row_bytes_of(c.type, hp.kv_dim())),
      v_row_bytes_(row_bytes_of(c.type, hp.v_dim())) {
    CITADEL_CHECK(c.n_blocks > 0 && c.block_size > 0);
    arena_.assign(size_t(hp.n_layer) * layer_bytes(), 0);
}

void KvCache::store(int64_t layer, int64_t block, int64_t row, const float* k, const float* v,
                    const KernelTable& kernels) {
    uint8_t* kd = k_row(layer, block, row);
    uint8_t* vd = v_row(layer, block, row);
    if (type_ == KvType::kF16) {
        kernels.vec.f32_to_f16(k, reinterpret_cast<uint16_t*>(kd), kv_dim_);
        kernels.vec.f32_to_f16(v, reinterpret_cast<uint16_t*>(vd), v_dim_);
        return;
    }
    const QuantizeRowFn quantize = kernels[DType::Q8_0].quantize_row;
    quantize(k, kd, kv_dim_);
    quantize(v, vd, v_dim_);
}

const uint16_t* KvCache::head_f16(const uint8_t* row0, size_t row_bytes, int64_t head,
                                  int64_t head_size, int64_t n, uint16_t* scratch,
                                  int64_t* row_stride) const {
    if (type_ == KvType::kF16) {
        *row_stride = int64_t(row_bytes / sizeof(uint16_t));
        return reinterpret_cast<const uint16_t*>(row0) + head * head_size;
    }
    *row_stride = head_size;
    const int64_t blocks_per_head = head_size / kQK8_0;
    for (int64_t r = 0; r < n; ++r) {
        const auto* b = reinterpret_cast<const BlockQ8_0*>(row0 + size_t(r) * row_bytes) +
                        head * blocks_per_head;
        uint16_t* dst = scratch + r * head_size;
        for (int64_t i = 0; i < blocks_per_head; ++i) {
            const float d = fp16_to_fp32(b[i].d);
            for (int j = 0; j < kQK8_0; ++j) {
                dst[i * kQK8_0 + j] = fp32_to_fp16(d * float(b[i].qs[j]));
            }
        }
    }
    return scratch;
}

const uint16_t* KvCache::k_head_f16(int64_t layer, int64_t block, int64_t head, int64_t n,
                                    uint16_t* scratch, int64_t* row_stride) const {
    const uint8_t* row0 = &arena_[offset(layer, block, 0, k_row_bytes_, 0)];
    return head_f16(row0, k_row_bytes_, head, head_dim_, n, scratch, row_stride);
}

const uint16_t* KvCache::v_head_f16(int64_t layer, int64_t block, int64_t head, int64_t n,
                                    uint16_t* scratch, int64_t* row_stride) const {
    const uint8_t* row0 = &arena_[offset(layer, block, 0, v_row_bytes_, k_layer_bytes())];
    return head_f16(row0, v_row_bytes_, head, head_dim_v_, n, scratch, row_stride);
}

}  // namespace citadel
