// Builds a Tokenizer from a Hugging Face directory: tokenizer.json (model, normalizer,
// pre-tokenizer, post-processor, decoder, added tokens) and tokenizer_config.json.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "text/tokenizer.h"
#include "text/tokenizer/normalizers.h"
#include "text/tokenizer/pre_tokenizers.h"

namespace citadel::text {
namespace {

using json = nlohmann::json;

// Ids are dense in real tokenizers; this much headroom beyond the entry count is allowed.
constexpr int64_t kIdSlack = 1 << 16;
namespace fs = std::filesystem;

Result<json> read_json(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot open " + path);
    std::stringstream ss;
    ss << in.rdbuf();
    json j = json::parse(ss.str(), nullptr, false);
    if (j.is_discarded()) return Status::error(path + ": not valid JSON");
    return j;
}

std::string str_or(const json& j, const char* key, const std::string& def = "") {
    const auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : def;
}
bool bool_or(const json& j, const char* key, bool def) {
    const auto it = j.find(key);
    return it != j.end() && it->is_boolean() ? it->get<bool>() : def;
}
// tokenizer_config.json writes special tokens as strings or {"content": ...} objects.
std::string token_text(const json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object()) return str_or(*it, "content");
    return {};
}

std::string escape_regex(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (std::string_view("\\^$.|?*+()[]{}-/").find(c) != std::string_view::npos) out += '\\';
        out += c;
    }
    return out;
}

// A {"String": s} or {"Regex": r} pattern as a regex.
Result<std::string> pattern_of(const json& p, const std::string& where) {
    if (p.is_object() && p.contains("Regex") && p["Regex"].is_string())
        return p["Regex"].get<std::string>();
    if (p.is_object() && p.contains("String") && p["String"].is_string()) {
        return escape_regex(p["String"].get<std::string>());
    }
    return Status::error(where + ": pattern must be {\"String\": …} or {\"Regex\": …}");
}

Result<SplitBehavior> behavior_of(const std::string& b, const std::string& where) {
    if (b == "Removed") return SplitBehavior::kRemoved;
    if (b == "Isolated") return SplitBehavior::kIsolated;
    if (b == "MergedWithPrevious") return SplitBehavior::kMergedWithPrevious;
    if (b == "MergedWithNext") return SplitBehavior::kMergedWithNext;
    if (b == "Contiguous") return SplitBehavior::kContiguous;
    return Status::error(where + ": unknown split behavior '" + b + "'");
}

struct Loader {
    std::string path;  // tokenizer.json, for messages
    TokenizerParts& p;

