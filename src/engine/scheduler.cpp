#include "engine/scheduler.h"

#include <algorithm>

namespace citadel {

Scheduler::Scheduler(const SchedulerConfig& config, KvManager& kv)
    : config_(config),
      kv_(kv),
      max_seq_len_(std::min(config.max_model_len, int64_t(kv.n_blocks()) * kv.block_size())) {
    // One token per running sequence must fit in a step, or decodes could stall.
    CITADEL_CHECK(config.max_seqs >= 1 && config.max_batch_tokens >= config.max_seqs);
    CITADEL_CHECK(config.max_model_len >= 2);
}

Scheduler::Seq& Scheduler::seq(uint64_t id) {
    return const_cast<Seq&>(std::as_const(*this).seq(id));
}

const Scheduler::Seq& Scheduler::seq(uint64_t id) const {
    const auto it = seqs_.find(id);
    CITADEL_CHECK(it != seqs_.end());
    return it->second;
}

Status Scheduler::add(uint64_t id, std::vector<int32_t> prompt, int priority,
                      std::string cache_salt) {
    const int64_t n = int64_t(prompt.size());
    const int64_t pool_tokens = int64_t(kv_.n_blocks()) * kv_.block_size();
    if (seqs_.contains(id)) {
        return Status::error("request id " + std::to_string(id) + " is already in use");
    }
    if (n == 0) return Status::error("the prompt is empty: at least one token is needed");
    if (n >= config_.max_model_len) {
        return Status::error("the prompt has " + std::to_string(n) +
                             " tokens but the model's context (max_model_len) is " +
                             std::to_string(config_.max_model_len) +
                             " tokens; it must be shorter to leave room for output");
    }
    if (n >= pool_tokens) {
        return Status::error(
            "the prompt has " + std::to_string(n) + " tokens but the KV cache holds only " +
            std::to_string(kv_.n_blocks()) + " blocks of " + std::to_string(kv_.block_size()) +
            " = " + std::to_string(pool_tokens) + " tokens; enlarge the KV cache");
    }
    const uint64_t arrival = next_arrival_++;
    waiting_.emplace(WaitKey{priority, arrival}, id);
    seqs_.emplace(id, Seq{.tokens = std::move(prompt),
                          .priority = priority,
                          .arrival = arrival,
                          .cache_salt = std::move(cache_salt)});
    return ok_status();
}

// One step's plan.
// 1. Running sequences, in order of admission, get the tokens they have not computed yet,
//    as far as the budget goes. A prompt is only ever cut into chunks when it takes the
//    rest of the budget, so at most one running sequence is mid-prefill and it is the
//    youngest: every decode ahead of it gets its token first. When the pool lacks blocks, the
//    lowest-priority, most recently admitted running sequence is preempted (blocks freed,
//    back to waiting, to recompute later) until the allocation fits or the victim is the
//    sequence itself (then the others after it, which outrank it, still get their turn).
//    A sequence never outgrows the pool on its own (add() and append_token() keep it within
//    max_seq_len()), so the first sequence in that order always runs: every step progresses.
// 2. Unless step 1 preempted, waiting sequences are admitted in (priority, arrival) order
//    while budget, max_seqs and free blocks allow, after skipping the prefix the cache
//    already holds. Admission never preempts.
// 3. num_computed advances as soon as a sequence is scheduled and its newly full blocks
//    enter the prefix cache: the forward pass writes all of a step's KV before attention
//    reads any, so a sequence admitted later in the same step may already reuse them.
StepPlan Scheduler::schedule() {
    StepPlan plan;
    int64_t budget = config_.max_batch_tokens;
    schedule_running(plan, budget);
    // Only now, when no more running sequence can be preempted and unscheduled.
    for (const ScheduledSeq& scheduled : plan.seqs) commit(scheduled);
    if (plan.preempted.empty()) schedule_waiting(plan, budget);
    plan.n_tokens = config_.max_batch_tokens - budget;
    return plan;
}

void Scheduler::schedule_running(StepPlan& plan, int64_t& budget) {
    const std::vector<uint64_t> order = running_;
    for (const uint64_t id : order) {
        if (budget == 0) break;
        if (std::find(running_.begin(), running_.end(), id) == running_.end()) {
            continue;  // preempted earlier in this step
        }
        const Seq& s = seq(id);
        const int64_t n_left = int64_t(s.tokens.size()) - s.num_computed;
        if (n_left == 0) continue;  // its sampled token is not appended yet
        const int64_t n = std::min(n_left, budget);
        if (!allocate_or_preempt(id, s.num_computed + n, plan, budget)) continue;
        plan.seqs.push_back({.id = id,
                             .start = s.num_computed,
                             .n_tokens = n,
                             .sample = s.num_computed + n == int64_t(s.tokens.size())});
        budget -= n;
    }
}

// False when `id` itself had to be preempted.
bool Scheduler::allocate_or_preempt(uint64_t id, int64_t n_total, StepPlan& plan, int64_t& budget) {
    while (!kv_.allocate(id, n_total)) {
        const uint64_t victim = pick_victim();
        preempt(victim, plan, budget);
        if (victim == id) return false;
    }
    return true;
}

// The lowest-priority running sequence (highest value), the most recently admitted on a tie.
uint64_t Scheduler::pick_victim() const {
    CITADEL_CHECK(!running_.empty());
    uint64_t victim = running_.back();
    for (auto it = running_.rbegin(); it != running_.rend(); ++it) {
        if (seq(*it).priority > seq(victim).priority) victim = *it;
    }
    return victim;
}

void Scheduler::preempt(uint64_t id, StepPlan& plan, int64_t& budget) {
    Seq& s = seq(id);
    kv_.free(id);
    s.num_computed = 0;  // keeps its output tokens: it recomputes prompt + output later
    running_.erase(std::find(running_.begin(), running_.end(), id));
    waiting_.emplace(WaitKey{s.priority, s.arrival}, id);  // ahead of later arrivals
    const auto scheduled = std::find_if(plan.seqs.begin(), plan.seqs.end(),
                                        [id](const ScheduledSeq& p) { return p.id == id; });
    if (scheduled != plan.seqs.end()) {  // already given tokens this step: take them back
        budget += scheduled->n_tokens;
        plan.seqs.erase(scheduled);
    }
    plan.preempted.push_back(id);
    ++num_preemptions_;
}

void Scheduler::schedule_waiting(StepPlan& plan, int64_t& budget) {
    while (budget > 0 && running_.size() < size_t(config_.max_seqs) && !waiting_.empty()) {
        if (!admit(waiting_.begin()->second, plan, budget)) break;
    }
}

// False (nothing changed) when the pool cannot hold the sequence's first chunk.
bool Scheduler::admit(uint64_t id, StepPlan& plan, int64_t& budget) {
    Seq& s = seq(id);
    s.num_computed = kv_.attach_cached_prefix(id, s.tokens, s.cache_salt);
    const int64_t n = std::min(int64_t(s.tokens.size()) - s.num_computed, budget);
    if (!kv_.allocate(id, s.num_computed + n)) {
        kv_.free(id);  // drops the cached blocks just attached
        s.num_computed = 0;
        return false;
    }
    if (!s.admitted_once) s.num_cached_tokens = s.num_computed;
    s.admitted_once = true;
    waiting_.erase(WaitKey{s.priority, s.arrival});
    running_.push_back(id);
    const ScheduledSeq scheduled{.id = id,
                                 .start = s.num_computed,
                                 .n_tokens = n,
                                 .sample = s.num_computed + n == int64_t(s.tokens.size())};
    plan.seqs.push_back(scheduled);
    budget -= n;
    commit(scheduled);
    return true;
}

void Scheduler::commit(const ScheduledSeq& scheduled) {
    Seq& s = seq(scheduled.id);
    s.num_computed += scheduled.n_tokens;
    kv_.cache_computed(scheduled.id, s.tokens, s.num_computed, s.cache_salt);
}

bool Scheduler::append_token(uint64_t id, int32_t token) {
    Seq& s = seq(id);
    CITADEL_CHECK(s.num_computed == int64_t(s.tokens.size()));  // the last plan sampled it
    CITADEL_CHECK(int64_t(s.tokens.size()) < max_seq_len_);     // finish() it at the limit
    s.tokens.push_back(token);
    return int64_t(s.tokens.size()) < max_seq_len_;
}

void Scheduler::finish(uint64_t id) {
    const auto it = seqs_.find(id);
    if (it == seqs_.end()) return;
    kv_.free(id);
    const auto running = std::find(running_.begin(), running_.end(), id);
    if (running != running_.end())
        running_.erase(running);
    else
        waiting_.erase(WaitKey{it->second.priority, it->second.arrival});
    seqs_.erase(it);
}

}  // namespace citadel
