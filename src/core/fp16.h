// IEEE half and bfloat16 conversions (scalar; SIMD kernels use F16C / AVX-512 instead).
#pragma once

#include <cstdint>
#include <cstring>

namespace citadel {

inline float fp32_from_bits(uint32_t w) {
    float f;
    std::memcpy(&f, &w, sizeof f);
    return f;
}

inline uint32_t fp32_to_bits(float f) {
    uint32_t w;
    std::memcpy(&w, &f, sizeof w);
    return w;
}

// Exact half -> float conversion (subnormals, inf and nan included).
inline float fp16_to_fp32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return fp32_from_bits(sign | 0x7f800000u | (mant << 13));
    if (exp != 0) return fp32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
    if (mant == 0) return fp32_from_bits(sign);
    // subnormal: value = mant * 2^-24
    const float v = float(mant) * (1.0f / 16777216.0f);
    return (sign ? -v : v);
}

// float -> half with round-to-nearest-even (matches F16C's vcvtps2ph with imm 0).
inline uint16_t fp32_to_fp16(float f) {
    const uint32_t x = fp32_to_bits(f);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t abs = x & 0x7fffffffu;
    if (abs >= 0x7f800000u) {  // inf or nan
        return uint16_t(sign | 0x7c00u | (abs > 0x7f800000u ? 0x200u : 0u));
    }
    if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to inf
    if (abs < 0x38800000u) {                                  // subnormal or zero in half
        if (abs < 0x33000000u) return uint16_t(sign);         // below half of the smallest
        const uint32_t e = abs >> 23;
        const uint32_t m = (abs & 0x7fffffu) | 0x800000u;
        const uint32_t shift = 126 - e;  // 14..24
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1);
        const uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1u))) ++r;
        return uint16_t(sign | r);
    }
    uint32_t r = ((abs - 0x38000000u) >> 13);
    const uint32_t rem = abs & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
    return uint16_t(sign | r);
}

inline float bf16_to_fp32(uint16_t h) {
    return fp32_from_bits(uint32_t(h) << 16);
}

// float -> bfloat16 with round-to-nearest-even; nan stays nan.
inline uint16_t fp32_to_bf16(float f) {
    const uint32_t x = fp32_to_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40u);
    return uint16_t((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace citadel
