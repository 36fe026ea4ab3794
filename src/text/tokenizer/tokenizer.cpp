#include "text/tokenizer.h"

#include <algorithm>

#include "text/tokenizer/byte_level.h"
#include "text/unicode.h"

namespace citadel::text {
namespace {

const std::string kMetaspace = "\xe2\x96\x81";  // "▁"

std::string replace_all(const std::string& s, const std::string& from, const std::string& to) {
    std::string out;
    size_t last = 0;
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, last)) {
        out.append(s, last, at - last);
        out += to;
        last = at + from.size();
    }
    out.append(s, last, std::string::npos);
    return out;
}

bool is_space_byte(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string sentencepiece_bytes(const std::string& piece, TokenKind kind) {
    if (kind == TokenKind::kByte && piece.size() == 6 && piece.rfind("<0x", 0) == 0) {
        return std::string(1, char(std::stoi(piece.substr(3, 2), nullptr, 16)));
    }
    std::string out;
    for (size_t i = 0; i < piece.size(); ++i) {
        if (piece.compare(i, 3, "\xe2\x96\x81") == 0) {  // U+2581 "▁"
            out += ' ';
            i += 2;
        } else {
            out += piece[i];
        }
    }
    return out;
}

}  // namespace

Tokenizer::Tokenizer(TokenizerParts parts) : p_(std::move(parts)) {
    added_by_first_byte_.resize(256);
    std::vector<size_t> order(p_.added.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return p_.added[a].text.size() > p_.added[b].text.size();
    });
    for (size_t i : order) {
        if (p_.added[i].text.empty()) continue;
        added_by_first_byte_[static_cast<unsigned char>(p_.added[i].text[0])].push_back(i);
    }
}

std::optional<int32_t> Tokenizer::find(std::string_view piece) const {
    const auto it = p_.index->find(piece);
    if (it == p_.index->end()) return std::nullopt;
    return it->second;
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
    return std::find(p_.end_of_generation.begin(), p_.end_of_generation.end(), id) !=
           p_.end_of_generation.end();
}

// Cuts text at added tokens: the leftmost match wins, the longest among those at one place.
std::vector<Tokenizer::Section> Tokenizer::split_added(std::string_view text,
                                                       const EncodeOptions& opt) const {
    auto in_literal = [&](size_t b, size_t e) {
        for (const Span& s : opt.literal) {
            if (b < s.end && s.begin < e) return true;
        }
        return false;
    };
    std::vector<Section> out;
    size_t start = 0;  // of the pending text section
    bool strip_next = false;
    auto push_text = [&](size_t b, size_t e, bool lstrip_end) {
        if (strip_next) {
            while (b < e && is_space_byte(text[b])) ++b;
        }
        if (lstrip_end) {
            while (e > b && is_space_byte(text[e - 1])) --e;
        }
        if (e > b) out.push_back({text.substr(b, e - b), -1});
    };
    for (size_t i = 0; i < text.size();) {
        const AddedToken* hit = nullptr;
        for (size_t k : added_by_first_byte_[static_cast<unsigned char>(text[i])]) {
            const AddedToken& t = p_.added[k];
            if (t.special && !opt.parse_special) continue;
            if (text.compare(i, t.text.size(), t.text) == 0) {
                if (t.special && in_literal(i, i + t.text.size())) continue;
                hit = &t;
                break;
            }
        }
        if (hit == nullptr) {
            ++i;
            continue;
        }
        push_text(start, i, hit->lstrip);
        out.push_back({text.substr(i, hit->text.size()), hit->id});
        strip_next = hit->rstrip;
        i += hit->text.size();
        start = i;
    }
    push_text(start, text.size(), false);
    return out;
}

void Tokenizer::encode_text(std::string_view text, bool first, std::vector<int32_t>& out) const {
    std::string s(text);
    for (const auto& n : p_.normalizers) s = n->apply(std::move(s));
    std::vector<std::string> pieces;
    pieces.push_back(std::move(s));
    const PieceContext ctx{first};
    for (const auto& pre : p_.pre_tokenizers) pre->apply(pieces, ctx);
    for (const std::string& piece : pieces) p_.model->encode(piece, out);
}

std::vector<int32_t> Tokenizer::encode(std::string_view raw, const EncodeOptions& opt) const {
    std::string text = sanitize_utf8(raw);
    // Literal ranges are byte offsets into raw; keep them only while they still point there.
    std::vector<Span> literal(opt.literal.begin(), opt.literal.end());
    if (text.size() != raw.size()) literal.clear();
    if (p_.llama_prefix_once && !text.empty()) {
        if (text.find(kMetaspace) != std::string::npos) literal.clear();
        for (Span& sp : literal) sp = {sp.begin + kMetaspace.size(), sp.end + kMetaspace.size()};
        text = kMetaspace + replace_all(text, kMetaspace, " ");
    }
    std::vector<int32_t> out;
    if (opt.add_special) out = p_.prefix;
    const size_t body = out.size();
    bool first = true;
    EncodeOptions o = opt;
    o.literal = literal;
    for (const Section& s : split_added(text, o)) {
        if (s.token >= 0) {
            out.push_back(s.token);
        } else {
            encode_text(s.text, first, out);
        }
        first = false;
    }
    if (p_.llama_prefix_once && out.size() > body + 1 && piece(out[body]) == kMetaspace &&
        (kind(out[body + 1]) == TokenKind::kControl ||
         kind(out[body + 1]) == TokenKind::kUnknown)) {
        out.erase(out.begin() + std::ptrdiff_t(body));
    }
    if (opt.add_special) out.insert(out.end(), p_.suffix.begin(), p_.suffix.end());
    return out;
}

std::string Tokenizer::token_bytes(int32_t id, bool render_special) const {
    if (id < 0 || size_t(id) >= p_.pieces.size()) return {};
    const std::string& piece = p_.pieces[size_t(id)];
    switch (p_.kinds[size_t(id)]) {
        case TokenKind::kControl:
            return render_special ? piece : std::string();
        case TokenKind::kUserDefined:
            return piece;
        default:
            break;
    }
    switch (p_.decode_style) {
        case DecodeStyle::kByteLevel:
            return byte_level_to_bytes(piece);
        case DecodeStyle::kSentencePiece:
            return sentencepiece_bytes(piece, p_.kinds[size_t(id)]);
        case DecodeStyle::kWordPiece:
            return piece.rfind("##", 0) == 0 ? piece.substr(2) : " " + piece;
    }
    return piece;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, const DecodeOptions& opt) const {
    std::string out;
    bool at_start = true;
    for (int32_t id : ids) {
        std::string b = token_bytes(id, !opt.skip_special);
        if (b.empty()) continue;
        if (at_start && p_.strip_leading_space && b[0] == ' ') b.erase(0, 1);
        at_start = false;
        out += b;
    }
    return out;
}

}  // namespace citadel::text
