// Model quantization: converts every tensor of a GGUF file to the type its mix assigns,
// streaming tensor by tensor through gguf::Writer so the model is never held in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"
#include "quant/mix.h"
#include "tensor/thread_pool.h"

namespace citadel::quant {

// Writes the float values of row `row` into out[0..n_cols). Called from several threads at
// once, so it must not keep state between calls.
using RowSource = std::function<void(int64_t row, float* out)>;

// dst = n_rows rows of n_cols in `type` (each converted with the type's reference quantizer),
// the rows spread over the pool. The hot loop of quantize and synth.
void quantize_rows(ThreadPool& pool, const RowSource& source, DType type, int64_t n_rows,
                   int64_t n_cols, uint8_t* dst);

// Tensors, elements and bytes of one type.
struct TypeTally {
    int tensors = 0;
    int64_t elements = 0;
    uint64_t bytes = 0;
};
using TypeTallies = std::map<std::string, TypeTally>;  // by type name
void tally(TypeTallies& tallies, DType type, int64_t elements, uint64_t bytes);

struct QuantizeOptions {
    std::string input;
    std::string output;
    Mix mix;
    int n_threads = 0;  // 0: one per core
};

struct QuantizeReport {
    TypeTallies before;  // the input's tensors
    TypeTallies after;   // the output's tensors
    uint64_t bytes_before = 0;
    uint64_t bytes_after = 0;
};

// The facts about a model the mix rules need, read from its metadata and tensors.
struct ModelFacts {
    int64_t n_layer = 1;
    int64_t n_gqa = 1;
    bool tied_embeddings = false;
};
ModelFacts model_facts(const gguf::File& file);

// The output type of every tensor of `file`, in file order.
std::vector<DType> plan_types(const gguf::File& file, const Mix& mix);

// Quantizes options.input into options.output. Errors name the file and what to do.
Result<QuantizeReport> quantize_file(const QuantizeOptions& options);

}  // namespace citadel::quant
