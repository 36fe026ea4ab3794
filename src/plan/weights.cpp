#include "plan/weights.h"

#include <map>
#include <optional>

#include "quant/mix.h"

namespace citadel::plan {
namespace {

struct Tally {
    WeightBytes w;
    double params = 0;
    std::map<std::string, int> types;
};

void add_tensor(Tally& t, const WeightTensor& tensor, DType type, double bytes, int64_t n_vocab) {
    t.w.total += bytes;
    t.params += double(tensor.n_elements());
    ++t.types[dtype_name(type)];
    if (tensor.lookup_only) {
        t.w.lookup_table += bytes;
        t.w.per_token_read += bytes / double(n_vocab > 0 ? n_vocab : 1);
    } else if (tensor.active_fraction < 1.0) {
        t.w.routed_experts += bytes;
        t.w.per_token_read += bytes * tensor.active_fraction;
    } else {
        t.w.per_token_read += bytes;
    }
}

WeightBytes finish(Tally& t, std::string quant, std::string formula) {
    t.w.quant = std::move(quant);
    t.w.bits_per_weight = t.params > 0 ? 8.0 * t.w.total / t.params : 0;
    for (const auto& [name, n] : t.types) {
        t.w.types += (t.w.types.empty() ? "" : ", ") + name + " " + std::to_string(n);
    }
    t.w.formula = std::move(formula);
    return t.w;
}

// Rows: the product of every dim but the first, experts included (1 for a vector).
int64_t rows_of(const WeightTensor& t) {
    int64_t rows = 1;
    for (size_t i = 1; i < t.dims.size(); ++i) rows *= t.dims[i];
    return rows;
}

}  // namespace

std::vector<std::string> table_quants() {
    return {"f32", "f16", "bf16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q4_0", "q3_k_m", "q2_k"};
}

Result<double> kv_type_bytes(const std::string& kv_type) {
    if (kv_type == "f16" || kv_type == "bf16") return 2.0;
    if (kv_type == "f32") return 4.0;
    if (kv_type == "q8_0") return 34.0 / 32.0;
    return Status::error("unknown KV cache type '" + kv_type + "' (f16, bf16, f32, q8_0)");
}

Result<WeightBytes> weight_bytes(const ModelSource& s, const std::string& quant) {
    Tally t;
    const Arch& a = s.arch;
    if (quant.empty() || quant == "file") {
        if (s.kind != "gguf") {
            return Status::error("--quant is needed for a " + s.kind +
                                 " (the file's own types "
                                 "exist only for a GGUF file)");
        }
        for (size_t i = 0; i < s.tensors.size(); ++i) {
            add_tensor(t, s.tensors[i], s.file_types[i], double(s.file_bytes[i]), a.n_vocab);
        }
        return finish(t, s.file_quant.empty() ? "file" : s.file_quant,
                      "weight_bytes = Σ tensor bytes in the GGUF file (exact)");
    }
    const std::optional<quant::Mix> mix = quant::find_mix(quant);
    if (!mix) {
        return Status::error("unknown quantization '" + quant + "'; known: " + quant::mix_names());
    }
    const int64_t n_gqa = a.n_head_kv > 0 ? a.n_head / a.n_head_kv : 1;
    for (const WeightTensor& tensor : s.tensors) {
        const quant::TensorRole role{.name = tensor.name,
                                     .n_dims = int(tensor.dims.size()),
                                     .row_length = tensor.dims.empty() ? 0 : tensor.dims[0],
                                     .n_layer = a.n_layer,
                                     .n_gqa = n_gqa,
                                     .tied_embeddings = a.tied_embeddings};
        const DType type = quant::tensor_type(*mix, role);
        const double bytes = double(row_bytes(type, role.row_length)) * double(rows_of(tensor));
        add_tensor(t, tensor, type, bytes, a.n_vocab);
    }
    return finish(t, mix->name,
                  "weight_bytes = Σ over tensors of rows × row_bytes(type by the " +
                      std::string(mix->name) +
                      " mix rules of src/quant/mix.cpp) (q8_0 34 B/32, q6_K 210 B/256, "
                      "q5_K 176 B/256, q4_K 144 B/256, q3_K 110 B/256, q2_K 84 B/256, "
                      "q4_0 18 B/32, f16 2 B, f32 4 B)");
}

}  // namespace citadel::plan
