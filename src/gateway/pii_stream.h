// Streaming PII redaction for completions: text arrives in chunks (tokens) and must leave
// redacted, with the same result as redacting the whole text at once:
//   concat(push(c1), ..., push(cn), finish()) == scanner.redact(c1 + ... + cn)
// for every way of splitting the text. It holds back only text whose outcome is still open:
// a match is never emitted before it is complete (and known not to grow), ordinary text
// flows with little delay, and a UTF-8 character is never split across two outputs.
//
// Hold-back: for the built-in types only the trailing run of bytes that could still be part
// of a match (e.g. the last word while it might be an e-mail address, a digit run that
// might grow into a card number), at most max_span() + 1 bytes plus the first bytes of an
// incomplete UTF-8 character; a user pattern (any byte may belong to it) holds back about its
// max_length bytes at all times.
//
// One redactor per response stream; not thread-safe. It keeps a shared reference to the
// scanner.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/pii.h"

namespace citadel::gateway {

class PiiStreamRedactor {
  public:
    explicit PiiStreamRedactor(std::shared_ptr<const PiiScanner> scanner);

    std::string push(std::string_view chunk);  // text now safe to emit (possibly empty)
    std::string finish();                      // the rest, at end of stream; call once
    // Distinct types redacted so far, in order of first appearance.
    const std::vector<std::string>& found_types() const { return found_types_; }
    size_t held_bytes() const { return buffer_.size() - emitted_; }  // not yet emitted

  private:
    std::string drain(bool complete);
    void note_type(const std::string& type);

    std::shared_ptr<const PiiScanner> scanner_;
    // The undecided tail of the stream, after a few already-emitted bytes kept as context
    // (the byte before a match decides its left boundary).
    std::string buffer_;
    size_t emitted_ = 0;  // buffer_[0, emitted_) has been emitted
    size_t decided_ = 0;  // buffer_[emitted_, decided_) is decided, ordinary text
    bool finished_ = false;
    std::vector<std::string> found_types_;
};

}  // namespace citadel::gateway
