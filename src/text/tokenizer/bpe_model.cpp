#include <queue>

#include "text/tokenizer/models.h"
#include "text/unicode.h"

namespace citadel::text {
namespace {

constexpr size_t kCacheablePiece = 64;     // bytes; longer pieces are not cached
constexpr size_t kCacheEntries = 1 << 17;  // cleared when it grows past this

struct Symbol {
    int32_t id;
    int32_t prev, next;
    bool alive;
};

struct Candidate {
    int32_t rank;
    int32_t left;  // symbol index
    int32_t left_id, right_id;
    bool operator>(const Candidate& o) const {
        return rank != o.rank ? rank > o.rank : left > o.left;
    }
};

uint64_t pair_key(int32_t a, int32_t b) {
    return (uint64_t(uint32_t(a)) << 32) | uint32_t(b);
}

std::string byte_token_text(unsigned char b) {
    static const char* hex = "0123456789ABCDEF";
    return std::string{'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
}

}  // namespace

BpeModel::BpeModel(std::shared_ptr<const PieceIndex> index,
                   const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions opt)
    : index_(std::move(index)), opt_(std::move(opt)) {
    merges_.reserve(merges.size());
    const std::string& prefix = opt_.continuing_subword_prefix;
    for (size_t r = 0; r < merges.size(); ++r) {
        const auto& [a, b] = merges[r];
        const int32_t ia = find(a), ib = find(b);
        // The merged token drops the right part's continuation prefix.
        const bool prefixed = !prefix.empty() && b.compare(0, prefix.size(), prefix) == 0;
        const int32_t im = find(a + (prefixed ? b.substr(prefix.size()) : b));
        if (ia < 0 || ib < 0 || im < 0) continue;  // a merge of or into unknown tokens
        merges_.emplace(pair_key(ia, ib), std::pair{int32_t(r), im});  // lowest rank wins
    }
}

int32_t BpeModel::find(std::string_view text) const {
    const auto it = index_->find(text);
    return it == index_->end() ? -1 : it->second;
}

void BpeModel::encode(std::string_view piece, std::vector<int32_t>& out) const {
    if (piece.empty()) return;
    if (opt_.ignore_merges) {
        if (const int32_t id = find(piece); id >= 0) {
            out.push_back(id);
            return;
        }
    }
    if (piece.size() > kCacheablePiece) {
        merge(piece, out);
        return;
    }
    const std::string key(piece);
    {
        std::lock_guard<std::mutex> lock(cache_mu_);
        if (auto it = cache_.find(key); it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    std::vector<int32_t> ids;
    merge(piece, ids);
    out.insert(out.end(), ids.begin(), ids.end());
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() >= kCacheEntries) cache_.clear();
    cache_.emplace(key, std::move(ids));
}

// Adds the ids of one initial symbol (a character, with any subword prefix/suffix): its
// token, else its bytes as <0xNN> tokens, else unk (fused), else nothing.
void BpeModel::emit_symbol(std::string_view sym, std::vector<int32_t>& out) const {
    if (const int32_t id = find(sym); id >= 0) {
        out.push_back(id);
        return;
    }
    if (opt_.byte_fallback) {
        std::vector<int32_t> bytes;
        for (char c : sym) {
            const int32_t id = find(byte_token_text(static_cast<unsigned char>(c)));
            if (id < 0) break;
            bytes.push_back(id);
        }
        if (bytes.size() == sym.size()) {
            out.insert(out.end(), bytes.begin(), bytes.end());
            return;
        }
    }
    if (opt_.unk_id >= 0) out.push_back(opt_.unk_id);
}

void BpeModel::merge(std::string_view piece, std::vector<int32_t>& out) const {
    // Initial symbols: one per character (with any subword prefix and suffix).
    std::vector<Symbol> syms;
    syms.reserve(piece.size());
    const int32_t unk = opt_.unk_id;
    std::vector<int32_t> ids;
    std::string t;
    for (size_t i = 0; i < piece.size();) {
        const size_t start = i;
        next_code_point(piece, i);
        t.assign(piece.substr(start, i - start));
        if (start > 0 && !opt_.continuing_subword_prefix.empty())
            t.insert(0, opt_.continuing_subword_prefix);
        if (i == piece.size()) t += opt_.end_of_word_suffix;
        ids.clear();
        emit_symbol(t, ids);
        for (int32_t id : ids) {
            if (opt_.fuse_unk && id == unk && !syms.empty() && syms.back().id == unk) continue;
            const int32_t n = int32_t(syms.size());
            syms.push_back({id, n - 1, n + 1, true});
        }
    }
    if (syms.empty()) return;
    syms.back().next = -1;

    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
    auto consider = [&](int32_t left) {
        if (left < 0) return;
        const int32_t right = syms[size_t(left)].next;
        if (right < 0) return;
        const auto it = merges_.find(pair_key(syms[size_t(left)].id, syms[size_t(right)].id));
        if (it == merges_.end()) return;
        heap.push({it->second.first, left, syms[size_t(left)].id, syms[size_t(right)].id});
    };
    for (int32_t i = 0; i < int32_t(syms.size()); ++i) consider(i);
    while (!heap.empty()) {
        const Candidate c = heap.top();
        heap.pop();
        Symbol& l = syms[size_t(c.left)];
        if (!l.alive || l.id != c.left_id || l.next < 0) continue;
        Symbol& r = syms[size_t(l.next)];
        if (r.id != c.right_id) continue;
        l.id = merges_.at(pair_key(c.left_id, c.right_id)).second;
        r.alive = false;
        l.next = r.next;
        if (r.next >= 0) syms[size_t(r.next)].prev = c.left;
        consider(l.prev);
        consider(c.left);
    }
    for (int32_t i = 0; i >= 0; i = syms[size_t(i)].next) out.push_back(syms[size_t(i)].id);
}

}  // namespace citadel::text
