// Quantizers of the K-quants. Weight quantizers search, per sub-block, for the scale (and min)
// that minimise a weighted squared error, in the manner of llama.cpp's reference quantizers,
// then quantize the sub-block scales themselves to 4, 6 or 8 bits and re-round every element
// against the scales actually stored.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "tensor/blocks.h"
#include "tensor/kernels/kquant_common.h"

namespace citadel::kquant {
namespace {

constexpr float kGroupMaxEps = 1e-15f;

// Round to nearest, ties to even (the default rounding mode), as llama.cpp's nearest_int.
inline int nearest_int(float v) {
    return int(std::lrintf(v));
}
inline int clamp_int(int v, int lo, int hi) {
    return std::min(hi, std::max(lo, v));
}

// Fits x[i] ~ scale * L[i] - min with L in 0..nmax, min >= 0, minimising sum w[i] * err^2
// (or sum w[i] * |err| with use_mad). Tries the min/max grid iscale = (nmax + rmin + k *
// rdelta) / (max - min) for k = 0..n_steps, solving the weighted least-squares scale and min for
// each rounding. Returns the scale; *min_out receives the (non-negative) min.
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* min_out,
                    float rmin, float rdelta, int n_steps, bool use_mad) {
    float lo = x[0], hi = x[0], sum_w = 0.0f, sum_x = 0.0f;
    for (int i = 0; i < n; ++i) {
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    lo = std::min(lo, 0.0f);
    if (hi == lo) {
        std::fill(L, L + n, uint8_t(0));
        *min_out = -lo;
        return 0.0f;
    }
    auto error_of = [&](float scale, float offset, const uint8_t* levels) {
        float err = 0.0f;
        for (int i = 0; i < n; ++i) {
            const float diff = scale * levels[i] + offset - x[i];
            err += w[i] * (use_mad ? std::fabs(diff) : diff * diff);
        }
        return err;
    };
    float scale = (hi - lo) / nmax, offset = lo;
    for (int i = 0; i < n; ++i)
        L[i] = uint8_t(clamp_int(nearest_int((x[i] - lo) / scale), 0, nmax));
    float best = error_of(scale, offset, L);
    uint8_t trial[32];
    for (int step = 0; step <= n_steps; ++step) {
        const float iscale = (rmin + rdelta * step + nmax) / (hi - lo);
        float sum_l = 0.0f, sum_l2 = 0.0f, sum_xl = 0.0f;
        for (int i = 0; i < n; ++i) {
            const int l = clamp_int(nearest_int(iscale * (x[i] - lo)), 0, nmax);
            trial[i] = uint8_t(l);
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        const float det = sum_w * sum_l2 - sum_l * sum_l;
        if (det <= 0.0f) continue;
        float trial_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        float trial_offset = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (trial_offset > 0.0f) {
            trial_offset = 0.0f;
            trial_scale = sum_xl / sum_l2;
        }
        const float err = error_of(trial_scale, trial_offset, trial);
        if (err < best) {
            std::memcpy(L, trial, size_t(n));
            best = err;
            scale = trial_scale;
            offset = trial_offset;
        }
    }
    *min_out = -offset;
    return scale;
}

// Fits x[i] ~ scale * (L[i] - nmax) with L in 0..2*nmax-1, weights x[i]^2, trying 19 scales
// around the one that maps the largest magnitude to -nmax. Returns the (signed) scale.
float fit_symmetric(int n, int nmax, const float* x, int8_t* L) {
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < n; ++i) {
        if (std::fabs(x[i]) > amax) {
            amax = std::fabs(x[i]);
            max = x[i];
        }
    }
    if (amax < kGroupMaxEps) {
        std::fill(L, L + n, int8_t(0));
        return 0.0f;
    }
    auto sums_for = [&](float iscale, float* sum_lx, float* sum_l2) {
        *sum_lx = *sum_l2 = 0.0f;
        for (int i = 0; i < n; ++i) {
            const int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            const float w = x[i] * x[i];
            *sum_lx += w * x[i] * l;
            *sum_l2 += w * l * l;
        }
    };
    auto set_levels = [&](float iscale) {
        for (int i = 0; i < n; ++i)
            L[i] = int8_t(nmax + clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1));
    };
    float sum_lx, sum_l2;
    float best_iscale = -nmax / max;
    sums_for(best_iscale, &sum_lx, &sum_l2);
    float scale = sum_l2 > 0.0f ? sum_lx / sum_l2 : 0.0f;
    float best = scale * sum_lx;
    for (int k = -9; k <= 9; ++k) {
        if (k == 0) continue;
        const float iscale = -(nmax + 0.1f * k) / max;
        sums_for(iscale, &sum_lx, &sum_l2);
        if (sum_l2 > 0.0f && sum_lx * sum_lx > best * sum_l2) {
            best_iscale = iscale;
            scale = sum_lx / sum_l2;
            best = scale * sum_lx;
        }
    }
    set_levels(best_iscale);
    return scale;
}

// Packs 8 six-bit scales and mins into the 12 bytes of Q4_K / Q5_K (inverse of scale_min_k4).
void pack_scale_min_k4(const uint8_t* ls, const uint8_t* lm, uint8_t* out) {
    std::memset(out, 0, kKScaleBytes);
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            out[j] = ls[j];
            out[j + 4] = lm[j];
        } else {
            out[j + 4] = uint8_t((ls[j] & 0xF) | ((lm[j] & 0xF) << 4));
            out[j - 4] |= uint8_t((ls[j] >> 4) << 6);
            out[j] |= uint8_t((lm[j] >> 4) << 6);
        }
    }
}

