#include "core/fp16.h"

#include <gtest/gtest.h>

#include <cmath>

namespace citadel {
namespace {

TEST(Fp16, RoundTripsEveryHalf) {
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = fp16_to_fp32(uint16_t(h));
        if (std::isnan(f)) continue;
        EXPECT_EQ(fp32_to_fp16(f), h) << h;
    }
}

TEST(Fp16, RoundsToNearestEven) {
    EXPECT_EQ(fp32_to_fp16(1.0f), 0x3c00);
    EXPECT_EQ(fp32_to_fp16(1.0f + 1.0f / 2048), 0x3c00);  // tie -> even
    EXPECT_EQ(fp32_to_fp16(1.0f + 3.0f / 2048), 0x3c02);  // tie -> even (up)
    EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);            // overflows to inf
    EXPECT_EQ(fp32_to_fp16(5.9604645e-08f), 0x0001);      // smallest subnormal
    EXPECT_EQ(fp32_to_fp16(-0.0f), 0x8000);
}

TEST(Bf16, RoundsToNearestEven) {
    EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
    EXPECT_EQ(bf16_to_fp32(0x3f80), 1.0f);
    EXPECT_EQ(fp32_to_bf16(fp32_from_bits(0x3f808000u)), 0x3f80);  // tie -> even
    EXPECT_EQ(fp32_to_bf16(fp32_from_bits(0x3f818000u)), 0x3f82);  // tie -> even (up)
    EXPECT_TRUE(std::isnan(bf16_to_fp32(fp32_to_bf16(NAN))));
}

}  // namespace
}  // namespace citadel
