#include "loadgen/schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

namespace citadel::loadgen {
namespace {

// Arrivals of an open loop bounded by time alone are capped here, so a typo in --rate cannot
// allocate without bound.
constexpr int64_t kMaxArrivals = 10'000'000;

// Uniform in [0, 1) from the top 53 bits (exactly representable doubles).
double uniform01(std::mt19937_64& rng) {
    return double(rng() >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace

Status check_shape(const LoadShape& s) {
    if (s.num_requests < 0) return Status::error("--num-requests must not be negative");
    if (s.duration_s < 0) return Status::error("--duration must not be negative");
    if (s.num_requests == 0 && s.duration_s == 0)
        return Status::error("give --num-requests N or --duration SECONDS (or both)");
    if (s.rate < 0 || !std::isfinite(s.rate))
        return Status::error("--rate must be a positive number of requests per second");
    if (s.rate == 0 && s.concurrency < 1) return Status::error("--concurrency must be at least 1");
    if (s.max_concurrency < 0) return Status::error("--max-concurrency must not be negative");
    if (s.rate == 0 && s.max_concurrency > 0)
        return Status::error(
            "--max-concurrency caps an open loop: give --rate too (a closed loop has "
            "--concurrency clients)");
    if (s.rate > 0 && s.num_requests == 0 && s.rate * s.duration_s > double(kMaxArrivals))
        return Status::error("--rate x --duration asks for more than 10 million requests");
    return ok_status();
}

int64_t Schedule::max_requests() const {
    if (open_loop()) return int64_t(arrival_s.size());
    return shape.num_requests > 0 ? shape.num_requests : std::numeric_limits<int64_t>::max();
}

std::vector<double> poisson_arrivals(double rate, int64_t n, double duration_s, uint64_t seed) {
    std::vector<double> out;
    if (rate <= 0) return out;
    std::mt19937_64 rng(seed);
    const int64_t cap = n > 0 ? n : kMaxArrivals;
    double t = 0;
    while (int64_t(out.size()) < cap) {
        if (duration_s > 0 && t > duration_s) break;
        out.push_back(t);
        t += -std::log1p(-uniform01(rng)) / rate;
    }
    return out;
}

Schedule make_schedule(const LoadShape& shape, size_t n_prompts) {
    Schedule s;
    s.shape = shape;
    s.prompt_order.resize(std::max<size_t>(n_prompts, 1));
    std::iota(s.prompt_order.begin(), s.prompt_order.end(), size_t(0));
    std::mt19937_64 rng(shape.seed ^ 0x9e3779b97f4a7c15ull);
    for (size_t i = s.prompt_order.size(); i > 1; --i) {  // Fisher-Yates, portable
        std::swap(s.prompt_order[i - 1], s.prompt_order[size_t(rng() % i)]);
    }
    if (shape.rate > 0)
        s.arrival_s =
            poisson_arrivals(shape.rate, shape.num_requests, shape.duration_s, shape.seed);
    return s;
}

}  // namespace citadel::loadgen
