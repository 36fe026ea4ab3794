// The arithmetic of the vector exponentials (exp_avx512.h, attention_avx2.cpp), written once
// over an ISA's vectors: e^x = 2^n e^r with n = round(x log2 e) and r = x - n ln2 (ln2 in two
// parts, so r is exact), |r| <= ln2/2, and e^r by its degree-6 Taylor polynomial (relative
// error < 2e-7 there). V supplies Reg, set1(float), mul(a, b), fma(a, b, c) = a * b + c,
// fnma(a, b, c) = c - a * b and round(a) (to nearest); the caller clamps x and applies 2^n.
#pragma once

namespace citadel {

// r for x, and n in `n`.
template <class V>
inline typename V::Reg exp_reduce(typename V::Reg x, typename V::Reg& n) {
    n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
    const typename V::Reg r = V::fnma(n, V::set1(0.693359375f), x);
    return V::fnma(n, V::set1(-2.12194440e-4f), r);
}

// e^r for |r| <= ln2/2, in Horner form.
template <class V>
inline typename V::Reg exp_taylor(typename V::Reg r) {
    constexpr float kCoef[] = {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f};
    typename V::Reg p = V::set1(kCoef[0]);
    for (int k = 1; k < 7; ++k) p = V::fma(p, r, V::set1(kCoef[k]));
    return p;
}

}  // namespace citadel
