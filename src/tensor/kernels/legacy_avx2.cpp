// Placeholder until the legacy kernels for avx2 are written (owned by the kernel work).
#include "tensor/kernels.h"

namespace citadel {
void register_legacy_avx2(KernelTable& t) { (void)t; }
}  // namespace citadel
