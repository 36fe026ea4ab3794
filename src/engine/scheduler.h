// The serving engine's scheduler: pure bookkeeping over token counts and KV blocks, no model.
//
// Catch-up scheduling (vLLM v1): a sequence has `tokens` (prompt + output so far) and
// `num_computed`, the positions whose KV exists. Each step computes, for every scheduled
// sequence, some of the tokens in [num_computed, tokens.size()): a whole prompt, a chunk of
// it, the rest after a prefix-cache hit, or the one token sampled last step. There are no
// prefill or decode modes; a token is sampled when a sequence has caught up.
//
// schedule() returns a StepPlan; the caller runs the forward pass over it, samples, and
// calls append_token() for each sequence the plan marked `sample`.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "engine/kv/kv_manager.h"

namespace citadel {

struct SchedulerConfig {
    int64_t max_batch_tokens = 512;  // tokens computed per step, all sequences together
    int max_seqs = 16;               // running sequences at once (<= max_batch_tokens)
    int64_t max_model_len = 4096;    // prompt + output tokens of one sequence
};

struct ScheduledSeq {
    uint64_t id = 0;
    int64_t start = 0;  // compute tokens [start, start + n_tokens)
    int64_t n_tokens = 0;
    bool sample = false;  // start + n_tokens == tokens.size(): sample the next token
};

struct StepPlan {
    std::vector<ScheduledSeq> seqs;
    std::vector<uint64_t> preempted;  // lost their KV this step and wait to recompute it
    int64_t n_tokens = 0;             // sum of seqs[i].n_tokens
    bool empty() const { return seqs.empty(); }
};

class Scheduler {
  public:
    Scheduler(const SchedulerConfig& config, KvManager& kv);

    // Queues a request. Errors when the prompt is empty, leaves no room to generate within
    // max_seq_len(), or the id is in use. Lower `priority` values are served first.
    Status add(uint64_t id, std::vector<int32_t> prompt, int priority = 0,
               std::string cache_salt = {});
    StepPlan schedule();
    // Appends the token sampled for a sequence the last plan marked `sample`. Returns false
    // when the sequence reached max_seq_len(): the caller must finish() it.
    bool append_token(uint64_t id, int32_t token);
    // Finished or cancelled, running or waiting: frees its blocks now and forgets it.
    // An unknown id is ignored.
    void finish(uint64_t id);

    // The longest a sequence may grow: max_model_len, or less when the KV pool is smaller.
    int64_t max_seq_len() const { return max_seq_len_; }
    size_t num_waiting() const { return waiting_.size(); }
    size_t num_running() const { return running_.size(); }
    bool contains(uint64_t id) const { return seqs_.contains(id); }
    const std::vector<int32_t>& tokens(uint64_t id) const { return seq(id).tokens; }
    int64_t num_computed(uint64_t id) const { return seq(id).num_computed; }
    // Prompt tokens found in the prefix cache at the first admission (0 before it).
    int64_t num_cached_tokens(uint64_t id) const { return seq(id).num_cached_tokens; }
    const std::vector<int32_t>& block_table(uint64_t id) const { return kv_.table(id); }
    int64_t num_preemptions() const { return num_preemptions_; }

  private:
    struct Seq {
        std::vector<int32_t> tokens;
        int64_t num_computed = 0;
        int64_t num_cached_tokens = 0;
        bool admitted_once = false;
        int priority = 0;
        uint64_t arrival = 0;  // keeps its place in the waiting order across preemptions
        std::string cache_salt;
    };
    using WaitKey = std::pair<int, uint64_t>;  // (priority, arrival): the waiting order

    Seq& seq(uint64_t id);
    const Seq& seq(uint64_t id) const;
    void schedule_running(StepPlan& plan, int64_t& budget);
    bool allocate_or_preempt(uint64_t id, int64_t n_total, StepPlan& plan, int64_t& budget);
    uint64_t pick_victim() const;
    void preempt(uint64_t id, StepPlan& plan, int64_t& budget);
    void schedule_waiting(StepPlan& plan, int64_t& budget);
    bool admit(uint64_t id, StepPlan& plan, int64_t& budget);
    void commit(const ScheduledSeq& scheduled);

    SchedulerConfig config_;
    KvManager& kv_;
    int64_t max_seq_len_;
    std::unordered_map<uint64_t, Seq> seqs_;
    std::vector<uint64_t> running_;        // in order of admission, youngest last
    std::map<WaitKey, uint64_t> waiting_;  // first = next to admit
    uint64_t next_arrival_ = 0;
    int64_t num_preemptions_ = 0;
};

}  // namespace citadel
