// The endpoints of one upstream model (OpenAI-compatible servers: vLLM, TGI, llama-server,
// another Citadel) and the bookkeeping that decides where the next request goes: least
// outstanding requests (ties broken by the caller's random number), passive outlier ejection
// (N consecutive failures: out for a back-off that doubles each time, then one probe request),
// the results of active health checks, and a circuit breaker over the whole pool (K
// consecutive failures: fail fast for a while, then one half-open probe).
//
// No I/O here: api/upstream_proxy.h does the HTTP and the health checks, and reports
// outcomes. Time comes from a clock function (tests pass a fake one).
//
// Threading: every method is thread-safe (one mutex); callers are the server's I/O threads
// and the proxy's I/O thread.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace citadel::ops {

struct UpstreamPoolOptions {
    int eject_after_failures = 3;  // consecutive failures of one endpoint before ejection
    int64_t eject_base_ms = 2000;  // first ejection; doubles with each one after, up to max
    int64_t eject_max_ms = 30000;
    int breaker_failures = 8;        // consecutive failures of the pool before the breaker opens
    int64_t breaker_open_ms = 5000;  // fail fast this long, then let one probe through
};

// Where a request goes, or why it cannot go anywhere now.
struct UpstreamPick {
    std::optional<size_t> endpoint;  // index into the pool's urls
    int64_t retry_after_ms = 0;      // when there is none: when to try again
    std::string why;                 // when there is none: for the error message
};

struct UpstreamEndpointState {
    std::string url;
    int outstanding = 0;
    bool healthy = true;   // the last active health check passed (true until one fails)
    bool ejected = false;  // passively ejected now
    bool probing = false;  // ejection expired: one request at a time until one succeeds
    int consecutive_failures = 0;
    uint64_t requests = 0;   // picks so far
    std::string last_error;  // why the last failed health check failed (empty: it passed)
};

class UpstreamPool {
  public:
    using Clock = std::function<int64_t()>;  // milliseconds, monotonic
    UpstreamPool(std::vector<std::string> urls, UpstreamPoolOptions options, Clock now_ms);

    // Chooses an endpoint not in `exclude` and counts a request outstanding on it (finish()
    // must follow). Among the available ones with the fewest outstanding requests, the
    // `random`-th (mod their number).
    UpstreamPick pick(const std::vector<size_t>& exclude, uint64_t random);
    // The request on `endpoint` ended: `ok` (an answer came) or a failure (connect error,
    // timeout, 5xx, cut stream). `counted` false: it ended without saying anything about the
    // endpoint (the client went away); only the outstanding count changes.
    void finish(size_t endpoint, bool ok, bool counted = true);
    // An active health check's result. A pass also ends a passive ejection (the endpoint is
    // back); a failure (`why`) takes the endpoint out until a check passes.
    void set_health(size_t endpoint, bool healthy, std::string why = "");

    size_t size() const { return urls_.size(); }
    const std::string& url(size_t endpoint) const { return urls_[endpoint]; }
    std::vector<UpstreamEndpointState> snapshot() const;
    bool breaker_open() const;

  private:
    struct Endpoint {
        int outstanding = 0;
        bool healthy = true;
        int consecutive_failures = 0;
        int ejections = 0;          // how many times in a row (for the back-off)
        int64_t ejected_until = 0;  // 0: not ejected
        bool probing = false;
        uint64_t requests = 0;
        std::string last_error;
    };
    enum class Breaker { kClosed, kOpen, kHalfOpen };

    bool available(const Endpoint& e, int64_t now) const;
    void eject(Endpoint& e, int64_t now);
    void record_failure(Endpoint& e, int64_t now);
    UpstreamPick none(int64_t now, std::string why) const;

    const std::vector<std::string> urls_;
    const UpstreamPoolOptions options_;
    const Clock now_ms_;
    mutable std::mutex mu_;
    std::vector<Endpoint> endpoints_;
    Breaker breaker_ = Breaker::kClosed;
    int64_t breaker_until_ = 0;
    bool half_open_probe_out_ = false;
    int pool_failures_ = 0;  // consecutive, over all endpoints
};

// A monotonic clock in milliseconds (steady_clock).
int64_t steady_now_ms();

}  // namespace citadel::ops