// Shared by Q4_K and Q5_K: fits 8 sub-blocks of 32, stores d, dmin and the packed scales, and
// returns the final levels (0..nmax) in L.
template <typename Block>
void quantize_k4_block(const float* x, Block& y, int nmax, float rmin, int n_steps, uint8_t* L) {
    float scales[8], mins[8], weights[32];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 8; ++j) {
        const float* xs = x + 32 * j;
        float sum_x2 = 0.0f;
        for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
        const float av_x = std::sqrt(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
        scales[j] =
            fit_scale_min(32, nmax, xs, weights, L + 32 * j, &mins[j], rmin, 0.1f, n_steps, false);
        max_scale = std::max(max_scale, scales[j]);
        max_min = std::max(max_min, mins[j]);
    }
    const float inv_scale = max_scale > 0.0f ? 63.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0.0f ? 63.0f / max_min : 0.0f;
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; ++j) {
        ls[j] = uint8_t(std::min(63, nearest_int(inv_scale * scales[j])));
        lm[j] = uint8_t(std::min(63, nearest_int(inv_min * mins[j])));
    }
    pack_scale_min_k4(ls, lm, y.scales);
    y.d = fp32_to_fp16(max_scale / 63.0f);
    y.dmin = fp32_to_fp16(max_min / 63.0f);
    const float d = fp16_to_fp32(y.d), dmin = fp16_to_fp32(y.dmin);
    for (int j = 0; j < 8; ++j) {
        const float scale = d * ls[j];
        if (scale == 0.0f) continue;
        const float min = dmin * lm[j];
        for (int l = 32 * j; l < 32 * j + 32; ++l)
            L[l] = uint8_t(clamp_int(nearest_int((x[l] + min) / scale), 0, nmax));
    }
}

