#include "tensor/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace citadel {
namespace {

// Every task of every job runs exactly once, whatever the job sizes, back to back.
TEST(ThreadPool, EveryTaskRunsOnceAcrossManyJobs) {
    ThreadPool pool(3);
    std::vector<std::atomic<int>> hits(97);
    for (int job = 0; job < 20000; ++job) {
        const int64_t n = 1 + job % 97;
        pool.parallel_for(n, [&](int64_t task, int thread) {
            ASSERT_GE(thread, 0);
            ASSERT_LT(thread, 3);
            hits[size_t(task)].fetch_add(1, std::memory_order_relaxed);
        });
        for (int64_t t = 0; t < n; ++t) {
            ASSERT_EQ(hits[size_t(t)].exchange(0), 1) << "job " << job << " task " << t;
        }
    }
}

// With more threads than cores and a competitor hogging the CPUs, jobs still complete and
// stay correct (workers that run late must not claim tasks of a finished job).
TEST(ThreadPool, StaysCorrectWhenWorkersRunLate) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> hogs;
    for (int i = 0; i < 2; ++i) {
        hogs.emplace_back([&] {
            while (!stop.load(std::memory_order_relaxed)) {
            }
        });
    }
    ThreadPool pool(4);
    int64_t total = 0;
    for (int job = 0; job < 3000; ++job) {
        std::atomic<int64_t> sum{0};
        pool.parallel_for(8, [&](int64_t task, int) { sum.fetch_add(task + 1); });
        ASSERT_EQ(sum.load(), 36);
        total += sum.load();
    }
    stop = true;
    for (auto& h : hogs) h.join();
    EXPECT_EQ(total, 36 * 3000);
}

}  // namespace
}  // namespace citadel