    Status normalizer(const json& n) {
        if (n.is_null()) return ok_status();
        const std::string type = str_or(n, "type");
        const std::string where = path + ": normalizer " + type;
        if (type == "Sequence") {
            for (const json& s : n.value("normalizers", json::array())) CITADEL_TRY(normalizer(s));
        } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
            const NormalForm f = type == "NFC"    ? NormalForm::kNFC
                                 : type == "NFD"  ? NormalForm::kNFD
                                 : type == "NFKC" ? NormalForm::kNFKC
                                                  : NormalForm::kNFKD;
            p.normalizers.push_back(std::make_unique<UnicodeNormalizer>(f));
        } else if (type == "Lowercase") {
            p.normalizers.push_back(std::make_unique<LowercaseNormalizer>());
        } else if (type == "Prepend") {
            p.normalizers.push_back(std::make_unique<PrependNormalizer>(str_or(n, "prepend")));
        } else if (type == "Replace") {
            const json& pat = n.value("pattern", json());
            if (pat.contains("String")) {
                p.normalizers.push_back(std::make_unique<ReplaceNormalizer>(
                    pat["String"].get<std::string>(), str_or(n, "content")));
            } else {
                Result<std::string> re = pattern_of(pat, where);
                if (!re) return re.status();
                Result<std::shared_ptr<const Regex>> rx = Regex::compile(*re);
                if (!rx) return Status::error(where + ": " + rx.error());
                p.normalizers.push_back(
                    std::make_unique<ReplaceNormalizer>(*rx, str_or(n, "content")));
            }
        } else if (type == "Strip") {
            p.normalizers.push_back(std::make_unique<StripNormalizer>(bool_or(n, "left", true),
                                                                      bool_or(n, "right", true)));
        } else if (type == "StripAccents") {
            p.normalizers.push_back(std::make_unique<StripAccentsNormalizer>());
        } else if (type == "BertNormalizer") {
            const bool lower = bool_or(n, "lowercase", true);
            const bool strip = n.contains("strip_accents") && n["strip_accents"].is_boolean()
                                   ? n["strip_accents"].get<bool>()
                                   : lower;
            p.normalizers.push_back(std::make_unique<BertNormalizer>(
                bool_or(n, "clean_text", true), bool_or(n, "handle_chinese_chars", true), strip,
                lower));
        } else {
            return Status::error(where + " is not supported");
        }
        return ok_status();
    }

    Status add_split(const std::string& pattern, SplitBehavior b, bool invert,
                     const std::string& where) {
        Result<std::unique_ptr<RegexSplit>> s = make_regex_split(pattern, b, invert);
        if (!s) return Status::error(where + ": " + s.error());
        p.pre_tokenizers.push_back(std::move(*s));
        return ok_status();
    }

    Status pre_tokenizer(const json& t) {
        if (t.is_null()) return ok_status();
        const std::string type = str_or(t, "type");
        const std::string where = path + ": pre_tokenizer " + type;
        if (type == "Sequence") {
            for (const json& s : t.value("pretokenizers", json::array()))
                CITADEL_TRY(pre_tokenizer(s));
        } else if (type == "Split") {
            Result<std::string> pat = pattern_of(t.value("pattern", json()), where);
            if (!pat) return pat.status();
            Result<SplitBehavior> b = behavior_of(str_or(t, "behavior", "Isolated"), where);
            if (!b) return b.status();
            return add_split(*pat, *b, bool_or(t, "invert", false), where);
        } else if (type == "ByteLevel") {
            p.pre_tokenizers.push_back(std::make_unique<ByteLevelPreTokenizer>(
                bool_or(t, "add_prefix_space", true), bool_or(t, "use_regex", true)));
        } else if (type == "Digits") {
            // ASCII digits, as transformers.js splits them (its \\d).
            return add_split(bool_or(t, "individual_digits", false) ? "[0-9]" : "[0-9]+",
                             SplitBehavior::kIsolated, false, where);
        } else if (type == "Whitespace") {
            return add_split("\\w+|[^\\w\\s]+", SplitBehavior::kRemoved, true, where);
        } else if (type == "WhitespaceSplit") {
            return add_split("\\s+", SplitBehavior::kRemoved, false, where);
        } else if (type == "Punctuation") {
            Result<SplitBehavior> b = behavior_of(str_or(t, "behavior", "Isolated"), where);
            if (!b) return b.status();
            return add_split("[\\p{P}!-/:-@\\[-`{-~]", *b, false, where);
        } else if (type == "BertPreTokenizer") {
            CITADEL_TRY(add_split("\\s+", SplitBehavior::kRemoved, false, where));
            return add_split("[\\p{P}!-/:-@\\[-`{-~]", SplitBehavior::kIsolated, false, where);
        } else if (type == "CharDelimiterSplit") {
            return add_split(escape_regex(str_or(t, "delimiter", " ")), SplitBehavior::kRemoved,
                             false, where);
        } else if (type == "Metaspace") {
            std::string scheme = str_or(t, "prepend_scheme", "");
            if (scheme.empty()) scheme = bool_or(t, "add_prefix_space", true) ? "always" : "never";
            const PrependScheme ps = scheme == "first"   ? PrependScheme::kFirst
                                     : scheme == "never" ? PrependScheme::kNever
                                                         : PrependScheme::kAlways;
            p.pre_tokenizers.push_back(std::make_unique<MetaspacePreTokenizer>(
                str_or(t, "replacement", "\xe2\x96\x81"), ps, bool_or(t, "split", true)));
        } else {
            return Status::error(where + " is not supported");
        }
        return ok_status();
    }

    void decoder(const json& d) {
        if (d.is_null()) return;
        const std::string type = str_or(d, "type");
        if (type == "Sequence") {
            for (const json& s : d.value("decoders", json::array())) decoder(s);
        } else if (type == "ByteLevel") {
            p.decode_style = DecodeStyle::kByteLevel;
        } else if (type == "Metaspace") {
            p.decode_style = DecodeStyle::kSentencePiece;
            const std::string scheme = str_or(d, "prepend_scheme", "always");
            p.strip_leading_space = scheme != "never" && bool_or(d, "add_prefix_space", true);
        } else if (type == "ByteFallback" || (type == "Replace" && str_or(d, "content") == " ")) {
            p.decode_style = DecodeStyle::kSentencePiece;
        } else if (type == "Strip") {
            p.strip_leading_space = d.value("start", 0) > 0;
        } else if (type == "WordPiece") {
            p.decode_style = DecodeStyle::kWordPiece;
            p.strip_leading_space = true;
        }
    }

    Status model(const json& m) {
        const std::string type = str_or(m, "type", "BPE");
        const json& vocab = m.value("vocab", json::object());
        if (!vocab.is_object()) return Status::error(path + ": model.vocab must be an object");
        for (const auto& [piece, id] : vocab.items()) {
            if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
                id.get<int64_t>() >= int64_t(vocab.size()) + kIdSlack) {
                return Status::error(path + ": model.vocab['" + piece + "'] is not a valid id");
            }
            set_piece(int32_t(id.get<int64_t>()), piece, TokenKind::kNormal);
        }
        const std::string unk = m.contains("unk_token") && m["unk_token"].is_string()
                                    ? m["unk_token"].get<std::string>()
                                    : "";
        if (!unk.empty()) {
            if (auto it = p.index->find(unk); it != p.index->end()) p.ids.unk = it->second;
        }
        if (type == "BPE") return bpe(m);
        if (type == "WordPiece") {
            const std::string prefix = str_or(m, "continuing_subword_prefix", "##");
            p.model = std::make_unique<HfWordPieceModel>(
                p.index, p.ids.unk.value_or(-1), prefix,
                size_t(m.value("max_input_chars_per_word", 100)));
            p.decode_style = DecodeStyle::kWordPiece;
            p.strip_leading_space = true;
            return ok_status();
        }
        return Status::error(path + ": model type '" + type +
                             "' is not supported (supported: BPE, WordPiece)");
    }

    Status bpe(const json& m) {
        std::vector<std::pair<std::string, std::string>> merges;
        for (const json& mj : m.value("merges", json::array())) {
            if (mj.is_string()) {
                const std::string s = mj.get<std::string>();
                const size_t sp = s.find(' ', 1);
                if (sp == std::string::npos) return Status::error(path + ": bad merge '" + s + "'");
                merges.emplace_back(s.substr(0, sp), s.substr(sp + 1));
            } else if (mj.is_array() && mj.size() == 2 && mj[0].is_string() && mj[1].is_string()) {
                merges.emplace_back(mj[0].get<std::string>(), mj[1].get<std::string>());
            } else {
                return Status::error(path + ": a merge is neither 'a b' nor [a, b]");
            }
        }
        BpeOptions opt;
        opt.ignore_merges = bool_or(m, "ignore_merges", false);
        opt.byte_fallback = bool_or(m, "byte_fallback", false);
        opt.fuse_unk = bool_or(m, "fuse_unk", false);
        opt.unk_id = p.ids.unk.value_or(-1);
        opt.continuing_subword_prefix = str_or(m, "continuing_subword_prefix");
        opt.end_of_word_suffix = str_or(m, "end_of_word_suffix");
        if (opt.byte_fallback) {
            for (size_t i = 0; i < p.pieces.size(); ++i) {
                const std::string& s = p.pieces[i];
                if (s.size() == 6 && s.rfind("<0x", 0) == 0 && s[5] == '>')
                    p.kinds[i] = TokenKind::kByte;
            }
        }
        p.model = std::make_unique<BpeModel>(p.index, merges, opt);
        return ok_status();
    }

    void set_piece(int32_t id, const std::string& piece, TokenKind kind) {
        if (size_t(id) >= p.pieces.size()) {
            p.pieces.resize(size_t(id) + 1);
            p.kinds.resize(size_t(id) + 1, TokenKind::kUnused);
        }
        p.pieces[size_t(id)] = piece;
        p.kinds[size_t(id)] = kind;
        (*p.index)[piece] = id;
    }

    Status added_tokens(const json& list) {
        for (const json& t : list) {
            if (!t.is_object() || !t.contains("id") || !t["id"].is_number_integer() ||
                !t.contains("content") || !t["content"].is_string()) {
                return Status::error(path + ": an added_tokens entry lacks id or content");
            }
            const int64_t id = t["id"].get<int64_t>();
            if (id < 0 || id >= int64_t(p.pieces.size() + list.size()) + kIdSlack)
                return Status::error(path + ": added token id out of range");
            const bool special = bool_or(t, "special", false);
            const std::string content = t["content"].get<std::string>();
            set_piece(int32_t(id), content,
                      special ? TokenKind::kControl : TokenKind::kUserDefined);
            p.added.push_back({content, int32_t(id), special, bool_or(t, "lstrip", false),
                               bool_or(t, "rstrip", false)});
        }
        return ok_status();
    }

    std::optional<int32_t> id_of(const std::string& text) const {
        if (text.empty()) return std::nullopt;
        const auto it = p.index->find(text);
        return it == p.index->end() ? std::nullopt : std::optional<int32_t>(it->second);
    }

    // TemplateProcessing/BertProcessing/RobertaProcessing give the ids add_special adds.
    bool post_processor(const json& pp) {
        if (pp.is_null()) return false;
        const std::string type = str_or(pp, "type");
        if (type == "Sequence") {
            bool any = false;
            for (const json& s : pp.value("processors", json::array())) any |= post_processor(s);
            return any;
        }
        if (type == "TemplateProcessing") {
            bool after = false;
            for (const json& item : pp.value("single", json::array())) {
                if (item.contains("Sequence")) {
                    after = true;
                } else if (item.contains("SpecialToken")) {
                    const std::string name = str_or(item["SpecialToken"], "id");
                    std::vector<int32_t> ids;
                    const json& st = pp.value("special_tokens", json::object());
                    if (st.contains(name) && st[name].contains("ids")) {
                        for (const json& i : st[name]["ids"]) ids.push_back(i.get<int32_t>());
                    } else if (auto id = id_of(name)) {
                        ids.push_back(*id);
                    }
                    auto& dst = after ? p.suffix : p.prefix;
                    dst.insert(dst.end(), ids.begin(), ids.end());
                }
            }
            return true;
        }
        if (type == "BertProcessing" || type == "RobertaProcessing") {
            const json& cls = pp.value("cls", json());
            const json& sep = pp.value("sep", json());
            if (cls.is_array() && cls.size() == 2) p.prefix = {cls[1].get<int32_t>()};
            if (sep.is_array() && sep.size() == 2) p.suffix = {sep[1].get<int32_t>()};
            return true;
        }
        return false;
    }
};

