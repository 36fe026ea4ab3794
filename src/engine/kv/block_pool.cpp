#include "engine/kv/block_pool.h"

#include <cstring>

#include "core/status.h"

namespace citadel {
namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

uint64_t fnv1a(uint64_t h, const void* data, size_t n_bytes) {
    const auto* bytes = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n_bytes; ++i) h = (h ^ bytes[i]) * kFnvPrime;
    return h;
}

// splitmix64's finalizer: spreads FNV's weakly mixed high bits over the whole word.
uint64_t finalize(uint64_t h) {
    h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
    h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

// Length first, so ("ab", "c") and ("a", "bc") hash differently.
uint64_t fnv1a_string(uint64_t h, std::string_view s) {
    const uint64_t size = s.size();
    h = fnv1a(h, &size, sizeof(size));
    return fnv1a(h, s.data(), s.size());
}

}  // namespace

uint64_t block_chain_seed(std::string_view model_salt, std::string_view cache_salt) {
    uint64_t h = fnv1a_string(kFnvOffset, "citadel.kv.v1");
    h = fnv1a_string(h, model_salt);
    return finalize(fnv1a_string(h, cache_salt));
}

BlockKey make_block_key(uint64_t parent_hash, std::span<const int32_t> tokens) {
    uint64_t h = fnv1a(kFnvOffset, &parent_hash, sizeof(parent_hash));
    h = fnv1a(h, tokens.data(), tokens.size_bytes());
    return BlockKey{.hash = finalize(h),
                    .parent_hash = parent_hash,
                    .tokens = std::vector<int32_t>(tokens.begin(), tokens.end())};
}

BlockPool::BlockPool(int32_t n_blocks, bool enable_prefix_cache)
    : blocks_(size_t(n_blocks)), enable_prefix_cache_(enable_prefix_cache) {
    CITADEL_CHECK(n_blocks > 0);
    for (int32_t b = 0; b < n_blocks; ++b) push_free_tail(b);
}

const BlockPool::Block& BlockPool::at(int32_t block) const {
    CITADEL_CHECK(block >= 0 && block < n_blocks());
    return blocks_[size_t(block)];
}

std::optional<int32_t> BlockPool::allocate() {
    if (free_head_ == kNone) return std::nullopt;
    const int32_t block = free_head_;
    remove_free(block);
    uncache(block);
    at(block).ref = 1;
    return block;
}

void BlockPool::ref(int32_t block) {
    if (at(block).ref == 0) remove_free(block);
    ++at(block).ref;
}

void BlockPool::unref(int32_t block) {
    Block& b = at(block);
    CITADEL_CHECK(b.ref > 0);  // unref of a free block: a double free
    if (--b.ref == 0) push_free_tail(block);
}

std::optional<int32_t> BlockPool::lookup(const BlockKey& key) {
    ++queries_;
    if (!enable_prefix_cache_) return std::nullopt;
    const auto it = cache_.find(key);
    if (it == cache_.end()) return std::nullopt;
    ++hits_;
    ref(it->second);
    return it->second;
}

void BlockPool::cache(int32_t block, BlockKey key) {
    if (!enable_prefix_cache_) return;
    Block& b = at(block);
    CITADEL_CHECK(b.ref > 0);  // only a block someone holds can have just been computed
    if (b.key != nullptr) {
        CITADEL_CHECK(*b.key == key);  // a block's contents never change while it is held
        return;
    }
    const auto [it, inserted] = cache_.emplace(std::move(key), block);
    if (inserted) b.key = &it->first;  // node-based map: the key's address is stable
}

void BlockPool::uncache(int32_t block) {
    Block& b = at(block);
    if (b.key == nullptr) return;
    cache_.erase(cache_.find(*b.key));
    b.key = nullptr;
}

void BlockPool::push_free_tail(int32_t block) {
    Block& b = at(block);
    b.prev = free_tail_;
    b.next = kNone;
    if (free_tail_ != kNone)
        at(free_tail_).next = block;
    else
        free_head_ = block;
    free_tail_ = block;
    ++n_free_;
}

void BlockPool::remove_free(int32_t block) {
    Block& b = at(block);
    if (b.prev != kNone)
        at(b.prev).next = b.next;
    else
        free_head_ = b.next;
    if (b.next != kNone)
        at(b.next).prev = b.prev;
    else
        free_tail_ = b.prev;
    b.prev = b.next = kNone;
    --n_free_;
}

}  // namespace citadel
