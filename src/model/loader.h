// Looks up tensors of a GGUF model by name and checks their shape and type.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "gguf/gguf.h"
#include "tensor/kernels.h"
#include "tensor/matmul.h"

namespace citadel {

class TensorLoader {
  public:
    TensorLoader(const gguf::File& file, const KernelTable& kernels)
        : file_(file), kernels_(kernels) {}

    bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }
    // A matrix of n_rows rows of n_cols (GGUF dims {n_cols, n_rows}) in a computable type.
    Status matrix(const std::string& name, int64_t n_cols, int64_t n_rows, WeightView& out) const;
    // A vector of n elements (any type we can dequantize), converted to floats.
    Status vector(const std::string& name, int64_t n, std::vector<float>& out) const;
    // As vector(), but a missing tensor leaves `out` empty.
    Status optional_vector(const std::string& name, int64_t n, std::vector<float>& out) const;

    static std::string layer_name(int il, const char* suffix) {
        return "blk." + std::to_string(il) + "." + suffix;
    }

  private:
    Status find(const std::string& name, const gguf::TensorInfo** out) const;

    const gguf::File& file_;
    const KernelTable& kernels_;
};

}  // namespace citadel
