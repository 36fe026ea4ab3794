// A thread-safe queue of engine events for callers that consume a request's stream on their
// own thread (CLI, tests, benchmarks): sink() feeds it from the engine thread, pop() waits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>

#include "engine/request.h"

namespace citadel {

class EventQueue {
  public:
    EventSink sink() {
        return [this](EngineEvent&& e) { push(std::move(e)); };
    }

    void push(EngineEvent&& e) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            events_.push_back(std::move(e));
        }
        cv_.notify_all();
    }

    // The next event, waiting up to `timeout`; nullopt on timeout.
    std::optional<EngineEvent> pop(std::chrono::milliseconds timeout = std::chrono::hours(1)) {
        std::unique_lock<std::mutex> lock(mutex_);
        if (!cv_.wait_for(lock, timeout, [&] { return !events_.empty(); })) return std::nullopt;
        EngineEvent e = std::move(events_.front());
        events_.pop_front();
        return e;
    }

  private:
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<EngineEvent> events_;
};

}  // namespace citadel