void read_config(const json& cfg, TokenizerParts& p, bool have_post_processor,
                 const std::function<std::optional<int32_t>(const std::string&)>& id_of) {
    if (auto id = id_of(token_text(cfg, "bos_token"))) p.ids.bos = id;
    if (auto id = id_of(token_text(cfg, "eos_token"))) p.ids.eos = id;
    if (auto id = id_of(token_text(cfg, "pad_token"))) p.ids.pad = id;
    if (auto id = id_of(token_text(cfg, "unk_token"))) p.ids.unk = id;
    if (have_post_processor) return;
    if (bool_or(cfg, "add_bos_token", false) && p.ids.bos) p.prefix = {*p.ids.bos};
    if (bool_or(cfg, "add_eos_token", false) && p.ids.eos) p.suffix = {*p.ids.eos};
}

// A Llama tokenizer configured with "legacy": false puts "▁" once before the whole text
// instead of normalizing every section (Hugging Face transformers PR 24565).
void apply_llama_legacy_rule(const json& cfg, TokenizerParts& p) {
    std::string cls = str_or(cfg, "tokenizer_class");
    if (cls.size() > 4 && cls.compare(cls.size() - 4, 4, "Fast") == 0) cls.resize(cls.size() - 4);
    if (cls != "LlamaTokenizer" || bool_or(cfg, "legacy", true)) return;
    p.normalizers.clear();
    p.pre_tokenizers.clear();
    p.pre_tokenizers.push_back(
        std::make_unique<MetaspacePreTokenizer>("\xe2\x96\x81", PrependScheme::kFirst, false));
    p.llama_prefix_once = true;
}

