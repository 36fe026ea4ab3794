#include "text/tokenizer/normalizers.h"

namespace citadel::text {

std::string ReplaceNormalizer::apply(std::string s) const {
    std::string out;
    out.reserve(s.size());
    if (regex_) {
        size_t last = 0;
        for (const Span& m : regex_->find_all(s)) {
            out.append(s, last, m.begin - last);
            out += content_;
            last = m.end;
        }
        out.append(s, last, std::string::npos);
        return out;
    }
    if (literal_.empty()) return s;
    size_t last = 0;
    for (size_t at = s.find(literal_); at != std::string::npos; at = s.find(literal_, last)) {
        out.append(s, last, at - last);
        out += content_;
        last = at + literal_.size();
    }
    out.append(s, last, std::string::npos);
    return out;
}

std::string StripNormalizer::apply(std::string s) const {
    const std::vector<uint32_t> cps = code_points(s);
    size_t b = 0, e = cps.size();
    if (left_) {
        while (b < e && is_whitespace(cps[b])) ++b;
    }
    if (right_) {
        while (e > b && is_whitespace(cps[e - 1])) --e;
    }
    std::string out;
    for (size_t i = b; i < e; ++i) append_utf8(cps[i], out);
    return out;
}

std::string StripAccentsNormalizer::apply(std::string s) const {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = next_code_point(s, i);
        if (!is_mark(cp)) append_utf8(cp, out);
    }
    return out;
}

std::string BertNormalizer::apply(std::string s) const {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = next_code_point(s, i);
        if (clean_ && (cp == 0 || cp == 0xfffd || is_control(cp))) continue;
        if (clean_ && is_whitespace(cp)) {
            out += ' ';
        } else if (chinese_ && is_cjk_ideograph(cp)) {
            out += ' ';
            append_utf8(cp, out);
            out += ' ';
        } else {
            append_utf8(cp, out);
        }
    }
    if (strip_accents_) out = StripAccentsNormalizer().apply(normalize(out, NormalForm::kNFD));
    if (lowercase_) out = to_lower(out);
    return out;
}

}  // namespace citadel::text
