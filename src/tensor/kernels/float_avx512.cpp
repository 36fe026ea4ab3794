// Placeholder until the float kernels for avx512 are written (owned by the kernel work).
#include "tensor/kernels.h"

namespace citadel {
void register_float_avx512(KernelTable& t) { (void)t; }
}  // namespace citadel
