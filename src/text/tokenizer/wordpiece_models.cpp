#include "text/tokenizer/models.h"
#include "text/unicode.h"

namespace citadel::text {

void WordPieceModel::encode(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    const std::string w = "\xe2\x96\x81" + std::string(word);
    const size_t n = w.size();
    const size_t start_size = out.size();
    for (size_t i = 0; i < n; ++i) {
        bool matched = false;
        for (size_t j = std::min(n, i + max_len_ + 1); j > i; --j) {
            const auto it = index_->find(std::string_view(w).substr(i, j - i));
            if (it != index_->end()) {
                out.push_back(it->second);
                matched = true;
                i = j - 1;
                break;
            }
        }
        if (!matched) {
            out.resize(start_size);
            break;
        }
    }
    if (out.size() == start_size && unk_id_ >= 0) out.push_back(unk_id_);
}

void HfWordPieceModel::encode(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    std::vector<size_t> bounds;  // byte offsets of character starts, plus the end
    for (size_t i = 0; i < word.size();) {
        bounds.push_back(i);
        next_code_point(word, i);
    }
    bounds.push_back(word.size());
    const size_t n_chars = bounds.size() - 1;
    auto unk = [&] {
        if (unk_id_ >= 0) out.push_back(unk_id_);
    };
    if (n_chars > max_chars_) return unk();
    std::vector<int32_t> ids;
    for (size_t start = 0; start < n_chars;) {
        int32_t found = -1;
        size_t end = n_chars;
        for (; end > start; --end) {
            std::string sub(word.substr(bounds[start], bounds[end] - bounds[start]));
            if (start > 0) sub = prefix_ + sub;
            if (const auto it = index_->find(sub); it != index_->end()) {
                found = it->second;
                break;
            }
        }
        if (found < 0) return unk();
        ids.push_back(found);
        start = end;
    }
    out.insert(out.end(), ids.begin(), ids.end());
}

}  // namespace citadel::text
