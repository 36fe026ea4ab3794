// Placeholder until the legacy kernels for avx512 are written (owned by the kernel work).
#include "tensor/kernels.h"

namespace citadel {
void register_legacy_avx512(KernelTable& t) { (void)t; }
}  // namespace citadel
