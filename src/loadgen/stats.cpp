#include "loadgen/stats.h"

#include <algorithm>
#include <cmath>

namespace citadel::loadgen {
namespace {

// `sorted` is ascending and not empty.
double percentile_sorted(const std::vector<double>& sorted, double p) {
    const double h = double(sorted.size() - 1) * std::clamp(p, 0.0, 100.0) / 100.0;
    const size_t lo = size_t(std::floor(h));
    const size_t hi = std::min(lo + 1, sorted.size() - 1);
    return sorted[lo] + (h - double(lo)) * (sorted[hi] - sorted[lo]);
}

}  // namespace

double percentile(std::vector<double> samples, double p) {
    if (samples.empty()) return 0;
    std::sort(samples.begin(), samples.end());
    return percentile_sorted(samples, p);
}

Summary summarize(std::vector<double> samples) {
    Summary s;
    if (samples.empty()) return s;
    std::sort(samples.begin(), samples.end());
    double sum = 0;
    for (double v : samples) sum += v;
    s.count = samples.size();
    s.mean = sum / double(samples.size());
    s.median = percentile_sorted(samples, 50);
    s.p90 = percentile_sorted(samples, 90);
    s.p99 = percentile_sorted(samples, 99);
    s.min = samples.front();
    s.max = samples.back();
    return s;
}

}  // namespace citadel::loadgen
