#include "engine/kv/kv_manager.h"

#include <algorithm>

#include "core/status.h"

namespace citadel {

KvManager::KvManager(const KvManagerConfig& config)
    : pool_(config.n_blocks, config.enable_prefix_cache),
      block_size_(config.block_size),
      model_salt_(config.model_salt) {
    CITADEL_CHECK(config.block_size > 0);
}

uint64_t KvManager::seed(const std::string& cache_salt) const {
    return block_chain_seed(model_salt_, cache_salt);
}

int64_t KvManager::attach_cached_prefix(uint64_t seq, std::span<const int32_t> tokens,
                                        const std::string& cache_salt) {
    SeqBlocks& s = seqs_[seq];
    CITADEL_CHECK(s.table.empty());
    prefix_query_tokens_ += int64_t(tokens.size());
    if (!pool_.prefix_cache_enabled() || tokens.empty()) return 0;
    const size_t max_blocks = (tokens.size() - 1) / size_t(block_size_);
    uint64_t hash = seed(cache_salt);
    for (size_t i = 0; i < max_blocks; ++i) {
        BlockKey key = make_block_key(hash, tokens.subspan(i * block_size_, block_size_));
        const std::optional<int32_t> block = pool_.lookup(key);
        if (!block) break;
        s.table.push_back(*block);
        hash = key.hash;
    }
    s.n_cached = int32_t(s.table.size());
    s.chain_hash = hash;
    const int64_t n_hit = int64_t(s.table.size()) * block_size_;
    prefix_hit_tokens_ += n_hit;
    return n_hit;
}

int32_t KvManager::blocks_needed(uint64_t seq, int64_t n_total_tokens) const {
    const int64_t total = (n_total_tokens + block_size_ - 1) / block_size_;
    return int32_t(std::max<int64_t>(0, total - int64_t(table(seq).size())));
}

bool KvManager::allocate(uint64_t seq, int64_t n_total_tokens) {
    const int32_t n_new = blocks_needed(seq, n_total_tokens);
    if (n_new > pool_.num_free()) return false;
    std::vector<int32_t>& table = seqs_[seq].table;
    for (int32_t i = 0; i < n_new; ++i) {
        const std::optional<int32_t> block = pool_.allocate();
        CITADEL_CHECK(block.has_value());  // num_free() said there were enough
        table.push_back(*block);
    }
    return true;
}

void KvManager::cache_computed(uint64_t seq, std::span<const int32_t> tokens, int64_t n_computed,
                               const std::string& cache_salt) {
    if (!pool_.prefix_cache_enabled()) return;
    const auto it = seqs_.find(seq);
    if (it == seqs_.end()) return;
    SeqBlocks& s = it->second;
    const int64_t n_known = std::min<int64_t>(n_computed, int64_t(tokens.size()));
    const int32_t n_full =
        int32_t(std::min<int64_t>(n_known / block_size_, int64_t(s.table.size())));
    if (s.n_cached == 0) s.chain_hash = seed(cache_salt);
    for (int32_t i = s.n_cached; i < n_full; ++i) {
        BlockKey key = make_block_key(s.chain_hash,
                                      tokens.subspan(size_t(i) * block_size_, size_t(block_size_)));
        s.chain_hash = key.hash;
        pool_.cache(s.table[size_t(i)], std::move(key));
    }
    s.n_cached = std::max(s.n_cached, n_full);
}

void KvManager::free(uint64_t seq) {
    const auto it = seqs_.find(seq);
    if (it == seqs_.end()) return;
    const std::vector<int32_t>& table = it->second.table;
    for (auto b = table.rbegin(); b != table.rend(); ++b) pool_.unref(*b);
    seqs_.erase(it);
}

const std::vector<int32_t>& KvManager::table(uint64_t seq) const {
    static const std::vector<int32_t> empty;
    const auto it = seqs_.find(seq);
    return it == seqs_.end() ? empty : it->second.table;
}

double KvManager::prefix_hit_rate() const {
    if (prefix_query_tokens_ == 0) return 0.0;
    return double(prefix_hit_tokens_) / double(prefix_query_tokens_);
}

}  // namespace citadel
