#include "gateway/accountant.h"

#include "gateway/clock.h"

#include <chrono>

#include "gateway/limiter.h"

namespace citadel::gateway {
namespace {}  // namespace

Accountant::Accountant(Limiter& limiter, int period_ms)
    : limiter_(limiter), period_ms_(period_ms), thread_([this] { run(); }) {}

Accountant::~Accountant() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void Accountant::charge(const std::string& identity_id, const KeyLimits& limits, int64_t tokens) {
    if (tokens <= 0 || (limits.tpm == 0 && limits.daily_tokens == 0)) return;
    std::lock_guard<std::mutex> lock(mu_);
    Pending& p = pending_[identity_id];
    p.limits = limits;
    p.tokens += tokens;
    ++submitted_;
}

void Accountant::flush() {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t target = submitted_;
    cv_.notify_all();
    applied_cv_.wait(lock, [&] { return applied_ >= target; });
}

void Accountant::apply(std::map<std::string, Pending>& batch) {
    const int64_t now = unix_now_ms();
    for (const auto& [id, p] : batch) limiter_.charge(id, p.limits, p.tokens, now);
}

void Accountant::run() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
        cv_.wait_for(lock, std::chrono::milliseconds(period_ms_));
        std::map<std::string, Pending> batch;
        batch.swap(pending_);
        const uint64_t upto = submitted_;
        const bool stopping = stop_;
        lock.unlock();
        apply(batch);
        lock.lock();
        applied_ = upto;
        applied_cv_.notify_all();
        if (stopping && pending_.empty()) return;
    }
}

}  // namespace citadel::gateway
