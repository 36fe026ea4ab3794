#define PCRE2_CODE_UNIT_WIDTH 8
#include "text/regex.h"

#include <pcre2.h>

#include "text/unicode.h"

namespace citadel::text {
namespace {

struct MatchData {
    pcre2_match_data* data;
    pcre2_match_context* context;
    MatchData(const pcre2_code* code)
        : data(pcre2_match_data_create_from_pattern(code, nullptr)),
          context(pcre2_match_context_create(nullptr)) {
        pcre2_set_match_limit(context, 10'000'000);
    }
    ~MatchData() {
        pcre2_match_data_free(data);
        pcre2_match_context_free(context);
    }
};

}  // namespace

Result<std::shared_ptr<const Regex>> Regex::compile(std::string_view pattern) {
    int err = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* code =
        pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                      PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &offset, nullptr);
    if (code == nullptr) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(err, msg, sizeof msg);
        return Status::error("bad regular expression '" + std::string(pattern) + "' at offset " +
                             std::to_string(offset) + ": " + reinterpret_cast<char*>(msg));
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  // falls back to the interpreter if JIT is off
    std::shared_ptr<Regex> re(new Regex());
    re->pattern_ = std::string(pattern);
    re->code_ = code;
    return std::shared_ptr<const Regex>(std::move(re));
}

Regex::~Regex() {
    pcre2_code_free(static_cast<pcre2_code*>(code_));
}

std::vector<Span> Regex::find_all(std::string_view subject) const {
    const auto* code = static_cast<const pcre2_code*>(code_);
    MatchData local(code);
    std::vector<Span> spans;
    const std::string_view clean = subject;
    const auto* s = reinterpret_cast<PCRE2_SPTR>(clean.data());
    size_t start = 0;
    while (start <= clean.size()) {
        const int rc = pcre2_match(code, s, clean.size(), start, PCRE2_NO_UTF_CHECK, local.data,
                                   local.context);
        if (rc < 0) break;  // no match, or the match limit: the rest stays one piece
        const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(local.data);
        if (ov[1] > ov[0]) {
            spans.push_back({ov[0], ov[1]});
            start = ov[1];
        } else {  // empty match: step over one code point
            start = ov[0] + (ov[0] < clean.size()
                                 ? utf8_sequence_length(static_cast<unsigned char>(clean[ov[0]]))
                                 : 1);
        }
    }
    return spans;
}

}  // namespace citadel::text
