// Placeholder until the float kernels for avx2 are written (owned by the kernel work).
#include "tensor/kernels.h"

namespace citadel {
void register_float_avx2(KernelTable& t) { (void)t; }
}  // namespace citadel
