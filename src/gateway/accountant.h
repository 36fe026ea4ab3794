// Applies token charges to the limiter off the request path. The engine thread reports
// tokens as they are generated; a Limiter call may be a Redis round trip, which must never
// stall the engine, so charges are summed per identity and applied by one background thread
// every `period_ms` (and at shutdown). A charge is therefore seen by the limits at most
// `period_ms` late.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "gateway/identity.h"

namespace citadel::gateway {

class Limiter;

class Accountant {
  public:
    Accountant(Limiter& limiter, int period_ms = 50);
    ~Accountant();  // applies what is pending, then stops
    Accountant(const Accountant&) = delete;
    Accountant& operator=(const Accountant&) = delete;

    void charge(const std::string& identity_id, const KeyLimits& limits, int64_t tokens);
    void flush();  // applies everything charged so far before returning (tests)

  private:
    struct Pending {
        KeyLimits limits;
        int64_t tokens = 0;
    };
    void run();
    void apply(std::map<std::string, Pending>& batch);

    Limiter& limiter_;
    const int period_ms_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::condition_variable applied_cv_;
    std::map<std::string, Pending> pending_;
    uint64_t submitted_ = 0, applied_ = 0;
    bool stop_ = false;
    std::thread thread_;
};

}  // namespace citadel::gateway
