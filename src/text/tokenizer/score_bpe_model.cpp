#include <queue>

#include "text/tokenizer/models.h"
#include "text/unicode.h"

namespace citadel::text {
namespace {

struct Symbol {
    size_t offset, n;  // bytes of the piece this symbol covers
    int32_t prev, next;
};

struct Bigram {
    float score;
    int32_t left, right;
    size_t size;
    // Highest score first; among equal scores the leftmost.
    bool operator<(const Bigram& o) const {
        return score != o.score ? score < o.score : left > o.left;
    }
};

}  // namespace

ScoreBpeModel::ScoreBpeModel(std::shared_ptr<const PieceIndex> index, std::vector<float> scores,
                             std::vector<int32_t> byte_ids)
    : index_(std::move(index)), scores_(std::move(scores)), byte_ids_(std::move(byte_ids)) {}

void ScoreBpeModel::encode(std::string_view piece, std::vector<int32_t>& out) const {
    std::vector<Symbol> syms;
    for (size_t off = 0; off < piece.size();) {
        const size_t n = std::min(utf8_sequence_length(static_cast<unsigned char>(piece[off])),
                                  piece.size() - off);
        const int32_t idx = int32_t(syms.size());
        syms.push_back({off, n, idx - 1, off + n == piece.size() ? -1 : idx + 1});
        off += n;
    }
    std::priority_queue<Bigram> queue;
    auto text_of = [&](int32_t i) {
        return piece.substr(syms[size_t(i)].offset, syms[size_t(i)].n);
    };
    auto try_add = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const std::string_view text =
            piece.substr(syms[size_t(left)].offset, syms[size_t(left)].n + syms[size_t(right)].n);
        const auto it = index_->find(text);
        if (it == index_->end() || size_t(it->second) >= scores_.size()) return;
        queue.push({scores_[size_t(it->second)], left, right, text.size()});
    };
    for (int32_t i = 1; i < int32_t(syms.size()); ++i) try_add(i - 1, i);
    while (!queue.empty()) {
        const Bigram b = queue.top();
        queue.pop();
        Symbol& l = syms[size_t(b.left)];
        Symbol& r = syms[size_t(b.right)];
        if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;
        l.n += r.n;
        r.n = 0;
        l.next = r.next;
        if (r.next >= 0) syms[size_t(r.next)].prev = b.left;
        try_add(l.prev, b.left);
        try_add(b.left, l.next);
    }
    // Only pairs that form tokens ever merge, so a symbol is a token unless it is a single
    // character outside the vocabulary: that one is written as byte tokens.
    for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[size_t(i)].next) {
        const std::string_view text = text_of(i);
        if (const auto it = index_->find(text); it != index_->end()) {
            out.push_back(it->second);
            continue;
        }
        for (char c : text) {
            const int32_t id = byte_ids_[static_cast<unsigned char>(c)];
            if (id >= 0) out.push_back(id);
        }
    }
}

}  // namespace citadel::text
