// Detokenization for streaming: tokens arrive one at a time and the text handed out must
// never split a UTF-8 character (a byte-fallback or byte-level token may carry only part of
// one). The tokenizer's leading-space rule applies once, at the start of the stream.
#pragma once

#include <string>

#include "text/tokenizer.h"

namespace citadel::text {

class StreamDecoder {
  public:
    // `continuation`: the tokens continue a prompt (a server's reply), so the leading-space
    // rule does not apply: " She" after "...Lily." stays " She", as llama.cpp and vLLM send it.
    explicit StreamDecoder(const Tokenizer& tok, bool skip_special = true,
                           bool continuation = false)
        : tok_(tok), skip_special_(skip_special), at_start_(!continuation) {}

    // The text that became complete with this token (often all of it, sometimes nothing).
    std::string push(int32_t token);
    // Whatever is still held back; bytes that never completed a character become U+FFFD.
    std::string finish();

  private:
    const Tokenizer& tok_;
    bool skip_special_;
    bool at_start_;
    std::string pending_;
};

}  // namespace citadel::text
