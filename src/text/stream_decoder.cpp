#include "text/stream_decoder.h"

#include "text/unicode.h"

namespace citadel::text {

std::string StreamDecoder::push(int32_t token) {
    std::string bytes = tok_.token_bytes(token, !skip_special_);
    if (bytes.empty()) return {};
    if (at_start_ && tok_.strips_leading_space() && bytes[0] == ' ') bytes.erase(0, 1);
    at_start_ = false;
    pending_ += bytes;
    const size_t ready = pending_.size() - incomplete_utf8_tail(pending_);
    std::string out = sanitize_utf8(std::string_view(pending_).substr(0, ready));
    pending_.erase(0, ready);
    return out;
}

std::string StreamDecoder::finish() {
    std::string out = sanitize_utf8(pending_);
    pending_.clear();
    return out;
}

}  // namespace citadel::text