void collect_end_of_generation(
    const json& gen, TokenizerParts& p,
    const std::function<std::optional<int32_t>(const std::string&)>& id_of) {
    auto add = [&](int64_t id) {
        if (id < 0 || size_t(id) >= p.pieces.size()) return;
        if (std::find(p.end_of_generation.begin(), p.end_of_generation.end(), id) ==
            p.end_of_generation.end()) {
            p.end_of_generation.push_back(int32_t(id));
        }
    };
    if (p.ids.eos) add(*p.ids.eos);
    {
        const json& e = gen.value("eos_token_id", json());
        if (e.is_number_integer()) add(e.get<int64_t>());
        if (e.is_array()) {
            for (const json& i : e) {
                if (i.is_number_integer()) add(i.get<int64_t>());
            }
        }
    }
    for (const char* text :
         {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|eom_id|>"}) {
        if (auto id = id_of(text)) {
            if (!p.ids.eot) p.ids.eot = id;
            add(*id);
        }
    }
}

}  // namespace

namespace {

Result<std::shared_ptr<const Tokenizer>> build(const json& tj, const json& cfg, const json& gen,
                                               const std::string& name) {
    const std::string path = name + "/tokenizer.json";
    if (!tj.is_object() || !tj.contains("model"))
        return Status::error(path + ": no \"model\" section");
    TokenizerParts p;
    p.source = name;
    p.index = std::make_shared<PieceIndex>();
    Loader l{path, p};
    CITADEL_TRY(l.model(tj["model"]));
    CITADEL_TRY(l.added_tokens(tj.value("added_tokens", json::array())));
    CITADEL_TRY(l.normalizer(tj.value("normalizer", json())));
    CITADEL_TRY(l.pre_tokenizer(tj.value("pre_tokenizer", json())));
    l.decoder(tj.value("decoder", json()));
    const bool have_pp = l.post_processor(tj.value("post_processor", json()));
    if (p.ids.unk && size_t(*p.ids.unk) < p.kinds.size())
        p.kinds[size_t(*p.ids.unk)] = TokenKind::kUnknown;
    const auto id_of = [&l](const std::string& t) { return l.id_of(t); };
    for (const auto* list : {&p.prefix, &p.suffix}) {
        for (int32_t id : *list) {
            if (id < 0 || size_t(id) >= p.pieces.size()) {
                return Status::error(path + ": post_processor names token id " +
                                     std::to_string(id) + ", which is not in the vocabulary");
            }
        }
    }
    const json& config = cfg.is_object() ? cfg : json::object();
    read_config(config, p, have_pp, id_of);
    apply_llama_legacy_rule(config, p);
    collect_end_of_generation(gen, p, id_of);
    return std::shared_ptr<const Tokenizer>(std::make_shared<Tokenizer>(std::move(p)));
}

}  // namespace

