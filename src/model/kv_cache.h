// Keys and values of past positions, F16, one contiguous region per sequence slot.
// (The serving engine replaces this with a paged cache; attention reads through k()/v().)
#pragma once

#include <cstdint>
#include <vector>

#include "model/hparams.h"

namespace citadel {

class KvCache {
  public:
    KvCache(const HParams& hp, int n_seq, int64_t n_ctx);

    int n_seq() const { return n_seq_; }
    int64_t n_ctx() const { return n_ctx_; }
    size_t bytes() const { return (k_.size() + v_.size()) * sizeof(uint16_t); }

    uint16_t* k(int64_t layer, int seq, int64_t pos) {
        return &k_[index(layer, seq, pos, kv_dim_)];
    }
    uint16_t* v(int64_t layer, int seq, int64_t pos) { return &v_[index(layer, seq, pos, v_dim_)]; }
    // Row stride (in elements) between consecutive positions of one sequence.
    int64_t k_stride() const { return kv_dim_; }
    int64_t v_stride() const { return v_dim_; }

  private:
    size_t index(int64_t layer, int seq, int64_t pos, int64_t dim) const {
        return size_t(((layer * n_seq_ + seq) * n_ctx_ + pos) * dim);
    }
    int n_seq_;
    int64_t n_ctx_;
    int64_t kv_dim_;
    int64_t v_dim_;
    std::vector<uint16_t> k_;  // [n_layer][n_seq][n_ctx][n_head_kv * head_dim]
    std::vector<uint16_t> v_;  // [n_layer][n_seq][n_ctx][n_head_kv * head_dim_v]
};

}  // namespace citadel
