#include "ops/upstream_pool.h"

#include <algorithm>
#include <chrono>
#include <limits>

namespace citadel::ops {

int64_t steady_now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

UpstreamPool::UpstreamPool(std::vector<std::string> urls, UpstreamPoolOptions options, Clock now_ms)
    : urls_(std::move(urls)),
      options_(options),
      now_ms_(now_ms ? std::move(now_ms) : Clock(steady_now_ms)),
      endpoints_(urls_.size()) {}

bool UpstreamPool::available(const Endpoint& e, int64_t now) const {
    if (!e.healthy) return false;
    if (e.ejected_until != 0 && now < e.ejected_until) return false;
    const bool probing = e.probing || e.ejected_until != 0;
    return !probing || e.outstanding == 0;
}

UpstreamPick UpstreamPool::none(int64_t now, std::string why) const {
    int64_t soonest = std::numeric_limits<int64_t>::max();
    for (const Endpoint& e : endpoints_) {
        if (e.healthy && e.ejected_until > now) soonest = std::min(soonest, e.ejected_until - now);
    }
    UpstreamPick p;
    p.retry_after_ms = soonest == std::numeric_limits<int64_t>::max() ? 1000 : soonest;
    p.why = std::move(why);
    return p;
}

UpstreamPick UpstreamPool::pick(const std::vector<size_t>& exclude, uint64_t random) {
    std::lock_guard lock(mu_);
    const int64_t now = now_ms_();
    if (breaker_ == Breaker::kOpen && now < breaker_until_) {
        UpstreamPick p;
        p.retry_after_ms = breaker_until_ - now;
        p.why = "the circuit breaker is open after " + std::to_string(pool_failures_) +
                " consecutive upstream failures";
        return p;
    }
    if (breaker_ == Breaker::kOpen) breaker_ = Breaker::kHalfOpen, half_open_probe_out_ = false;
    if (breaker_ == Breaker::kHalfOpen && half_open_probe_out_) {
        UpstreamPick p;
        p.retry_after_ms = 1000;
        p.why = "the circuit breaker is half-open and its probe request is still running";
        return p;
    }
    std::vector<size_t> best;
    int fewest = std::numeric_limits<int>::max();
    for (size_t i = 0; i < endpoints_.size(); ++i) {
        if (std::find(exclude.begin(), exclude.end(), i) != exclude.end()) continue;
        const Endpoint& e = endpoints_[i];
        if (!available(e, now)) continue;
        if (e.outstanding < fewest) fewest = e.outstanding, best.clear();
        if (e.outstanding == fewest) best.push_back(i);
    }
    if (best.empty()) {
        std::string why = exclude.empty() ? "no upstream endpoint is healthy"
                                          : "no other upstream endpoint is healthy";
        for (size_t i = 0; i < endpoints_.size(); ++i) {
            if (!endpoints_[i].healthy && !endpoints_[i].last_error.empty())
                why += "; " + urls_[i] + ": " + endpoints_[i].last_error;
        }
        return none(now, std::move(why));
    }
    const size_t chosen = best[random % best.size()];
    Endpoint& e = endpoints_[chosen];
    if (e.ejected_until != 0) e.ejected_until = 0, e.probing = true;  // back-off over: probe
    ++e.outstanding;
    ++e.requests;
    if (breaker_ == Breaker::kHalfOpen) half_open_probe_out_ = true;
    UpstreamPick p;
    p.endpoint = chosen;
    return p;
}

void UpstreamPool::eject(Endpoint& e, int64_t now) {
    int64_t ms = options_.eject_base_ms;
    for (int i = 0; i < e.ejections && ms < options_.eject_max_ms; ++i) ms *= 2;
    e.ejected_until = now + std::min(ms, options_.eject_max_ms);
    e.probing = false;
    ++e.ejections;
}

void UpstreamPool::record_failure(Endpoint& e, int64_t now) {
    ++e.consecutive_failures;
    if (e.probing || e.consecutive_failures >= options_.eject_after_failures) eject(e, now);
    ++pool_failures_;
    if (breaker_ == Breaker::kHalfOpen || pool_failures_ >= options_.breaker_failures) {
        breaker_ = Breaker::kOpen;
        breaker_until_ = now + options_.breaker_open_ms;
    }
    half_open_probe_out_ = false;
}

void UpstreamPool::finish(size_t endpoint, bool ok, bool counted) {
    std::lock_guard lock(mu_);
    Endpoint& e = endpoints_.at(endpoint);
    if (e.outstanding > 0) --e.outstanding;
    if (!counted) {
        if (breaker_ == Breaker::kHalfOpen) half_open_probe_out_ = false;
        return;
    }
    if (!ok) return record_failure(e, now_ms_());
    e.consecutive_failures = 0;
    e.ejections = 0;
    e.probing = false;
    pool_failures_ = 0;
    breaker_ = Breaker::kClosed;
    half_open_probe_out_ = false;
}

void UpstreamPool::set_health(size_t endpoint, bool healthy, std::string why) {
    std::lock_guard lock(mu_);
    Endpoint& e = endpoints_.at(endpoint);
    e.healthy = healthy;
    e.last_error = healthy ? "" : std::move(why);
    if (!healthy) return;
    if (e.ejected_until != 0 || e.probing) {
        e.ejected_until = 0;
        e.probing = false;
        e.consecutive_failures = 0;
        e.ejections = 0;
    }
}

std::vector<UpstreamEndpointState> UpstreamPool::snapshot() const {
    std::lock_guard lock(mu_);
    const int64_t now = now_ms_();
    std::vector<UpstreamEndpointState> out;
    for (size_t i = 0; i < endpoints_.size(); ++i) {
        const Endpoint& e = endpoints_[i];
        UpstreamEndpointState s;
        s.url = urls_[i];
        s.outstanding = e.outstanding;
        s.healthy = e.healthy;
        s.ejected = e.ejected_until > now;
        s.probing = e.probing || (e.ejected_until != 0 && e.ejected_until <= now);
        s.consecutive_failures = e.consecutive_failures;
        s.requests = e.requests;
        s.last_error = e.last_error;
        out.push_back(std::move(s));
    }
    return out;
}

bool UpstreamPool::breaker_open() const {
    std::lock_guard lock(mu_);
    return breaker_ == Breaker::kOpen && now_ms_() < breaker_until_;
}

}  // namespace citadel::ops
