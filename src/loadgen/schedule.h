// When each request is sent and which prompt it carries. The same Schedule drives both
// endpoints of a --compare run, so both see the same prompts in the same order at the same
// offsets from their start.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace citadel::loadgen {

struct LoadShape {
    int concurrency = 1;       // closed loop: this many clients, each sends when its last ended
    double rate = 0;           // > 0: open loop, Poisson arrivals at this many requests/s
    int max_concurrency = 0;   // open loop: at most this many in flight (0: no cap)
    int64_t num_requests = 0;  // 0: as many as fit in duration_s
    double duration_s = 0;     // 0: until num_requests are done
    uint64_t seed = 0;
};

// Names the first problem with a shape (no bound, a negative rate, ...).
Status check_shape(const LoadShape& shape);

struct Schedule {
    LoadShape shape;
    // Open loop: request i is sent arrival_s[i] seconds after the start (non-decreasing,
    // arrival_s[0] = 0). Empty for a closed loop.
    std::vector<double> arrival_s;
    std::vector<size_t> prompt_order;  // request i carries prompts[prompt_order[i % size]]

    bool open_loop() const { return shape.rate > 0; }
    // The most requests this schedule sends; INT64_MAX for a closed loop bounded by time only.
    int64_t max_requests() const;
    size_t prompt_for(int64_t request) const {
        return prompt_order[size_t(request) % prompt_order.size()];
    }
};

// Seconds between arrivals of a Poisson process: exponential gaps with mean 1/rate, drawn by
// inversion from a 64-bit Mersenne Twister seeded with `seed` (the same on every platform).
// Stops after `n` arrivals (n > 0) or at the first arrival past `duration_s` (duration_s > 0).
std::vector<double> poisson_arrivals(double rate, int64_t n, double duration_s, uint64_t seed);

// A seeded permutation of the prompts, then the arrival times of an open loop.
Schedule make_schedule(const LoadShape& shape, size_t n_prompts);

}  // namespace citadel::loadgen
