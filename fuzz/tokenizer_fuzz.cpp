// libFuzzer target for the tokenizer loaders and the pipelines they build. The input is
// "<selector byte><loader input>\0<text>": selector even = a Hugging Face tokenizer.json,
// odd = a GGUF file; the text is then encoded (with and without special tokens) and decoded.
// Any input must give a tokenizer or an error, never a crash, hang or sanitizer report.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "gguf/gguf.h"
#include "text/stream_decoder.h"
#include "text/tokenizer.h"

namespace {

void exercise(const citadel::text::Tokenizer& tok, const std::string& text) {
    for (bool special : {false, true}) {
        const auto ids = tok.encode(text, {.add_special = special, .parse_special = special});
        for (int32_t id : ids) {
            if (id < 0 || size_t(id) >= tok.size()) __builtin_trap();
        }
        citadel::text::StreamDecoder dec(tok);
        std::string streamed;
        for (int32_t id : ids) streamed += dec.push(id);
        streamed += dec.finish();
        (void)tok.decode(ids);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const bool gguf_input = data[0] & 1;
    const char* body = reinterpret_cast<const char*>(data + 1);
    const size_t n = size - 1;
    const void* nul = std::memchr(body, 0, n);
    const size_t cut = nul ? size_t(static_cast<const char*>(nul) - body) : n;
    const std::string loader_input(body, cut);
    const std::string text = nul ? std::string(body + cut + 1, n - cut - 1) : "Hello, world";
    if (gguf_input) {
        auto file =
            citadel::gguf::File::parse(reinterpret_cast<const uint8_t*>(loader_input.data()),
                                       loader_input.size(), "fuzz.gguf");
        if (!file.ok()) return 0;
        auto tok = citadel::text::load_tokenizer(**file);
        if (!tok.ok()) {
            if (tok.error().empty()) __builtin_trap();
            return 0;
        }
        exercise(**tok, text);
        return 0;
    }
    auto tok = citadel::text::load_hf_tokenizer_json(loader_input, "", "fuzz");
    if (!tok.ok()) {
        if (tok.error().empty()) __builtin_trap();
        return 0;
    }
    exercise(**tok, text);
    return 0;
}
