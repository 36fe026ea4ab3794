// Placeholder until the kquant kernels for avx2 are written (owned by the kernel work).
#include "tensor/kernels.h"

namespace citadel {
void register_kquant_avx2(KernelTable& t) { (void)t; }
}  // namespace citadel
