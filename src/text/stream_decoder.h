// Detokenization for streaming: tokens arrive one at a time and the text handed out must
// never split a UTF-8 character (a byte-fallback or byte-level token may carry only part of
// one). The tokenizer's leading-space rule applies once, at the start of the stream.
#pragma once

#include <string>

#include "text/tokenizer.h"

namespace citadel::text {

class StreamDecoder {
  public:
    explicit StreamDecoder(const Tokenizer& tok, bool skip_special = true)
        : tok_(tok), skip_special_(skip_special) {}

    // The text that became complete with this token (often all of it, sometimes nothing).
    std::string push(int32_t token);
    // Whatever is still held back; bytes that never completed a character become U+FFFD.
    std::string finish();

  private:
    const Tokenizer& tok_;
    bool skip_special_;
    bool at_start_ = true;
    std::string pending_;
};

}  // namespace citadel::text
