#include "tensor/thread_pool.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace citadel {
namespace {

inline void cpu_relax() {
    __builtin_ia32_pause();
}

// Sleeps while *word == expected (the kernel re-checks atomically), or until woken.
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr,
            nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>& word) {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr,
            nullptr, 0);
}

// Iterations a worker spins on a new generation before it sleeps (~50-100 us).
constexpr int kSpinIterations = 20000;

}  // namespace

int ThreadPool::default_threads() {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        const int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    const long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? int(n) : 1;
}

ThreadPool::ThreadPool(int n_threads) {
    n_threads_ = n_threads > 0 ? n_threads : default_threads();
    workers_.reserve(size_t(n_threads_ - 1));
    // Workers start from generation 0, whenever they get to run: a job posted before a worker
    // first looks is still seen as new.
    for (int t = 1; t < n_threads_; ++t) workers_.emplace_back([this, t] { worker_loop(t); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true);
    generation_.fetch_add(1);
    futex_wake_all(generation_);
    for (std::thread& w : workers_) w.join();
}

void ThreadPool::drain(int thread) {
    for (;;) {
        const int64_t task = next_task_.fetch_add(1, std::memory_order_relaxed);
        if (task >= job_tasks_) return;
        job_fn_(job_ctx_, task, thread);
    }
}

void ThreadPool::run(int64_t n_tasks, TaskFn fn, void* ctx) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
        for (int64_t i = 0; i < n_tasks; ++i) fn(ctx, i, 0);
        return;
    }
    job_fn_ = fn;
    job_ctx_ = ctx;
    job_tasks_ = n_tasks;
    next_task_.store(0, std::memory_order_relaxed);
    busy_workers_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1);  // seq_cst: pairs with the sleepers_ increment in worker_loop
    if (sleepers_.load() > 0) futex_wake_all(generation_);
    drain(0);
    while (busy_workers_.load(std::memory_order_acquire) != 0) cpu_relax();
}

void ThreadPool::worker_loop(int thread) {
    uint32_t seen = 0;
    for (;;) {
        int spins = 0;
        uint32_t now;
        while ((now = generation_.load(std::memory_order_acquire)) == seen) {
            if (++spins < kSpinIterations) {
                cpu_relax();
            } else {
                sleepers_.fetch_add(1);
                futex_wait(generation_, seen);
                sleepers_.fetch_sub(1);
            }
        }
        seen = now;
        if (stop_.load()) return;
        drain(thread);
        busy_workers_.fetch_sub(1, std::memory_order_acq_rel);
    }
}

}  // namespace citadel
