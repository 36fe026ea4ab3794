#include "loadgen/stats.h"

#include <gtest/gtest.h>

namespace citadel::loadgen {
namespace {

TEST(LoadgenStats, PercentileInterpolatesLikeNumpy) {
    const std::vector<double> v = {4, 1, 3, 2};  // unsorted on purpose
    EXPECT_DOUBLE_EQ(percentile(v, 0), 1);
    EXPECT_DOUBLE_EQ(percentile(v, 50), 2.5);   // numpy.percentile([1,2,3,4], 50)
    EXPECT_DOUBLE_EQ(percentile(v, 90), 3.7);   // numpy: 3.7
    EXPECT_DOUBLE_EQ(percentile(v, 99), 3.97);  // numpy: 3.97
    EXPECT_DOUBLE_EQ(percentile(v, 100), 4);
}

TEST(LoadgenStats, SummaryOfOneAndNone) {
    const Summary none = summarize({});
    EXPECT_EQ(none.count, 0u);
    EXPECT_EQ(none.mean, 0);
    const Summary one = summarize({7});
    EXPECT_EQ(one.count, 1u);
    EXPECT_DOUBLE_EQ(one.mean, 7);
    EXPECT_DOUBLE_EQ(one.median, 7);
    EXPECT_DOUBLE_EQ(one.p99, 7);
}

TEST(LoadgenStats, SummaryOfARange) {
    std::vector<double> v;
    for (int i = 1; i <= 101; ++i) v.push_back(i);
    const Summary s = summarize(v);
    EXPECT_DOUBLE_EQ(s.mean, 51);
    EXPECT_DOUBLE_EQ(s.median, 51);
    EXPECT_DOUBLE_EQ(s.p90, 91);
    EXPECT_DOUBLE_EQ(s.p99, 100);
    EXPECT_DOUBLE_EQ(s.min, 1);
    EXPECT_DOUBLE_EQ(s.max, 101);
}

}  // namespace
}  // namespace citadel::loadgen
