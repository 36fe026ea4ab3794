#include "loadgen/schedule.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

namespace citadel::loadgen {
namespace {

TEST(LoadgenSchedule, PoissonMeanRateIsTheRate) {
    const double rate = 10;
    const std::vector<double> t = poisson_arrivals(rate, 20000, 0, 42);
    ASSERT_EQ(t.size(), 20000u);
    EXPECT_EQ(t[0], 0);
    EXPECT_TRUE(std::is_sorted(t.begin(), t.end()));
    const double mean_gap = t.back() / double(t.size() - 1);
    // The mean of 19999 exponential gaps has a standard error of 0.1/sqrt(19999) = 0.0007.
    EXPECT_NEAR(mean_gap, 1 / rate, 0.004);
    // Exponential gaps: the standard deviation equals the mean.
    double sq = 0;
    for (size_t i = 1; i < t.size(); ++i) sq += std::pow(t[i] - t[i - 1] - mean_gap, 2);
    EXPECT_NEAR(std::sqrt(sq / double(t.size() - 2)), 1 / rate, 0.006);
}

TEST(LoadgenSchedule, PoissonIsSeededAndReproducible) {
    EXPECT_EQ(poisson_arrivals(5, 100, 0, 1), poisson_arrivals(5, 100, 0, 1));
    EXPECT_NE(poisson_arrivals(5, 100, 0, 1), poisson_arrivals(5, 100, 0, 2));
}

TEST(LoadgenSchedule, PoissonStopsAtTheDuration) {
    const std::vector<double> t = poisson_arrivals(100, 0, 2.0, 3);
    ASSERT_FALSE(t.empty());
    EXPECT_LE(t.back(), 2.0);
    EXPECT_NEAR(double(t.size()), 200, 60);  // Poisson(200): sd 14
    // Both bounds: whichever comes first.
    EXPECT_EQ(poisson_arrivals(100, 10, 2.0, 3).size(), 10u);
}

TEST(LoadgenSchedule, MakeScheduleShufflesPromptsAndKeepsThemAll) {
    const Schedule a = make_schedule({.rate = 4, .num_requests = 30, .seed = 9}, 50);
    const Schedule b = make_schedule({.rate = 4, .num_requests = 30, .seed = 9}, 50);
    EXPECT_EQ(a.arrival_s, b.arrival_s);
    EXPECT_EQ(a.prompt_order, b.prompt_order);
    EXPECT_EQ(a.arrival_s.size(), 30u);
    EXPECT_EQ(a.max_requests(), 30);
    std::vector<size_t> sorted = a.prompt_order;
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(sorted[i], i);
    EXPECT_EQ(a.prompt_for(50), a.prompt_for(0));  // cycles
}

TEST(LoadgenSchedule, ClosedLoopHasNoArrivals) {
    const Schedule s = make_schedule({.concurrency = 4, .num_requests = 8}, 3);
    EXPECT_FALSE(s.open_loop());
    EXPECT_TRUE(s.arrival_s.empty());
    EXPECT_EQ(s.max_requests(), 8);
}

TEST(LoadgenSchedule, CheckShapeNamesTheProblem) {
    EXPECT_TRUE(check_shape({.concurrency = 1, .num_requests = 1}).ok());
    EXPECT_NE(check_shape({.concurrency = 1}).message().find("--num-requests"), std::string::npos);
    EXPECT_NE(check_shape({.concurrency = 0, .num_requests = 1}).message().find("--concurrency"),
              std::string::npos);
    EXPECT_NE(check_shape({.rate = -1, .num_requests = 1}).message().find("--rate"),
              std::string::npos);
    EXPECT_FALSE(check_shape({.rate = 1e9, .duration_s = 1e9}).ok());
    EXPECT_NE(check_shape({.concurrency = 2, .max_concurrency = 4, .num_requests = 1})
                  .message()
                  .find("give --rate too"),
              std::string::npos);
    EXPECT_TRUE(check_shape({.rate = 2, .max_concurrency = 4, .num_requests = 1}).ok());
}

}  // namespace
}  // namespace citadel::loadgen
