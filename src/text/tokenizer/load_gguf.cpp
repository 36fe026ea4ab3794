// Builds a Tokenizer from the tokenizer.ggml.* keys of a GGUF file.
#include "core/log.h"
#include "text/regex.h"
#include "text/tokenizer.h"
#include "text/tokenizer/gguf_pre_types.h"
#include "text/tokenizer/normalizers.h"
#include "text/tokenizer/pre_tokenizers.h"

namespace citadel::text {
namespace {

using Strings = std::vector<std::string>;

Result<Strings> string_array(const gguf::File& f, const char* key) {
    const gguf::Value* v = f.find(key);
    const gguf::Array* a = v ? v->as_array() : nullptr;
    if (a == nullptr || a->elem_type != gguf::ValueType::STRING) {
        return Status::error(f.path() + ": " + key + " is missing or not a string array");
    }
    Strings out;
    out.reserve(a->items.size());
    for (const gguf::Value& item : a->items) out.push_back(*item.as_string());
    return out;
}

std::optional<int32_t> token_id(const gguf::File& f, const char* key, size_t n) {
    const std::optional<int64_t> v = f.get_int(key);
    if (!v || *v < 0 || size_t(*v) >= n) return std::nullopt;
    return int32_t(*v);
}

Status read_kinds_and_ids(const gguf::File& f, TokenizerParts& p) {
    const size_t n = p.pieces.size();
    p.kinds.assign(n, TokenKind::kNormal);
    if (const gguf::Value* v = f.find("tokenizer.ggml.token_type")) {
        const gguf::Array* a = v->as_array();
        if (a == nullptr || a->items.size() != n) {
            return Status::error(f.path() + ": tokenizer.ggml.token_type has " +
                                 std::to_string(a ? a->items.size() : 0) + " entries for " +
                                 std::to_string(n) + " tokens");
        }
        for (size_t i = 0; i < n; ++i) {
            const int64_t k = a->items[i].as_int().value_or(1);
            p.kinds[i] = (k >= 1 && k <= 6) ? TokenKind(k) : TokenKind::kNormal;
        }
    }
    p.index = std::make_shared<PieceIndex>();
    p.index->reserve(n);
    for (size_t i = 0; i < n; ++i) p.index->emplace(p.pieces[i], int32_t(i));
    SpecialIds& ids = p.ids;
    ids.bos = token_id(f, "tokenizer.ggml.bos_token_id", n);
    ids.eos = token_id(f, "tokenizer.ggml.eos_token_id", n);
    ids.eot = token_id(f, "tokenizer.ggml.eot_token_id", n);
    ids.eom = token_id(f, "tokenizer.ggml.eom_token_id", n);
    ids.unk = token_id(f, "tokenizer.ggml.unknown_token_id", n);
    ids.sep = token_id(f, "tokenizer.ggml.seperator_token_id", n);
    ids.pad = token_id(f, "tokenizer.ggml.padding_token_id", n);
    ids.cls = token_id(f, "tokenizer.ggml.cls_token_id", n);
    ids.mask = token_id(f, "tokenizer.ggml.mask_token_id", n);
    return ok_status();
}

// Tokens written literally in text: control and unknown ones only with parse_special,
// user-defined ones always.
void collect_added(TokenizerParts& p) {
    for (size_t i = 0; i < p.pieces.size(); ++i) {
        const TokenKind k = p.kinds[i];
        if (k != TokenKind::kControl && k != TokenKind::kUserDefined && k != TokenKind::kUnknown) {
            continue;
        }
        p.added.push_back({p.pieces[i], int32_t(i), k != TokenKind::kUserDefined, false, false});
    }
}

// End of generation: eos, eot, eom, and well-known end-of-turn tokens found by their text.
void collect_end_of_generation(TokenizerParts& p) {
    for (const auto& id : {p.ids.eos, p.ids.eot, p.ids.eom}) {
        if (id) p.end_of_generation.push_back(*id);
    }
    if (p.ids.eot) return;
    for (const char* text :
         {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
          "<|end_of_text|>", "<EOT>", "<｜end▁of▁sentence｜>"}) {
        const auto it = p.index->find(text);
        if (it == p.index->end()) continue;
        p.ids.eot = it->second;
        if (std::find(p.end_of_generation.begin(), p.end_of_generation.end(), it->second) ==
            p.end_of_generation.end()) {
            p.end_of_generation.push_back(it->second);
        }
        return;
    }
}

Status build_sentencepiece(const gguf::File& f, TokenizerParts& p) {
    std::vector<float> scores(p.pieces.size(), 0.0f);
    if (const gguf::Value* v = f.find("tokenizer.ggml.scores")) {
        const gguf::Array* a = v->as_array();
        if (a == nullptr || a->items.size() != p.pieces.size()) {
            return Status::error(f.path() + ": tokenizer.ggml.scores does not match the tokens");
        }
        for (size_t i = 0; i < scores.size(); ++i)
            scores[i] = float(a->items[i].as_float().value_or(0));
    }
    std::vector<int32_t> byte_ids(256, -1);
    static const char* hex = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b) {
        const std::string name{'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        auto it = p.index->find(name);
        if (it == p.index->end()) it = p.index->find(std::string(1, char(b)));
        if (it != p.index->end()) byte_ids[size_t(b)] = it->second;
    }
    const bool add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix").value_or(true);
    if (add_space_prefix) p.normalizers.push_back(std::make_unique<PrependNormalizer>(" "));
    p.normalizers.push_back(std::make_unique<ReplaceNormalizer>(" ", "\xe2\x96\x81"));
    p.model = std::make_unique<ScoreBpeModel>(p.index, std::move(scores), std::move(byte_ids));
    p.decode_style = DecodeStyle::kSentencePiece;
    p.strip_leading_space = add_space_prefix;
    if (f.get_bool("tokenizer.ggml.add_bos_token").value_or(true) && p.ids.bos)
        p.prefix = {*p.ids.bos};
    if (f.get_bool("tokenizer.ggml.add_eos_token").value_or(false) && p.ids.eos)
        p.suffix = {*p.ids.eos};
    return ok_status();
}

Status build_byte_level_bpe(const gguf::File& f, TokenizerParts& p) {
    const std::string pre_name = f.get_string("tokenizer.ggml.pre").value_or("default");
    const GgufPreType* pre = find_gguf_pre_type(pre_name);
    if (pre == nullptr) {
        return Status::error(f.path() + ": unknown pre-tokenizer tokenizer.ggml.pre = '" +
                             pre_name + "' (known: " + known_gguf_pre_types() + ")");
    }
    for (const std::string& pattern : pre->patterns) {
        Result<std::unique_ptr<RegexSplit>> split =
            make_regex_split(pattern, SplitBehavior::kIsolated, false);
        if (!split) return Status::error(f.path() + ": " + split.error());
        p.pre_tokenizers.push_back(std::move(*split));
    }
    p.pre_tokenizers.push_back(std::make_unique<ByteLevelPreTokenizer>(false, false));
    Result<Strings> merges_text = string_array(f, "tokenizer.ggml.merges");
    if (!merges_text) return merges_text.status();
    std::vector<std::pair<std::string, std::string>> merges;
    merges.reserve(merges_text->size());
    for (const std::string& m : *merges_text) {
        const size_t sp = m.find(' ', 1);
        if (sp == std::string::npos) {
            return Status::error(f.path() + ": bad merge '" + m + "' (expected 'left right')");
        }
        merges.emplace_back(m.substr(0, sp), m.substr(sp + 1));
    }
    BpeOptions opt;
    opt.ignore_merges = pre->ignore_merges;
    p.model = std::make_unique<BpeModel>(p.index, merges, opt);
    p.decode_style = DecodeStyle::kByteLevel;
    const bool llama3 = pre->ignore_merges;
    if (f.get_bool("tokenizer.ggml.add_bos_token").value_or(llama3) && p.ids.bos)
        p.prefix = {*p.ids.bos};
    if (f.get_bool("tokenizer.ggml.add_eos_token").value_or(false) && p.ids.eos)
        p.suffix = {*p.ids.eos};
    return ok_status();
}

Status build_wordpiece(const gguf::File& f, TokenizerParts& p) {
    size_t max_len = 0;
    for (const std::string& s : p.pieces) max_len = std::max(max_len, s.size());
    if (!p.ids.unk) p.ids.unk = token_id(f, "tokenizer.ggml.unknown_token_id", p.pieces.size());
    p.pre_tokenizers.push_back(std::make_unique<BertWordSplit>());
    p.model = std::make_unique<WordPieceModel>(p.index, p.ids.unk.value_or(-1), max_len);
    p.decode_style = DecodeStyle::kSentencePiece;
    p.strip_leading_space = true;
    const std::optional<int32_t> cls = p.ids.cls ? p.ids.cls : p.ids.bos;
    const std::optional<int32_t> sep = p.ids.sep ? p.ids.sep : p.ids.eos;
    if (cls) p.prefix = {*cls};
    if (sep) p.suffix = {*sep};
    return ok_status();
}

}  // namespace

Result<std::shared_ptr<const Tokenizer>> load_tokenizer(const gguf::File& f) {
    TokenizerParts p;
    p.source = f.path();
    Result<Strings> pieces = string_array(f, "tokenizer.ggml.tokens");
    if (!pieces)
        return Status::error(f.path() + ": no tokenizer in this file (" + pieces.error() + ")");
    p.pieces = std::move(*pieces);
    if (p.pieces.empty()) return Status::error(f.path() + ": tokenizer.ggml.tokens is empty");
    CITADEL_TRY(read_kinds_and_ids(f, p));
    const std::string model = f.get_string("tokenizer.ggml.model").value_or("llama");
    Status built;
    if (model == "llama") {
        built = build_sentencepiece(f, p);
    } else if (model == "gpt2") {
        built = build_byte_level_bpe(f, p);
    } else if (model == "bert") {
        built = build_wordpiece(f, p);
    } else {
        return Status::error(f.path() + ": tokenizer.ggml.model '" + model +
                             "' is not supported (supported: llama, gpt2, bert)");
    }
    CITADEL_TRY(built);
    collect_added(p);
    collect_end_of_generation(p);
    return std::shared_ptr<const Tokenizer>(std::make_shared<Tokenizer>(std::move(p)));
}

}  // namespace citadel::text
