#include "model/kv_cache.h"

namespace citadel {

KvCache::KvCache(const HParams& hp, int n_seq, int64_t n_ctx)
    : n_seq_(n_seq), n_ctx_(n_ctx), kv_dim_(hp.kv_dim()), v_dim_(hp.v_dim()) {
    const size_t cells = size_t(hp.n_layer) * size_t(n_seq) * size_t(n_ctx);
    k_.assign(cells * size_t(kv_dim_), 0);
    v_.assign(cells * size_t(v_dim_), 0);
}

}  // namespace citadel