void quantize_q2_k_block(const float* x, BlockQ2_K& y) {
    uint8_t L[kQK_K];
    float scales[16], mins[16], weights[16];
    float max_scale = 0.0f, max_min = 0.0f;
    for (int j = 0; j < 16; ++j) {
        for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
        scales[j] =
            fit_scale_min(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, true);
        max_scale = std::max(max_scale, scales[j]);
        max_min = std::max(max_min, mins[j]);
    }
    const float inv_scale = max_scale > 0.0f ? 15.0f / max_scale : 0.0f;
    const float inv_min = max_min > 0.0f ? 15.0f / max_min : 0.0f;
    for (int j = 0; j < 16; ++j) {
        const int ls = std::min(15, nearest_int(inv_scale * scales[j]));
        const int lm = std::min(15, nearest_int(inv_min * mins[j]));
        y.scales[j] = uint8_t(ls | (lm << 4));
    }
    y.d = fp32_to_fp16(max_scale / 15.0f);
    y.dmin = fp32_to_fp16(max_min / 15.0f);
    const float d = fp16_to_fp32(y.d), dmin = fp16_to_fp32(y.dmin);
    for (int j = 0; j < 16; ++j) {
        const float scale = d * (y.scales[j] & 0xF);
        if (scale == 0.0f) continue;
        const float min = dmin * (y.scales[j] >> 4);
        for (int l = 16 * j; l < 16 * j + 16; ++l)
            L[l] = uint8_t(clamp_int(nearest_int((x[l] + min) / scale), 0, 3));
    }
    std::memset(y.qs, 0, sizeof y.qs);
    for (int i = 0; i < kQK_K; ++i) {
        const int h = i / 128, k = (i % 128) / 32, l = i % 32;
        y.qs[32 * h + l] |= uint8_t(L[i] << (2 * k));
    }
}

void quantize_q3_k_block(const float* x, BlockQ3_K& y) {
    int8_t L[kQK_K];
    float scales[16];
    float max_scale = 0.0f, amax = 0.0f;
    for (int j = 0; j < 16; ++j) {
        scales[j] = fit_symmetric(16, 4, x + 16 * j, L + 16 * j);
        if (std::fabs(scales[j]) > amax) {
            amax = std::fabs(scales[j]);
            max_scale = scales[j];
        }
    }
    std::memset(&y, 0, sizeof y);
    if (max_scale == 0.0f) return;  // all levels 0 with d = 0 decode to 0
    const float iscale = -32.0f / max_scale;
    for (int j = 0; j < 16; ++j) {
        const int l = clamp_int(nearest_int(iscale * scales[j]), -32, 31) + 32;
        if (j < 8) {
            y.scales[j] = uint8_t(l & 0xF);
        } else {
            y.scales[j - 8] |= uint8_t((l & 0xF) << 4);
        }
        y.scales[8 + j % 4] |= uint8_t((l >> 4) << (2 * (j / 4)));
    }
    y.d = fp32_to_fp16(1.0f / iscale);
    const float d = fp16_to_fp32(y.d);
    for (int j = 0; j < 16; ++j) {
        const float scale = d * float(scale_q3k(j, y.scales));
        for (int l = 16 * j; l < 16 * j + 16; ++l) {
            const int q = scale == 0.0f ? 0 : clamp_int(nearest_int(x[l] / scale), -4, 3);
            L[l] = int8_t(q + 4);
        }
    }
    for (int i = 0; i < kQK_K; ++i) {
        const int h = i / 128, k = (i % 128) / 32, l = i % 32;
        const int q = L[i];
        if (q > 3) y.hmask[l] |= uint8_t(1 << (4 * h + k));
        y.qs[32 * h + l] |= uint8_t((q & 3) << (2 * k));
    }
}

void quantize_q6_k_block(const float* x, BlockQ6_K& y) {
    int8_t L[kQK_K];
    float scales[16];
    float max_scale = 0.0f, amax = 0.0f;
    for (int j = 0; j < 16; ++j) {
        scales[j] = fit_symmetric(16, 32, x + 16 * j, L + 16 * j);
        if (std::fabs(scales[j]) > amax) {
            amax = std::fabs(scales[j]);
            max_scale = scales[j];
        }
    }
    std::memset(&y, 0, sizeof y);
    if (amax < kGroupMaxEps) return;
    const float iscale = -128.0f / max_scale;
    y.d = fp32_to_fp16(1.0f / iscale);
    for (int j = 0; j < 16; ++j)
        y.scales[j] = int8_t(std::min(127, nearest_int(iscale * scales[j])));
    const float d = fp16_to_fp32(y.d);
    for (int j = 0; j < 16; ++j) {
        const float scale = d * y.scales[j];
        for (int l = 16 * j; l < 16 * j + 16; ++l) {
            const int q = scale == 0.0f ? 0 : clamp_int(nearest_int(x[l] / scale), -32, 31);
            L[l] = int8_t(q + 32);
        }
    }
    for (int i = 0; i < kQK_K; ++i) {
        const int h = i / 128, k = (i % 128) / 32, l = i % 32;
        const int q = L[i];
        uint8_t& low_byte = y.ql[64 * h + 32 * (k & 1) + l];
        low_byte |= uint8_t(k >= 2 ? (q & 0xF) << 4 : (q & 0xF));
        y.qh[32 * h + l] |= uint8_t((q >> 4) << (2 * k));
    }
}

}  // namespace

