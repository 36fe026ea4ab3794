// libFuzzer target for the GGUF parser: any input must give a File or an error, never a
// crash, sanitizer report, leak or huge allocation. Seed it with small .gguf files.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using citadel::gguf::File;
    auto file = File::parse(data, size, "fuzz.gguf");
    if (!file.ok()) {
        if (file.error().empty()) __builtin_trap();  // every failure must say why
        return 0;
    }
    // Touch everything a loader would: metadata, and every tensor's bytes (inside `data`).
    size_t checksum = 0;
    for (const auto& [key, value] : (*file)->metadata()) {
        checksum += key.size() + (value.as_int() ? 1 : 0) + (value.as_string() ? 2 : 0);
    }
    for (const auto& t : (*file)->tensors()) {
        if (t.data < data || t.data + t.n_bytes > data + size) __builtin_trap();
        if ((*file)->find_tensor(t.name) != &t) __builtin_trap();
        checksum += t.data[0] + t.data[t.n_bytes - 1] + size_t(t.n_elements());
    }
    volatile size_t sink = checksum;
    (void)sink;
    return 0;
}
