// Decoding kernels walk the rows of a weight matrix in groups of 8 (rows follow each other in
// memory) and prefetch whole groups about kDecodePrefetchBytes ahead (measured best on Zen:
// ~8-16 KB). Shared by the *_avx512.cpp decode kernels.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace citadel {

constexpr size_t kDecodePrefetchBytes = 8192;

// Bytes from a weight to the one the prefetch fetches: a whole number of 8-row groups.
inline size_t group_prefetch_distance(size_t w_row_bytes) {
    const size_t group_bytes = 8 * w_row_bytes;
    return std::max<size_t>(1, (kDecodePrefetchBytes + group_bytes - 1) / group_bytes) *
           group_bytes;
}

// The rows r0 .. r0 + 7 of w as blocks; rows past the last (r0 + rows - 1) repeat it.
template <class Block>
inline void group_rows(const uint8_t* w, size_t w_row_bytes, int r0, int rows,
                       const Block* (&wr)[8]) {
    for (int r = 0; r < 8; ++r) {
        wr[r] =
            reinterpret_cast<const Block*>(w + size_t(r0 + std::min(r, rows - 1)) * w_row_bytes);
    }
}

}  // namespace citadel
