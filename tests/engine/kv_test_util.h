// Helpers shared by the KV manager and scheduler tests.
#pragma once

#include <numeric>
#include <vector>

#include "engine/kv/kv_manager.h"

namespace citadel::test {

// n consecutive token ids from `first`.
inline std::vector<int32_t> tokens(int n, int32_t first = 1) {
    std::vector<int32_t> t(static_cast<size_t>(n));
    std::iota(t.begin(), t.end(), first);
    return t;
}

inline KvManagerConfig kv_config(int32_t n_blocks, int block_size = 16) {
    return {.n_blocks = n_blocks, .block_size = block_size, .model_salt = "test-model"};
}

}  // namespace citadel::test
