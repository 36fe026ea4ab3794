// Placeholder until the legacy kernels for scalar are written (owned by the kernel work).
#include "tensor/kernels.h"

namespace citadel {
void register_legacy_scalar(KernelTable& t) { (void)t; }
}  // namespace citadel