Result<std::shared_ptr<const Tokenizer>> load_hf_tokenizer_json(const std::string& tokenizer_json,
                                                                const std::string& config_json,
                                                                const std::string& name) {
    const json tj = json::parse(tokenizer_json, nullptr, false);
    if (tj.is_discarded()) return Status::error(name + "/tokenizer.json: not valid JSON");
    const json cfg = json::parse(config_json, nullptr, false);
    try {
        return build(tj, cfg.is_discarded() ? json::object() : cfg, json::object(), name);
    } catch (const json::exception& e) {
        return Status::error(name + "/tokenizer.json: unexpected JSON shape (" + e.what() + ")");
    }
}

Result<std::shared_ptr<const Tokenizer>> load_hf_tokenizer(const std::string& dir) {
    const std::string path = dir + "/tokenizer.json";
    if (!fs::exists(path)) return Status::error(dir + ": no tokenizer.json in this directory");
    Result<json> tj = read_json(path);
    if (!tj) return tj.status();
    json cfg = json::object(), gen = json::object();
    if (Result<json> c = read_json(dir + "/tokenizer_config.json"); c && c->is_object()) cfg = *c;
    if (Result<json> g = read_json(dir + "/generation_config.json"); g && g->is_object()) gen = *g;
    try {
        return build(*tj, cfg, gen, dir);
    } catch (const json::exception& e) {
        return Status::error(path + ": unexpected JSON shape (" + e.what() + ")");
    }
}

}  // namespace citadel::text
