// Constrained decoding: which tokens may come next so that the reply has a given structure
// (a JSON object for response_format json_object; a tool call in the model's own format for
// tool_choice "required" or a named function).
//
// A reply is a sequence of parts (ConstraintPart), matched on the bytes the tokens decode to:
// a token may span parts (`"}` can end the JSON and start the literal `}\n</tool_call>`), and
// an added token such as Qwen's <tool_call> matches its text. Control tokens (<|im_end|>),
// unknown and unused ones, and tokens that decode to nothing never match text;
// end-of-generation tokens are allowed only once the structure is complete, and then only
// they are.
//
// The closing guarantee: the constraint knows how many tokens at most complete the structure
// from where the reply is (needed): inside JSON one per byte of the shortest completion
// (every byte is a token in byte-level BPE and in SentencePiece vocabularies with byte
// fallback), for literal text the fewest tokens that spell it. It allows a token only if
// what it leaves still fits the budget:
//     needed(after the token) <= remaining - 1 - reserve
// where reserve is 1 (the end-of-generation token that ends the reply) when there are EOG
// ids. If the start fits, then from every state some token lowers needed by one, so the
// structure is complete by the last token whenever the budget allows it at all (no margin is
// needed: the check is exact at every step). When nothing fits (budget too small from the
// start, or a vocabulary without a needed byte), the mask falls back, in order, to: tokens
// that lower needed (the closing path); any token the grammar allows; the EOG ids; and, if
// the vocabulary offers nothing at all, an untouched row. So the engine never samples from an
// all -inf row.
//
// The mask walks a byte trie of the whole vocabulary (built once per tokenizer in VocabBytes)
// depth-first with copies of the small automaton state, pruning a subtree at the first byte
// the grammar rejects. Inside a JSON string, a subtree whose tokens are all plain text is
// taken whole without walking it. Cost on Qwen3's 151,665 tokens (one core, measured by
// ConstraintQwen.MaskTime on an idle machine): ~0.7 ms per call inside a string or key (where
// ~147k tokens stay allowed), under 0.15 ms elsewhere; building VocabBytes ~50-100 ms.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace citadel {

namespace text {
class Tokenizer;
}

// Restricts which tokens may come next. One instance per request (it has state); used only
// on the engine thread.
class TokenConstraint {
  public:
    virtual ~TokenConstraint() = default;
    // Sets logits of tokens that may not come next to -infinity. `remaining` = how many tokens
    // the request may still generate including this one; when it runs short only tokens that
    // move toward closing the structure stay allowed, so the structure is complete by the last
    // token whenever that is possible at all.
    virtual void mask(float* logits, int64_t n_vocab, int64_t remaining) = 0;
    // The token that was sampled. End-of-generation ids change nothing; a token the grammar
    // refuses (only possible through the fallbacks above) ends matching: from then on the
    // mask allows only EOG ids.
    virtual void accept(int32_t token) = 0;
    // Structure finished: only end-of-generation tokens are allowed now.
    virtual bool complete() const = 0;
};

// The bytes each token decodes to, and a byte trie over them; built once per tokenizer and
// shared by all constraints (immutable, so thread-safe to read).
class VocabBytes {
  public:
    // A trie node, in depth-first preorder: node i's subtree is [i, subtree_end). Its tokens
    // are order()[first_token, token_end); those of its whole subtree are
    // order()[first_token, nodes()[subtree_end].first_token) (a sentinel node ends nodes()).
    struct Node {
        uint32_t subtree_end;
        uint32_t first_token;
        uint32_t token_end;
        uint16_t depth;  // bytes from the root; the root has 0
        uint8_t byte;    // the byte on the edge from the parent
        // Every token in the subtree is, from this node's byte on, whole UTF-8 characters
        // allowed raw in a JSON string.
        uint8_t string_safe;
    };

    static std::shared_ptr<const VocabBytes> build(const text::Tokenizer& tok);
    // Token i decodes to bytes[i]; an empty string never matches text (as a control token).
    static std::shared_ptr<const VocabBytes> from_strings(std::vector<std::string> bytes);

    int64_t size() const { return int64_t(offsets_.size()) - 1; }
    std::string_view bytes(int32_t token) const {
        return std::string_view(blob_).substr(
            offsets_[size_t(token)], offsets_[size_t(token) + 1] - offsets_[size_t(token)]);
    }
    std::span<const Node> nodes() const { return nodes_; }  // [0]: root; back(): sentinel
    std::span<const int32_t> order() const { return order_; }
    int max_depth() const { return max_depth_; }  // the longest token, in bytes
    // The child of `node` along `byte`, or -1.
    int64_t child(uint32_t node, uint8_t byte) const;

  private:
    void build_trie();
    void mark_string_safe();

    std::string blob_;               // every token's bytes, concatenated
    std::vector<uint32_t> offsets_;  // [size + 1] token i is blob_[offsets_[i], offsets_[i+1])
    std::vector<Node> nodes_;
    std::vector<int32_t> order_;  // tokens with bytes, in trie preorder
    int max_depth_ = 0;
    int32_t root_children_[256];  // the root's child per byte, or -1
};

// A reply made of parts, in order.
struct ConstraintPart {
    enum class Kind {
        kLiteral,     // texts[0], exactly
        kChoice,      // one of texts (a longer option wins over its prefix, see parts_matcher.h)
        kJsonObject,  // any valid JSON object (nested values of every kind); texts unused
    } kind = Kind::kLiteral;
    std::vector<std::string> texts;
};

// response_format json_object is one kJsonObject part. `eog_tokens` end the reply once the
// structure is complete; with none, the complete structure leaves the row unmasked (pass
// them: only they make the reply end there).
std::unique_ptr<TokenConstraint> make_constraint(std::shared_ptr<const VocabBytes> vocab,
                                                 std::vector<ConstraintPart> parts,
                                                 std::vector<int32_t> eog_tokens);

}  // namespace citadel