void quantize_row_q8_k(const float* src, void* dst, int64_t n) {
    auto* y = static_cast<BlockQ8_K*>(dst);
    for (int64_t b = 0; b < n / kQK_K; ++b, src += kQK_K) {
        float amax = 0.0f, max = 0.0f;
        for (int i = 0; i < kQK_K; ++i) {
            if (std::fabs(src[i]) > amax) {
                amax = std::fabs(src[i]);
                max = src[i];
            }
        }
        if (amax == 0.0f) {
            std::memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int i = 0; i < kQK_K; ++i)
            y[b].qs[i] = int8_t(std::min(127, nearest_int(iscale * src[i])));
        for (int j = 0; j < 16; ++j) {
            int sum = 0;
            for (int i = 16 * j; i < 16 * j + 16; ++i) sum += y[b].qs[i];
            y[b].bsums[j] = int16_t(sum);
        }
        y[b].d = 1.0f / iscale;
    }
}

void quantize_row_q2_k(const float* src, void* dst, int64_t n) {
    for (int64_t b = 0; b < n / kQK_K; ++b)
        quantize_q2_k_block(src + b * kQK_K, static_cast<BlockQ2_K*>(dst)[b]);
}

void quantize_row_q3_k(const float* src, void* dst, int64_t n) {
    for (int64_t b = 0; b < n / kQK_K; ++b)
        quantize_q3_k_block(src + b * kQK_K, static_cast<BlockQ3_K*>(dst)[b]);
}

void quantize_row_q4_k(const float* src, void* dst, int64_t n) {
    uint8_t L[kQK_K];
    for (int64_t b = 0; b < n / kQK_K; ++b) {
        BlockQ4_K& y = static_cast<BlockQ4_K*>(dst)[b];
        quantize_k4_block(src + b * kQK_K, y, 15, -1.0f, 20, L);
        for (int i = 0; i < kQK_K; ++i) {
            const int shift = (i % 64) < 32 ? 0 : 4;
            uint8_t& byte = y.qs[32 * (i / 64) + i % 32];
            byte = uint8_t(shift == 0 ? L[i] : (byte | (L[i] << 4)));
        }
    }
}

void quantize_row_q5_k(const float* src, void* dst, int64_t n) {
    uint8_t L[kQK_K];
    for (int64_t b = 0; b < n / kQK_K; ++b) {
        BlockQ5_K& y = static_cast<BlockQ5_K*>(dst)[b];
        quantize_k4_block(src + b * kQK_K, y, 31, -0.5f, 15, L);
        std::memset(y.qh, 0, sizeof y.qh);
        for (int i = 0; i < kQK_K; ++i) {
            const int low = L[i] & 0xF;
            uint8_t& byte = y.qs[32 * (i / 64) + i % 32];
            byte = uint8_t((i % 64) < 32 ? low : (byte | (low << 4)));
            if (L[i] > 15) y.qh[i % 32] |= uint8_t(1 << (i / 32));
        }
    }
}

void quantize_row_q6_k(const float* src, void* dst, int64_t n) {
    for (int64_t b = 0; b < n / kQK_K; ++b)
        quantize_q6_k_block(src + b * kQK_K, static_cast<BlockQ6_K*>(dst)[b]);
}

}  // namespace citadel::kquant
