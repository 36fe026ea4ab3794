#include "model/loader.h"

#include <algorithm>

#include "model/architecture.h"
#include "model/model.h"

namespace citadel {
namespace {

std::string dims_string(const std::vector<int64_t>& dims) {
    std::string s = "[";
    for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
    return s + "]";
}

}  // namespace

Status TensorLoader::find(const std::string& name, const gguf::TensorInfo** out) const {
    *out = file_.find_tensor(name);
    if (*out == nullptr) return Status::error(file_.path() + ": missing tensor '" + name + "'");
    return ok_status();
}

Status TensorLoader::matrix(const std::string& name, int64_t n_cols, int64_t n_rows,
                            WeightView& out) const {
    const gguf::TensorInfo* t = nullptr;
    CITADEL_TRY(find(name, &t));
    const std::vector<int64_t> want = {n_cols, n_rows};
    if (t->dims != want) {
        return Status::error(file_.path() + ": tensor '" + name + "' has shape " +
                             dims_string(t->dims) + ", expected " + dims_string(want));
    }
    if (kernels_[t->type].gemm == nullptr) {
        return Status::error(file_.path() + ": tensor '" + name + "' has type " +
                             dtype_name(t->type) +
                             ", which Citadel cannot compute with (supported: f32, f16, bf16, "
                             "q4_0, q4_1, q5_0, q5_1, q8_0, q2_K, q3_K, q4_K, q5_K, q6_K)");
    }
    out = WeightView{.type = t->type,
                     .data = t->data,
                     .n_cols = n_cols,
                     .n_rows = n_rows,
                     .row_bytes = row_bytes(t->type, n_cols)};
    return ok_status();
}

Status TensorLoader::vector(const std::string& name, int64_t n, std::vector<float>& out) const {
    const gguf::TensorInfo* t = nullptr;
    CITADEL_TRY(find(name, &t));
    if (t->n_elements() != n || t->dims[0] != n) {
        return Status::error(file_.path() + ": tensor '" + name + "' has shape " +
                             dims_string(t->dims) + ", expected [" + std::to_string(n) + "]");
    }
    if (kernels_[t->type].dequantize_row == nullptr) {
        return Status::error(file_.path() + ": tensor '" + name + "' has unsupported type " +
                             dtype_name(t->type));
    }
    out.resize(size_t(n));
    kernels_[t->type].dequantize_row(t->data, out.data(), n);
    return ok_status();
}

Status TensorLoader::optional_vector(const std::string& name, int64_t n,
                                     std::vector<float>& out) const {
    out.clear();
    if (!has(name)) return ok_status();
    return vector(name, n, out);
}

namespace {

// Tensors every architecture here shares: norms, attention projections, gated FFN.
Status load_common_layer(const TensorLoader& ld, const HParams& hp, int il, LayerWeights& l) {
    auto n = [il](const char* s) { return TensorLoader::layer_name(il, s); };
    CITADEL_TRY(ld.vector(n("attn_norm.weight"), hp.n_embd, l.attn_norm));
    CITADEL_TRY(ld.matrix(n("attn_q.weight"), hp.n_embd, hp.q_dim(), l.wq));
    CITADEL_TRY(ld.matrix(n("attn_k.weight"), hp.n_embd, hp.kv_dim(), l.wk));
    CITADEL_TRY(ld.matrix(n("attn_v.weight"), hp.n_embd, hp.v_dim(), l.wv));
    CITADEL_TRY(ld.matrix(n("attn_output.weight"), hp.n_head * hp.head_dim_v, hp.n_embd, l.wo));
    CITADEL_TRY(ld.vector(n("ffn_norm.weight"), hp.n_embd, l.ffn_norm));
    CITADEL_TRY(ld.matrix(n("ffn_gate.weight"), hp.n_embd, hp.n_ff, l.w_gate));
    CITADEL_TRY(ld.matrix(n("ffn_up.weight"), hp.n_embd, hp.n_ff, l.w_up));
    CITADEL_TRY(ld.matrix(n("ffn_down.weight"), hp.n_ff, hp.n_embd, l.w_down));
    return ok_status();
}

Result<int64_t> vocab_size(const gguf::File& f, const HParams& hp) {
    const gguf::TensorInfo* emb = f.find_tensor("token_embd.weight");
    if (emb == nullptr) return Status::error(f.path() + ": missing tensor 'token_embd.weight'");
    if (emb->dims.size() != 2 || emb->dims[0] != hp.n_embd) {
        return Status::error(f.path() + ": tensor 'token_embd.weight' has shape " +
                             dims_string(emb->dims) + ", expected [" + std::to_string(hp.n_embd) +
                             ", n_vocab]");
    }
    return emb->dims[1];
}

Status load_weights(const TensorLoader& ld, const Architecture& arch, Model& m) {
    const HParams& hp = m.hp;
    CITADEL_TRY(ld.matrix("token_embd.weight", hp.n_embd, hp.n_vocab, m.tok_embd));
    CITADEL_TRY(ld.vector("output_norm.weight", hp.n_embd, m.output_norm));
    m.tied_embeddings = !ld.has("output.weight");
    if (m.tied_embeddings) {
        m.output = m.tok_embd;
    } else {
        CITADEL_TRY(ld.matrix("output.weight", hp.n_embd, hp.n_vocab, m.output));
    }
    CITADEL_TRY(ld.optional_vector("rope_freqs.weight", hp.n_rot / 2, m.rope_freq_factors));
    m.layers.resize(size_t(hp.n_layer));
    for (int il = 0; il < hp.n_layer; ++il) {
        CITADEL_TRY(load_common_layer(ld, hp, il, m.layers[size_t(il)]));
        CITADEL_TRY(arch.load_layer(ld, hp, il, m.layers[size_t(il)]));
    }
    return ok_status();
}

}  // namespace

size_t Model::weight_bytes() const {
    size_t total = 0;
    for (const gguf::TensorInfo& t : file->tensors()) total += t.n_bytes;
    return total;
}

Result<std::shared_ptr<const Model>> load_model(std::shared_ptr<const gguf::File> file) {
    const std::string arch_name = file->get_string("general.architecture").value_or("");
    if (arch_name.empty()) {
        return Status::error(file->path() + ": no 'general.architecture' in the metadata");
    }
    const Architecture* arch = find_architecture(arch_name);
    if (arch == nullptr) {
        return Status::error(file->path() + ": unsupported architecture '" + arch_name +
                             "' (supported: " + supported_architectures() + ")");
    }
    Result<HParams> hp = read_hparams(*file, arch->rope_mode);
    if (!hp) return hp.status();
    auto m = std::make_shared<Model>();
    m->hp = std::move(hp).value();
    m->arch = arch;
    m->file = file;
    Result<int64_t> n_vocab = vocab_size(*file, m->hp);
    if (!n_vocab) return n_vocab.status();
    m->hp.n_vocab = *n_vocab;
    TensorLoader loader(*file, kernels());
    CITADEL_TRY(load_weights(loader, *arch, *m));
    return std::shared_ptr<const Model>(std::move(m));
}

Result<std::shared_ptr<const Model>> load_model(const std::string& path) {
    Result<std::shared_ptr<const gguf::File>> file = gguf::File::open(path);
    if (!file) return file.status();
    return load_model(std::move(file).value());
}

}  // namespace citadel
