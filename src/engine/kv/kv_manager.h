// Per-sequence block tables on top of the BlockPool: which blocks hold a sequence's KV
// (position p lives in block table[p / block_size]), prefix-cache hits at admission, and
// registration of newly computed full blocks in the prefix cache.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/kv/block_pool.h"

namespace citadel {

struct KvManagerConfig {
    int32_t n_blocks = 0;
    int block_size = 16;  // token positions per block
    bool enable_prefix_cache = true;
    std::string model_salt;  // e.g. the model's id: caches of different models never mix
};

class KvManager {
  public:
    explicit KvManager(const KvManagerConfig& config);

    // Longest run of cached full leading blocks of `tokens`: refs them and makes them the start
    // of seq's (empty) table. Returns the tokens they cover. Never all of them: at least one
    // token is left to compute so that the last token's logits exist, i.e. at most
    // (tokens.size() - 1) / block_size blocks.
    int64_t attach_cached_prefix(uint64_t seq, std::span<const int32_t> tokens,
                                 const std::string& cache_salt);
    // Grows seq's table to cover n_total_tokens positions. All or nothing: false (and no
    // change) when the pool lacks free blocks.
    bool allocate(uint64_t seq, int64_t n_total_tokens);
    int32_t blocks_needed(uint64_t seq, int64_t n_total_tokens) const;
    // Registers seq's full blocks whose positions are all < n_computed in the prefix cache.
    // Incremental: each block is hashed once, chained on the previous block's hash.
    void cache_computed(uint64_t seq, std::span<const int32_t> tokens, int64_t n_computed,
                        const std::string& cache_salt);
    // Releases seq's blocks last first (so its tail blocks, least likely shared, are evicted
    // first) and forgets its table. A sequence without blocks is fine.
    void free(uint64_t seq);

    const std::vector<int32_t>& table(uint64_t seq) const;  // empty for an unknown seq
    int32_t num_free_blocks() const { return pool_.num_free(); }
    int32_t n_blocks() const { return pool_.n_blocks(); }
    int block_size() const { return block_size_; }
    const BlockPool& pool() const { return pool_; }

    // Prefix-cache statistics in tokens, over every attach_cached_prefix call.
    int64_t prefix_query_tokens() const { return prefix_query_tokens_; }
    int64_t prefix_hit_tokens() const { return prefix_hit_tokens_; }
    double prefix_hit_rate() const;
    double usage() const { return double(pool_.num_used()) / double(pool_.n_blocks()); }

  private:
    struct SeqBlocks {
        std::vector<int32_t> table;
        int32_t n_cached = 0;     // leading blocks already in (or looked up from) the cache
        uint64_t chain_hash = 0;  // hash of block n_cached - 1 (valid when n_cached > 0)
    };
    uint64_t seed(const std::string& cache_salt) const;

    BlockPool pool_;
    int block_size_;
    std::string model_salt_;
    std::unordered_map<uint64_t, SeqBlocks> seqs_;
    int64_t prefix_query_tokens_ = 0;
    int64_t prefix_hit_tokens_ = 0;
};

}  // namespace citadel
