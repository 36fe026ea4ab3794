// Block ids of the paged KV cache: reference counts, a free list in eviction order and the
// prefix cache (a map from the chained hash of a full block's tokens to the block holding
// their KV). The KV rows themselves live in model/kv_cache.h; this class only hands out ids.
//
// A block is free when its reference count is 0. Free blocks sit in one list, oldest release
// first: allocate() takes the head, a released block goes to the tail. A free block may still
// carry a cache key (its KV stays valid until the block is reused), so cached blocks are
// evicted least recently released first.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace citadel {

// Identity of a full block's contents within one token prefix. `hash` chains the whole prefix;
// `parent_hash` and `tokens` verify a hit exactly, so two blocks whose hashes collide but whose
// tokens (or parents' hashes) differ are never confused.
struct BlockKey {
    uint64_t hash = 0;            // H(parent_hash, tokens)
    uint64_t parent_hash = 0;     // previous block's hash; block 0: block_chain_seed(salts)
    std::vector<int32_t> tokens;  // [block_size]

    bool operator==(const BlockKey&) const = default;
};

// The chain's starting value: blocks hashed under different salts never match (different
// models, or tenants isolated by a per-request cache_salt).
uint64_t block_chain_seed(std::string_view model_salt, std::string_view cache_salt);
BlockKey make_block_key(uint64_t parent_hash, std::span<const int32_t> tokens);

class BlockPool {
  public:
    BlockPool(int32_t n_blocks, bool enable_prefix_cache);

    // Takes the head of the free list with a reference count of 1, evicting its cache key if
    // it has one; nullopt when every block is in use.
    std::optional<int32_t> allocate();
    void ref(int32_t block);    // a free block leaves the free list
    void unref(int32_t block);  // at 0 the block goes to the free list's tail

    // The block caching `key`, referenced once more (leaving the free list if it was free);
    // nullopt on a miss or with the prefix cache disabled. Counts queries and hits.
    std::optional<int32_t> lookup(const BlockKey& key);
    // Registers a referenced, full block whose KV is computed. A key already cached by another
    // block keeps the old block (this one stays uncached).
    void cache(int32_t block, BlockKey key);

    int32_t n_blocks() const { return int32_t(blocks_.size()); }
    int32_t num_free() const { return n_free_; }  // ref 0, cached or not: all allocatable
    int32_t num_used() const { return n_blocks() - n_free_; }
    int32_t ref_count(int32_t block) const { return at(block).ref; }
    bool is_cached(int32_t block) const { return at(block).key != nullptr; }
    bool prefix_cache_enabled() const { return enable_prefix_cache_; }

    int64_t queries() const { return queries_; }  // lookups, in blocks
    int64_t hits() const { return hits_; }
    double hit_rate() const { return queries_ ? double(hits_) / double(queries_) : 0.0; }

  private:
    static constexpr int32_t kNone = -1;
    struct Block {
        int32_t ref = 0;
        int32_t prev = kNone;  // free-list links, meaningful while ref == 0
        int32_t next = kNone;
        const BlockKey* key = nullptr;  // points into cache_ while cached
    };
    struct KeyHash {
        size_t operator()(const BlockKey& key) const { return size_t(key.hash); }
    };

    const Block& at(int32_t block) const;
    Block& at(int32_t block) { return const_cast<Block&>(std::as_const(*this).at(block)); }
    void push_free_tail(int32_t block);
    void remove_free(int32_t block);
    void uncache(int32_t block);

    std::vector<Block> blocks_;  // [n_blocks]
    std::unordered_map<BlockKey, int32_t, KeyHash> cache_;
    int32_t free_head_ = kNone;
    int32_t free_tail_ = kNone;
    int32_t n_free_ = 0;
    bool enable_prefix_cache_;
    int64_t queries_ = 0;
    int64_t hits_ = 0;
};

}  // namespace citadel
