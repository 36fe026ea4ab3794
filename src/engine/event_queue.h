// A thread-safe queue of engine events for callers that consume a request's stream on their
// own thread (CLI, tests, benchmarks): sink() feeds it from the engine thread, pop() waits.
// Each event is stamped when the engine emits it (benchmarks measure TTFT and ITL from it).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include "engine/request.h"

namespace citadel {

struct TimedEvent {
    std::chrono::steady_clock::time_point when;
    EngineEvent event;
};

class EventQueue {
  public:
    EventSink sink() {
        return [this](EngineEvent&& e) { push(std::move(e)); };
    }

    void push(EngineEvent&& e) {
        const auto now = std::chrono::steady_clock::now();
        {
            std::lock_guard<std::mutex> lock(mutex_);
            events_.push_back({now, std::move(e)});
        }
        cv_.notify_all();
    }

    // The next event with its time, waiting up to `timeout`; nullopt on timeout.
    std::optional<TimedEvent> pop_timed(std::chrono::milliseconds timeout = std::chrono::hours(1)) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
        TimedEvent e = std::move(events_.front());
        events_.pop_front();
        return e;
    }

    std::optional<EngineEvent> pop(std::chrono::milliseconds timeout = std::chrono::hours(1)) {
        std::optional<TimedEvent> e = pop_timed(timeout);
        if (!e) return std::nullopt;
        return std::move(e->event);
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<TimedEvent> events_;
};

}  // namespace citadel
