#include "tensor/thread_pool.h"

#include "core/status.h"

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

// Claims and runs tasks of job `generation` until none is left (or that job is over).
void ThreadPool::drain(int thread, uint32_t generation) {
    for (;;) {
        uint64_t claim = claim_.load(std::memory_order_acquire);
        int64_t task = 0;
        for (;;) {
            if (uint32_t(claim >> 32) != generation) return;
            task = int64_t(uint32_t(claim));
            if (task >= job_tasks_.load(std::memory_order_acquire)) return;
            if (claim_.compare_exchange_weak(claim, claim + 1, std::memory_order_acq_rel,
                                             std::memory_order_acquire)) {
                break;
            }
        }
        // The job cannot end before this task is done, so its fields stay valid until then.
        job_fn_(job_ctx_, task, thread);
        done_tasks_.fetch_add(1, std::memory_order_release);
    }
}

void ThreadPool::run(int64_t n_tasks, TaskFn fn, void* ctx) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
        for (int64_t i = 0; i < n_tasks; ++i) fn(ctx, i, 0);
        return;
    }
    CITADEL_CHECK(n_tasks < (int64_t(1) << 31));
    const uint32_t generation = generation_.load(std::memory_order_relaxed) + 1;
    // First retire the last job's claim word: a worker still draining it that sees the new
    // task count below (acquire) then cannot claim "task n" of the old job.
    claim_.store(uint64_t(generation) << 32 | UINT32_MAX, std::memory_order_relaxed);
    job_fn_ = fn;
    job_ctx_ = ctx;
    done_tasks_.store(0, std::memory_order_relaxed);
    job_tasks_.store(n_tasks, std::memory_order_release);
    claim_.store(uint64_t(generation) << 32, std::memory_order_release);
    generation_.store(generation);  // seq_cst: pairs with the sleepers_ increment in worker_loop
    if (sleepers_.load() > 0) futex_wake_all(generation_);
    drain(0, generation);
    while (done_tasks_.load(std::memory_order_acquire) != n_tasks) cpu_relax();
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
        drain(thread, now);
    }
}

}  // namespace citadel
