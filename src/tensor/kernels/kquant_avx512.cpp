// Placeholder until the kquant kernels for avx512 are written (owned by the kernel work).
#include "tensor/kernels.h"

namespace citadel {
void register_kquant_avx512(KernelTable& t) { (void)t; }
}  // namespace citadel
