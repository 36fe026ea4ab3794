#include "quant/quantize.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "tensor/kernels.h"

namespace citadel::quant {

void quantize_rows(ThreadPool& pool, const RowSource& source, DType type, int64_t n_rows,
                   int64_t n_cols, uint8_t* dst) {
    const QuantizeRowFn quantize = kernels()[type].quantize_row;
    CITADEL_CHECK(quantize != nullptr);
    const size_t dst_row_bytes = row_bytes(type, n_cols);
    // About 64 Ki elements per task: few enough tasks to keep scheduling cheap, enough to
    // balance the threads.
    const int64_t rows_per_task = std::max<int64_t>(1, (int64_t(1) << 16) / n_cols);
    const int64_t n_tasks = (n_rows + rows_per_task - 1) / rows_per_task;
    std::vector<std::vector<float>> scratch(size_t(pool.size()));  // [thread][n_cols]
    // Hot loop: every element of the model passes through here once.
    pool.parallel_for(n_tasks, [&](int64_t task, int thread) {
        std::vector<float>& row = scratch[size_t(thread)];
        row.resize(size_t(n_cols));
        const int64_t end = std::min(n_rows, (task + 1) * rows_per_task);
        for (int64_t r = task * rows_per_task; r < end; ++r) {
            source(r, row.data());
            quantize(row.data(), dst + size_t(r) * dst_row_bytes, n_cols);
        }
    });
}

void tally(TypeTallies& tallies, DType type, int64_t elements, uint64_t bytes) {
    TypeTally& t = tallies[dtype_name(type)];
    ++t.tensors;
    t.elements += elements;
    t.bytes += bytes;
}

ModelFacts model_facts(const gguf::File& file) {
    ModelFacts f;
    const std::string arch = file.get_string("general.architecture").value_or("");
    f.n_layer = std::max<int64_t>(1, file.get_int(arch + ".block_count").value_or(1));
    const int64_t n_head = file.get_int(arch + ".attention.head_count").value_or(1);
    const int64_t n_head_kv = file.get_int(arch + ".attention.head_count_kv").value_or(n_head);
    f.n_gqa = n_head_kv > 0 ? std::max<int64_t>(1, n_head / n_head_kv) : 1;
    f.tied_embeddings = file.find_tensor("output.weight") == nullptr;
    return f;
}

std::vector<DType> plan_types(const gguf::File& file, const Mix& mix) {
    const ModelFacts facts = model_facts(file);
    std::vector<DType> types;
    for (const gguf::TensorInfo& t : file.tensors()) {
        types.push_back(tensor_type(mix, TensorRole{.name = t.name,
                                                    .n_dims = int(t.dims.size()),
                                                    .row_length = t.dims[0],
                                                    .n_layer = facts.n_layer,
                                                    .n_gqa = facts.n_gqa,
                                                    .tied_embeddings = facts.tied_embeddings}));
    }
    return types;
}

namespace {

bool same_file(const std::string& a, const std::string& b) {
    std::error_code ec;
    if (std::filesystem::equivalent(a, b, ec)) return true;
    const auto ca = std::filesystem::weakly_canonical(a, ec);
    const auto cb = std::filesystem::weakly_canonical(b, ec);
    return !ec && ca == cb;
}

// Every input tensor must be convertible to its planned type before anything is written.
Status check_convertible(const gguf::File& in, const std::vector<DType>& types) {
    for (size_t i = 0; i < types.size(); ++i) {
        const gguf::TensorInfo& t = in.tensors()[i];
        if (t.type == types[i]) continue;
        if (kernels()[t.type].dequantize_row == nullptr) {
            return Status::error(in.path() + ": tensor '" + t.name + "' has type " +
                                 dtype_name(t.type) + ", which Citadel cannot convert");
        }
    }
    return ok_status();
}

// The writer's source for one tensor: its bytes as they are, or converted row by row.
gguf::Writer::FillFn tensor_fill(const gguf::TensorInfo& t, DType out_type, ThreadPool& pool) {
    if (t.type == out_type) {
        return [&t](uint8_t* dst, size_t n) { std::memcpy(dst, t.data, std::min(n, t.n_bytes)); };
    }
    return [&t, out_type, &pool](uint8_t* dst, size_t) {
        const int64_t n_cols = t.dims[0];
        const size_t src_row_bytes = row_bytes(t.type, n_cols);
        const DequantizeRowFn dequantize = kernels()[t.type].dequantize_row;
        const RowSource source = [&](int64_t row, float* out) {
            dequantize(t.data + size_t(row) * src_row_bytes, out, n_cols);
        };
        quantize_rows(pool, source, out_type, t.n_rows(), n_cols, dst);
    };
}

}  // namespace

Result<QuantizeReport> quantize_file(const QuantizeOptions& o) {
    if (same_file(o.input, o.output)) {
        return Status::error("the output " + o.output +
                             " is the input file; write the quantized model to a new path");
    }
    Result<std::shared_ptr<const gguf::File>> opened = gguf::File::open(o.input);
    if (!opened) return opened.status();
    const gguf::File& in = **opened;
    const std::vector<DType> types = plan_types(in, o.mix);
    CITADEL_TRY(check_convertible(in, types));

    gguf::Writer w;
    w.set_alignment(in.alignment());
    for (const auto& [key, value] : in.metadata()) w.set(key, value);
    w.set("general.quantization_version", gguf::Value::u32(2));
    w.set("general.file_type", gguf::Value::u32(o.mix.file_type));

    ThreadPool pool(o.n_threads);
    QuantizeReport report;
    for (size_t i = 0; i < types.size(); ++i) {
        const gguf::TensorInfo& t = in.tensors()[i];
        const uint64_t out_bytes = row_bytes(types[i], t.dims[0]) * uint64_t(t.n_rows());
        tally(report.before, t.type, t.n_elements(), t.n_bytes);
        tally(report.after, types[i], t.n_elements(), out_bytes);
        report.bytes_before += t.n_bytes;
        report.bytes_after += out_bytes;
        w.add_tensor(t.name, t.dims, types[i], tensor_fill(t, types[i], pool));
    }
    if (Status s = w.write(o.output); !s) {
        return Status::error(s.message() + " (is the output directory writable?)");
    }
    return report;
}

}  // namespace citadel::quant
