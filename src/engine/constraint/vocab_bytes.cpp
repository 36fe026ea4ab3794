#include <algorithm>
#include <limits>

#include "engine/constraint/json_state.h"
#include "engine/constraint/token_constraint.h"
#include "text/tokenizer.h"

namespace citadel {

namespace {

// Tokens longer than this never match (the trie's depth is 16 bits; no real vocabulary has
// tokens anywhere near it).
constexpr size_t kMaxTokenBytes = 4096;

int utf8_length(uint8_t lead) {
    if (lead < 0x80) return 1;
    if (lead >= 0xC2 && lead <= 0xDF) return 2;
    if (lead >= 0xE0 && lead <= 0xEF) return 3;
    if (lead >= 0xF0 && lead <= 0xF4) return 4;
    return 0;  // a continuation byte or never valid
}

// safe[p]: bytes[p, end) are whole characters allowed raw in a JSON string.
void string_safe_suffixes(std::string_view bytes, std::vector<uint8_t>& safe) {
    const int n = int(bytes.size());
    safe.assign(size_t(n) + 1, 0);
    safe[size_t(n)] = 1;
    const auto* data = reinterpret_cast<const uint8_t*>(bytes.data());
    for (int p = n - 1; p >= 0; --p) {
        const int len = utf8_length(data[p]);
        safe[size_t(p)] = len > 0 && p + len <= n && safe[size_t(p + len)] &&
                          constraint::string_safe(data + p, len);
    }
}

}  // namespace

std::shared_ptr<const VocabBytes> VocabBytes::build(const text::Tokenizer& tok) {
    std::vector<std::string> bytes(tok.size());
    for (size_t id = 0; id < bytes.size(); ++id) {
        const text::TokenKind kind = tok.kind(int32_t(id));
        // Control tokens decode to nothing; unknown and unused ones stand for no real text.
        if (kind == text::TokenKind::kControl || kind == text::TokenKind::kUnknown ||
            kind == text::TokenKind::kUnused) {
            continue;
        }
        bytes[id] = tok.token_bytes(int32_t(id));
    }
    return from_strings(std::move(bytes));
}

std::shared_ptr<const VocabBytes> VocabBytes::from_strings(std::vector<std::string> bytes) {
    auto v = std::make_shared<VocabBytes>();
    v->offsets_.reserve(bytes.size() + 1);
    v->offsets_.push_back(0);
    for (std::string& b : bytes) {
        if (b.size() > kMaxTokenBytes) b.clear();
        v->blob_ += b;
        v->offsets_.push_back(uint32_t(v->blob_.size()));
    }
    v->build_trie();
    v->mark_string_safe();
    return v;
}

// Sorting the tokens by their bytes lays the trie out in preorder directly: each token adds
// the nodes beyond its common prefix with the previous one, and closes the deeper ones.
void VocabBytes::build_trie() {
    std::vector<int32_t> ids;
    for (int32_t t = 0; t < int32_t(size()); ++t) {
        if (!bytes(t).empty()) ids.push_back(t);
    }
    std::sort(ids.begin(), ids.end(), [this](int32_t a, int32_t b) {
        const int c = bytes(a).compare(bytes(b));
        return c != 0 ? c < 0 : a < b;
    });
    nodes_.push_back(Node{0, 0, 0, 0, 0, 0});
    std::vector<uint32_t> open = {0};  // the path to the last token's node
    std::string_view prev;
    for (int32_t t : ids) {
        const std::string_view b = bytes(t);
        size_t common = 0;
        while (common < prev.size() && common < b.size() && prev[common] == b[common]) ++common;
        for (; open.size() > common + 1; open.pop_back()) {
            nodes_[open.back()].subtree_end = uint32_t(nodes_.size());
        }
        for (size_t d = common; d < b.size(); ++d) {
            open.push_back(uint32_t(nodes_.size()));
            nodes_.push_back(Node{0, uint32_t(order_.size()), uint32_t(order_.size()),
                                  uint16_t(d + 1), uint8_t(b[d]), 1});
        }
        order_.push_back(t);
        nodes_[open.back()].token_end = uint32_t(order_.size());
        max_depth_ = std::max(max_depth_, int(b.size()));
        prev = b;
    }
    for (; !open.empty(); open.pop_back())
        nodes_[open.back()].subtree_end = uint32_t(nodes_.size());
    nodes_.push_back(Node{uint32_t(nodes_.size() + 1), uint32_t(order_.size()),
                          uint32_t(order_.size()), 0, 0, 0});  // sentinel
    std::fill(std::begin(root_children_), std::end(root_children_), -1);
    for (uint32_t i = 1; i + 1 < nodes_.size(); i = nodes_[i].subtree_end) {
        root_children_[nodes_[i].byte] = int32_t(i);
    }
}

int64_t VocabBytes::child(uint32_t node, uint8_t byte) const {
    if (node == 0) return root_children_[byte];
    for (uint32_t i = node + 1; i < nodes_[node].subtree_end; i = nodes_[i].subtree_end) {
        if (nodes_[i].byte == byte) return i;
    }
    return -1;
}

// A node stays string_safe only if each token below it is safe from the node's depth on.
void VocabBytes::mark_string_safe() {
    std::vector<uint32_t> path(size_t(max_depth_) + 1, 0);  // path[d]: the ancestor at depth d
    std::vector<uint8_t> safe;
    for (size_t i = 1; i + 1 < nodes_.size(); ++i) {
        const Node& node = nodes_[i];
        path[node.depth] = uint32_t(i);
        for (uint32_t k = node.first_token; k < node.token_end; ++k) {
            string_safe_suffixes(bytes(order_[k]), safe);
            for (int d = 1; d <= node.depth; ++d) {
                if (!safe[size_t(d - 1)]) nodes_[path[size_t(d)]].string_safe = 0;
            }
        }
    }
}

}  // namespace citadel
