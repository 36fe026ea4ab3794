#include "tensor/kernels.h"

#include <cpuid.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace citadel {

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::kScalar:
            return "scalar";
        case Isa::kAvx2:
            return "avx2";
        case Isa::kAvx512:
            return "avx512";
    }
    return "?";
}

namespace {

// F16C through CPUID leaf 1 (ECX bit 29): not every compiler's __builtin_cpu_supports knows it.
bool has_f16c() {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & (1u << 29)) != 0;
}

}  // namespace

bool cpu_supports(Isa isa) {
    switch (isa) {
        case Isa::kScalar:
            return true;
        case Isa::kAvx2:
            return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
        case Isa::kAvx512:
            return cpu_supports(Isa::kAvx2) && __builtin_cpu_supports("avx512f") &&
                   __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                   __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vnni");
    }
    return false;
}

Isa detect_isa() {
    Isa best = Isa::kScalar;
    if (cpu_supports(Isa::kAvx2)) best = Isa::kAvx2;
    if (cpu_supports(Isa::kAvx512)) best = Isa::kAvx512;
    const char* forced = std::getenv("CITADEL_ISA");
    if (forced == nullptr || *forced == '\0') return best;
    for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512}) {
        if (std::strcmp(forced, isa_name(isa)) != 0) continue;
        if (cpu_supports(isa)) return isa;
        std::fprintf(stderr, "citadel: CITADEL_ISA=%s is not supported by this CPU; using %s\n",
                     forced, isa_name(best));
        return best;
    }
    std::fprintf(stderr, "citadel: unknown CITADEL_ISA=%s (scalar, avx2, avx512); using %s\n",
                 forced, isa_name(best));
    return best;
}

namespace {

KernelTable build_table(Isa isa) {
    KernelTable t;
    t.isa = isa;
    register_vec_scalar(t);
    register_attention_scalar(t);
    register_float_scalar(t);
    register_legacy_scalar(t);
    register_kquant_scalar(t);
    if (isa == Isa::kAvx2 || isa == Isa::kAvx512) {
        register_vec_avx2(t);
        register_attention_avx2(t);
        register_float_avx2(t);
        register_legacy_avx2(t);
        register_kquant_avx2(t);
    }
    if (isa == Isa::kAvx512) {
        register_vec_avx512(t);
        register_attention_avx512(t);
        register_float_avx512(t);
        register_legacy_avx512(t);
        register_q8_0_avx512(t);
        register_kquant_avx512(t);
    }
    return t;
}

}  // namespace

const KernelTable& kernel_table(Isa isa) {
    static const KernelTable tables[kIsaCount] = {
        build_table(Isa::kScalar), build_table(Isa::kAvx2), build_table(Isa::kAvx512)};
    return tables[static_cast<int>(isa)];
}

const KernelTable& kernels() {
    static const KernelTable& table = kernel_table(detect_isa());
    return table;
}

}  // namespace citadel
