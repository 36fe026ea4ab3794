// Placeholder until the kquant kernels for scalar are written (owned by the kernel work).
#include "tensor/kernels.h"

namespace citadel {
void register_kquant_scalar(KernelTable& t) { (void)t; }
}  // namespace citadel
