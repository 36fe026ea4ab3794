// Summary statistics of latency samples.
//
// Percentile method: linear interpolation between the two closest ranks (the "type 7" estimator
// of Hyndman & Fan, numpy's default): for sorted x[0..n-1] and p in [0, 100] the rank is
// h = (n - 1) * p / 100 and the value x[floor(h)] + (h - floor(h)) * (x[floor(h)+1] - x[floor(h)]).
#pragma once

#include <cstddef>
#include <vector>

namespace citadel::loadgen {

struct Summary {
    size_t count = 0;
    double mean = 0, median = 0, p90 = 0, p99 = 0, min = 0, max = 0;
};

// p in [0, 100]; 0 for no samples.
double percentile(std::vector<double> samples, double p);

Summary summarize(std::vector<double> samples);

}  // namespace citadel::loadgen
