// A fixed pool of compute threads for the forward pass. The calling thread takes part, so
// a pool of size N runs N-way parallel with N-1 workers. Workers spin briefly between jobs
// (a decode step issues hundreds of short parallel loops) and then sleep on a futex.
//
// A job is done when its tasks are, not when every worker has looked at it: on a busy
// machine a worker may not run for a whole scheduler time slice, and the caller then takes
// the tasks itself instead of waiting for it. Tasks are claimed from one 64-bit word that
// holds the job's generation with the next task index, so a worker that wakes late cannot
// claim a task of a job that has ended, nor one of the next job under the old one's name.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace citadel {

class ThreadPool {
  public:
    explicit ThreadPool(int n_threads);  // n_threads <= 0: one per core
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Calls fn(task, thread) for every task in [0, n_tasks), spread over the pool; returns
    // when all are done. Not reentrant: call from one thread at a time.
    template <typename Fn>
    void parallel_for(int64_t n_tasks, Fn&& fn) {
        auto trampoline = [](void* ctx, int64_t task, int thread) {
            (*static_cast<Fn*>(ctx))(task, thread);
        };
        run(n_tasks, trampoline, &fn);
    }

    static int default_threads();

  private:
    using TaskFn = void (*)(void* ctx, int64_t task, int thread);
    void run(int64_t n_tasks, TaskFn fn, void* ctx);
    void worker_loop(int thread);
    void drain(int thread, uint32_t generation);

    int n_threads_;
    std::vector<std::thread> workers_;
    TaskFn job_fn_ = nullptr;
    void* job_ctx_ = nullptr;
    std::atomic<int64_t> job_tasks_{0};
    alignas(64) std::atomic<uint64_t> claim_{0};  // generation << 32 | next task index
    alignas(64) std::atomic<uint32_t> generation_{0};
    alignas(64) std::atomic<int64_t> done_tasks_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> stop_{false};
};

}  // namespace citadel
