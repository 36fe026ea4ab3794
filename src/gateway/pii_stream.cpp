#include "gateway/pii_stream.h"

#include <algorithm>

namespace citadel::gateway {
namespace {

// Emitted bytes kept before the undecided text: detectors read one byte before a match.
constexpr size_t kContextBytes = 8;

// The largest cut <= pos that does not fall inside a UTF-8 character of text (whose bytes
// from text.size() on may still be coming). A byte that cannot start a character counts as
// a character of its own, so invalid UTF-8 never stalls the stream.
size_t utf8_safe_cut(std::string_view text, size_t pos) {
    for (size_t back = 1; back <= 4 && back <= pos; ++back) {
        const uint8_t c = uint8_t(text[pos - back]);
        if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
        const size_t length = c < 0x80           ? 1
                              : (c >> 5) == 0x6  ? 2
                              : (c >> 4) == 0xE  ? 3
                              : (c >> 3) == 0x1E ? 4
                                                 : 1;
        return length > back ? pos - back : pos;
    }
    return pos;
}

}  // namespace

PiiStreamRedactor::PiiStreamRedactor(std::shared_ptr<const PiiScanner> scanner)
    : scanner_(std::move(scanner)) {
    CITADEL_CHECK(scanner_ != nullptr);
}

std::string PiiStreamRedactor::push(std::string_view chunk) {
    CITADEL_CHECK(!finished_);
    buffer_.append(chunk);
    return drain(false);
}

std::string PiiStreamRedactor::finish() {
    CITADEL_CHECK(!finished_);
    std::string rest = drain(true);
    finished_ = true;
    buffer_.clear();
    emitted_ = decided_ = 0;
    return rest;
}

// Decides what the text so far allows, emits it (matches as placeholders) up to a UTF-8
// boundary, and drops what no later decision needs.
std::string PiiStreamRedactor::drain(bool complete) {
    std::vector<PiiMatch> matches;
    decided_ = scanner_->scan_decided(buffer_, decided_, complete, &matches);
    std::string out;
    size_t pos = emitted_;
    for (const PiiMatch& m : matches) {
        out.append(buffer_, pos, m.begin - pos);
        out += '[';
        out += m.type;
        out += ']';
        note_type(m.type);
        pos = m.end;
    }
    const size_t cut = complete ? buffer_.size() : std::max(pos, utf8_safe_cut(buffer_, decided_));
    out.append(buffer_, pos, cut - pos);
    emitted_ = cut;
    if (emitted_ > kContextBytes) {
        const size_t drop = emitted_ - kContextBytes;
        buffer_.erase(0, drop);
        emitted_ -= drop;
        decided_ -= drop;
    }
    return out;
}

void PiiStreamRedactor::note_type(const std::string& type) {
    if (std::find(found_types_.begin(), found_types_.end(), type) == found_types_.end()) {
        found_types_.push_back(type);
    }
}

}  // namespace citadel::gateway
