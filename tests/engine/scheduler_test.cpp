#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include "engine/kv_test_util.h"

#include <array>
#include <functional>
#include <map>
#include <numeric>
#include <random>
#include <string>

namespace citadel {
namespace {

using test::kv_config;
using test::tokens;

struct Engine {
    KvManager kv;
    Scheduler sched;
    Engine(const KvManagerConfig& k, const SchedulerConfig& s) : kv(k), sched(s, kv) {}
};

// Plays the model: every sequence the plan samples gets `token`.
void complete(Scheduler& sched, const StepPlan& plan, int32_t token = 7) {
    for (const ScheduledSeq& s : plan.seqs) {
        if (s.sample) sched.append_token(s.id, token);
    }
}

const ScheduledSeq* find(const StepPlan& plan, uint64_t id) {
    for (const ScheduledSeq& s : plan.seqs) {
        if (s.id == id) return &s;
    }
    return nullptr;
}

TEST(Scheduler, RejectsRequestsItCannotServe) {
    Engine e(kv_config(4), {.max_model_len = 40});  // pool: 64 tokens
    EXPECT_NE(e.sched.add(1, {}).message().find("empty"), std::string::npos);
    const Status too_long = e.sched.add(1, tokens(45));
    EXPECT_NE(too_long.message().find("45"), std::string::npos) << too_long.message();
    EXPECT_NE(too_long.message().find("40"), std::string::npos) << too_long.message();
    EXPECT_TRUE(e.sched.add(1, tokens(39)).ok());
    EXPECT_NE(e.sched.add(1, tokens(3)).message().find("already"), std::string::npos);
    EXPECT_EQ(e.sched.max_seq_len(), 40);

    Engine small(kv_config(4), {.max_model_len = 4096});
    const Status too_big = small.sched.add(1, tokens(64));
    EXPECT_NE(too_big.message().find("64"), std::string::npos) << too_big.message();
    EXPECT_NE(too_big.message().find("4 blocks"), std::string::npos) << too_big.message();
    EXPECT_TRUE(small.sched.add(1, tokens(63)).ok());
    EXPECT_EQ(small.sched.max_seq_len(), 64);
    EXPECT_FALSE(small.sched.contains(2));
    EXPECT_EQ(small.sched.num_waiting(), 1u);
}

TEST(Scheduler, AppendTokenSaysWhenTheSequenceIsFull) {
    Engine e(kv_config(4), {.max_model_len = 8});
    ASSERT_TRUE(e.sched.add(1, tokens(6)).ok());
    ASSERT_TRUE(e.sched.schedule().seqs.at(0).sample);
    EXPECT_TRUE(e.sched.append_token(1, 7));  // 7 tokens
    ASSERT_TRUE(e.sched.schedule().seqs.at(0).sample);
    EXPECT_FALSE(e.sched.append_token(1, 7));  // 8 = max_model_len: the caller finishes it
    EXPECT_EQ(e.sched.tokens(1).size(), 8u);
    e.sched.finish(1);
    EXPECT_EQ(e.kv.num_free_blocks(), 4);
}

TEST(Scheduler, FillsTheTokenBudgetExactly) {
    Engine e(kv_config(64), {.max_batch_tokens = 100, .max_seqs = 8});
    for (uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(e.sched.add(id, tokens(90, 1000 * id)).ok());

    StepPlan plan = e.sched.schedule();
    ASSERT_EQ(plan.seqs.size(), 2u);
    EXPECT_EQ(plan.n_tokens, 100);
    EXPECT_EQ(plan.seqs[0].n_tokens, 90);
    EXPECT_TRUE(plan.seqs[0].sample);
    EXPECT_EQ(plan.seqs[1].n_tokens, 10);  // chunked
    EXPECT_FALSE(plan.seqs[1].sample);
    complete(e.sched, plan);

    plan = e.sched.schedule();
    EXPECT_EQ(plan.n_tokens, 100);
    EXPECT_EQ(find(plan, 1)->n_tokens, 1);
    EXPECT_EQ(find(plan, 2)->start, 10);
    EXPECT_EQ(find(plan, 2)->n_tokens, 80);
    EXPECT_EQ(find(plan, 3)->n_tokens, 19);
    complete(e.sched, plan);

    plan = e.sched.schedule();
    EXPECT_EQ(plan.n_tokens, 1 + 1 + 71);
    EXPECT_EQ(e.sched.num_computed(3), 90);
}

TEST(Scheduler, RespectsMaxSeqs) {
    Engine e(kv_config(64), {.max_seqs = 2});
    for (uint64_t id = 1; id <= 5; ++id) ASSERT_TRUE(e.sched.add(id, tokens(4)).ok());
    StepPlan plan = e.sched.schedule();
    EXPECT_EQ(plan.seqs.size(), 2u);
    EXPECT_EQ(e.sched.num_running(), 2u);
    EXPECT_EQ(e.sched.num_waiting(), 3u);
    complete(e.sched, plan);
    e.sched.finish(1);
    plan = e.sched.schedule();
    EXPECT_EQ(plan.seqs.size(), 2u);
    EXPECT_NE(find(plan, 3), nullptr);
}

TEST(Scheduler, ChunkedPrefillNeverStallsRunningDecodes) {
    Engine e(kv_config(64), {.max_batch_tokens = 32});
    ASSERT_TRUE(e.sched.add(1, tokens(5)).ok());
    ASSERT_TRUE(e.sched.add(2, tokens(5, 100)).ok());
    complete(e.sched, e.sched.schedule());
    ASSERT_TRUE(e.sched.add(3, tokens(100, 500)).ok());

    std::vector<int64_t> chunks;
    for (int step = 0; step < 4; ++step) {
        const int64_t before1 = e.sched.num_computed(1), before2 = e.sched.num_computed(2);
        const StepPlan plan = e.sched.schedule();
        EXPECT_LE(plan.n_tokens, 32);
        EXPECT_EQ(e.sched.num_computed(1), before1 + 1);
        EXPECT_EQ(e.sched.num_computed(2), before2 + 1);
        chunks.push_back(find(plan, 3)->n_tokens);
        EXPECT_EQ(find(plan, 3)->sample, step == 3);
        complete(e.sched, plan);
    }
    EXPECT_EQ(chunks, (std::vector<int64_t>{30, 30, 30, 10}));
    EXPECT_EQ(e.sched.tokens(3).size(), 101u);
}

TEST(Scheduler, PrefixHitSkipsComputedTokens) {
    Engine e(kv_config(64), {});
    const std::vector<int32_t> a = tokens(40);
    ASSERT_TRUE(e.sched.add(1, a).ok());
    complete(e.sched, e.sched.schedule());

    std::vector<int32_t> b(a.begin(), a.begin() + 32);
    b.insert(b.end(), {900, 901, 902});
    ASSERT_TRUE(e.sched.add(2, b).ok());
    const StepPlan plan = e.sched.schedule();
    ASSERT_NE(find(plan, 2), nullptr);
    EXPECT_EQ(find(plan, 2)->start, 32);
    EXPECT_EQ(find(plan, 2)->n_tokens, 3);
    EXPECT_EQ(e.sched.num_cached_tokens(2), 32);
    EXPECT_EQ(e.sched.num_cached_tokens(1), 0);
    EXPECT_EQ(e.sched.block_table(2)[1], e.sched.block_table(1)[1]);
}

TEST(Scheduler, SequenceAdmittedLaterInAStepReusesBlocksComputedInIt) {
    Engine e(kv_config(64), {});
    std::vector<int32_t> c = tokens(50), d = tokens(48);
    d.insert(d.end(), {7, 8, 9, 10, 11});
    ASSERT_TRUE(e.sched.add(1, c).ok());
    ASSERT_TRUE(e.sched.add(2, d).ok());
    const StepPlan plan = e.sched.schedule();
    EXPECT_EQ(find(plan, 1)->n_tokens, 50);
    EXPECT_EQ(find(plan, 2)->start, 48);
    EXPECT_EQ(find(plan, 2)->n_tokens, 5);
    EXPECT_EQ(plan.n_tokens, 55);
    EXPECT_EQ(e.sched.num_cached_tokens(2), 48);
}

TEST(Scheduler, PreemptsTheYoungestWhenBlocksRunOutAndResumesIt) {
    Engine e(kv_config(4, 4), {});  // 16 token positions
    ASSERT_TRUE(e.sched.add(1, tokens(6)).ok());
    ASSERT_TRUE(e.sched.add(2, tokens(6, 100)).ok());
    for (int step = 0; step < 3; ++step) {  // both reach 9 tokens in 2 blocks each
        const StepPlan plan = e.sched.schedule();
        EXPECT_EQ(plan.seqs.size(), 2u);
        EXPECT_TRUE(plan.preempted.empty());
        complete(e.sched, plan);
    }
    StepPlan plan = e.sched.schedule();  // 1 needs a third block: 2 makes room
    EXPECT_EQ(plan.preempted, (std::vector<uint64_t>{2}));
    ASSERT_EQ(plan.seqs.size(), 1u);
    EXPECT_EQ(plan.seqs[0].id, 1u);
    EXPECT_EQ(e.sched.num_computed(2), 0);
    EXPECT_EQ(e.sched.tokens(2).size(), 9u);  // keeps its output
    EXPECT_TRUE(e.sched.block_table(2).empty());
    EXPECT_EQ(e.sched.num_preemptions(), 1);
    EXPECT_EQ(e.sched.num_waiting(), 1u);
    complete(e.sched, plan);

    while (e.sched.tokens(1).size() < 12) complete(e.sched, e.sched.schedule());
    e.sched.finish(1);
    plan = e.sched.schedule();
    ASSERT_EQ(plan.seqs.size(), 1u);
    EXPECT_EQ(plan.seqs[0].id, 2u);
    EXPECT_EQ(plan.seqs[0].start, 4);  // its first block survived in the prefix cache
    EXPECT_EQ(plan.seqs[0].n_tokens, 5);
    EXPECT_TRUE(plan.seqs[0].sample);
    complete(e.sched, plan);
    while (e.sched.tokens(2).size() < 12) complete(e.sched, e.sched.schedule());
    e.sched.finish(2);
    EXPECT_EQ(e.kv.num_free_blocks(), 4);
}

TEST(Scheduler, ASequenceThatIsItselfTheYoungestPreemptsItself) {
    Engine e(kv_config(3, 4), {});
    ASSERT_TRUE(e.sched.add(1, tokens(5)).ok());       // 2 blocks
    ASSERT_TRUE(e.sched.add(2, tokens(4, 100)).ok());  // 1 block: the pool is full
    complete(e.sched, e.sched.schedule());
    const StepPlan plan = e.sched.schedule();  // 2 needs a second block
    EXPECT_EQ(plan.preempted, (std::vector<uint64_t>{2}));
    ASSERT_EQ(plan.seqs.size(), 1u);
    EXPECT_EQ(plan.seqs[0].id, 1u);
}

TEST(Scheduler, PreemptsTheLowestPriorityEvenIfAlreadyScheduled) {
    Engine e(kv_config(3, 4), {});
    ASSERT_TRUE(e.sched.add(1, tokens(5), /*priority=*/5).ok());
    complete(e.sched, e.sched.schedule());
    ASSERT_TRUE(e.sched.add(2, tokens(4, 100), /*priority=*/0).ok());
    complete(e.sched, e.sched.schedule());  // 1: 2 blocks, 2: 1 block
    const StepPlan plan = e.sched.schedule();
    EXPECT_EQ(plan.preempted, (std::vector<uint64_t>{1}));
    ASSERT_EQ(plan.seqs.size(), 1u);
    EXPECT_EQ(plan.seqs[0].id, 2u);
    EXPECT_EQ(plan.n_tokens, 1);  // 1's token was given back
    EXPECT_EQ(e.sched.num_computed(1), 0);
}

TEST(Scheduler, AnOlderLowPrioritySequenceYieldsToTheOnesAfterIt) {
    Engine e(kv_config(3, 4), {});
    ASSERT_TRUE(e.sched.add(1, tokens(3), /*priority=*/5).ok());
    complete(e.sched, e.sched.schedule());
    ASSERT_TRUE(e.sched.add(2, tokens(8, 100), /*priority=*/0).ok());
    complete(e.sched, e.sched.schedule());     // 1: 1 block, 2: 2 blocks
    const StepPlan plan = e.sched.schedule();  // 1 comes first but needs a block: it yields
    EXPECT_EQ(plan.preempted, (std::vector<uint64_t>{1}));
    ASSERT_EQ(plan.seqs.size(), 1u);
    EXPECT_EQ(plan.seqs[0].id, 2u);
    EXPECT_EQ(e.sched.block_table(2).size(), 3u);
}

TEST(Scheduler, FinishFreesWaitingAndRunningSequencesAtOnce) {
    Engine e(kv_config(8), {.max_seqs = 1});
    ASSERT_TRUE(e.sched.add(1, tokens(20)).ok());
    ASSERT_TRUE(e.sched.add(2, tokens(20, 100)).ok());
    e.sched.schedule();
    EXPECT_EQ(e.kv.num_free_blocks(), 6);
    e.sched.finish(2);
    EXPECT_FALSE(e.sched.contains(2));
    EXPECT_EQ(e.sched.num_waiting(), 0u);
    e.sched.finish(1);  // mid-step, before its token was appended
    EXPECT_FALSE(e.sched.contains(1));
    EXPECT_EQ(e.sched.num_running(), 0u);
    EXPECT_EQ(e.kv.num_free_blocks(), 8);
    e.sched.finish(3);  // unknown: ignored
    EXPECT_TRUE(e.sched.schedule().empty());
}

// Ids in the order a one-sequence-at-a-time scheduler admits them.
std::vector<uint64_t> admission_order(Scheduler& sched) {
    std::vector<uint64_t> order;
    while (sched.num_waiting() > 0) {
        const StepPlan plan = sched.schedule();
        order.push_back(plan.seqs.at(0).id);
        sched.finish(plan.seqs[0].id);
    }
    return order;
}

TEST(Scheduler, AdmitsFirstComeFirstServed) {
    Engine e(kv_config(16), {.max_seqs = 1});
    for (const uint64_t id : {3, 1, 2}) ASSERT_TRUE(e.sched.add(id, tokens(4)).ok());
    EXPECT_EQ(admission_order(e.sched), (std::vector<uint64_t>{3, 1, 2}));
}

TEST(Scheduler, AdmitsLowerPriorityValuesFirstThenByArrival) {
    Engine e(kv_config(16), {.max_seqs = 1});
    ASSERT_TRUE(e.sched.add(1, tokens(4), 1).ok());
    ASSERT_TRUE(e.sched.add(2, tokens(4), 0).ok());
    ASSERT_TRUE(e.sched.add(3, tokens(4), 1).ok());
    ASSERT_TRUE(e.sched.add(4, tokens(4), -1).ok());
    EXPECT_EQ(admission_order(e.sched), (std::vector<uint64_t>{4, 2, 1, 3}));
}

TEST(Scheduler, EveryRunningSequenceAdvancesEachStepWhileRequestsArrive) {
    Engine e(kv_config(512), {.max_batch_tokens = 64, .max_seqs = 24});
    uint64_t next_id = 1;
    for (; next_id <= 16; ++next_id) ASSERT_TRUE(e.sched.add(next_id, tokens(8)).ok());
    for (int step = 0; step < 3; ++step) complete(e.sched, e.sched.schedule());  // 8 + 7 + 1
    ASSERT_EQ(e.sched.num_running(), 16u);

    for (int step = 0; step < 40; ++step) {
        ASSERT_TRUE(e.sched.add(next_id, tokens(30, int32_t(next_id))).ok());
        ++next_id;
        std::map<uint64_t, int64_t> running;  // id -> num_computed before the step
        for (uint64_t id = 1; id < next_id; ++id) {
            if (e.sched.num_computed(id) > 0) running[id] = e.sched.num_computed(id);
        }
        const StepPlan plan = e.sched.schedule();
        EXPECT_LE(plan.n_tokens, 64);
        EXPECT_LE(e.sched.num_running(), 24u);
        for (const auto& [id, before] : running) EXPECT_GT(e.sched.num_computed(id), before);
        complete(e.sched, plan);
    }
    EXPECT_EQ(e.sched.num_running(), 24u);
}

// Random add / step / finish operations on a small pool, checking the bookkeeping after each
// one and, through a fake KV arena, that every position a step reads holds the KV of exactly
// that sequence's prefix (so prefix-cache hits, shared blocks and reuse are all correct).
class RandomWorkload {
  public:
    static constexpr int kBlockSize = 4;
    static constexpr int32_t kBlocks = 24;
    static constexpr SchedulerConfig kConfig{
        .max_batch_tokens = 24, .max_seqs = 5, .max_model_len = 48};

    explicit RandomWorkload(uint64_t seed)
        : rng_(seed), e_(kv_config(kBlocks, kBlockSize), kConfig), arena_(kBlocks * kBlockSize) {
        for (auto& base : bases_) base = random_tokens(32);
    }

    void add() {
        const std::vector<int32_t>& base = bases_[rng_() % bases_.size()];
        std::vector<int32_t> prompt(base.begin(), base.begin() + int64_t(rng_() % 33));
        const std::vector<int32_t> tail = random_tokens(int(rng_() % 12));
        prompt.insert(prompt.end(), tail.begin(), tail.end());
        if (prompt.empty()) prompt.push_back(1);
        const uint64_t id = next_id_++;
        const std::string salt = rng_() % 2 ? "tenant" : "";
        ASSERT_TRUE(e_.sched.add(id, prompt, int(rng_() % 3), salt).ok());
        live_[id] = {.salt = salt, .target_len = prompt.size() + 1 + rng_() % 20};
    }

    void step() {
        const StepPlan plan = e_.sched.schedule();
        check_plan(plan);
        forward(plan);
        for (const ScheduledSeq& s : plan.seqs) {
            if (!s.sample) continue;
            const bool can_grow = e_.sched.append_token(s.id, int32_t(rng_() % 50));
            if (!can_grow || e_.sched.tokens(s.id).size() >= live_[s.id].target_len) finish(s.id);
        }
    }

    void finish_random() {
        if (live_.empty()) return;
        auto it = live_.begin();
        std::advance(it, rng_() % live_.size());
        finish(it->first);
    }

    void finish(uint64_t id) {
        e_.sched.finish(id);
        live_.erase(id);
    }

    void check_bookkeeping() const {
        const BlockPool& pool = e_.kv.pool();
        int64_t refs = 0, tables = 0;
        int32_t n_zero = 0;
        for (int32_t b = 0; b < pool.n_blocks(); ++b) {
            refs += pool.ref_count(b);
            n_zero += pool.ref_count(b) == 0;
        }
        for (const auto& [id, info] : live_) {
            const int64_t computed = e_.sched.num_computed(id);
            const size_t table = e_.sched.block_table(id).size();
            tables += int64_t(table);
            EXPECT_GE(int64_t(table) * kBlockSize, computed);
            EXPECT_LE(computed, int64_t(e_.sched.tokens(id).size()));
            EXPECT_EQ(computed == 0, table == 0);  // waiting: nothing; running: some KV
        }
        EXPECT_EQ(refs, tables);
        EXPECT_EQ(n_zero, e_.kv.num_free_blocks());
        EXPECT_EQ(pool.num_free() + pool.num_used(), kBlocks);
        EXPECT_EQ(e_.sched.num_waiting() + e_.sched.num_running(), live_.size());
        EXPECT_LE(e_.sched.num_running(), size_t(kConfig.max_seqs));
    }

    const KvManager& kv() const { return e_.kv; }
    bool done() const { return live_.empty(); }
    int steps_with_preemption() const { return steps_with_preemption_; }

  private:
    struct Info {
        std::string salt;
        size_t target_len = 0;
    };

    std::vector<int32_t> random_tokens(int n) {
        std::vector<int32_t> t(static_cast<size_t>(n));
        for (int32_t& x : t) x = int32_t(rng_() % 50);
        return t;
    }

    void check_plan(const StepPlan& plan) {
        int64_t sum = 0;
        for (const ScheduledSeq& s : plan.seqs) {
            sum += s.n_tokens;
            EXPECT_GT(s.n_tokens, 0);
            EXPECT_EQ(e_.sched.num_computed(s.id), s.start + s.n_tokens);
            EXPECT_EQ(s.sample, s.start + s.n_tokens == int64_t(e_.sched.tokens(s.id).size()));
        }
        EXPECT_EQ(sum, plan.n_tokens);
        EXPECT_LE(plan.n_tokens, kConfig.max_batch_tokens);
        EXPECT_LE(plan.seqs.size(), size_t(kConfig.max_seqs));
        steps_with_preemption_ += !plan.preempted.empty();
    }

    // What position p of a sequence holds: its salt and every token up to p.
    uint64_t identity(uint64_t id, int64_t p) const {
        uint64_t h = std::hash<std::string>()(live_.at(id).salt);
        const std::vector<int32_t>& t = e_.sched.tokens(id);
        for (int64_t i = 0; i <= p; ++i) h = h * 0x100000001b3ull ^ uint64_t(t[size_t(i)] + 1);
        return h;
    }

    uint64_t& slot(uint64_t id, int64_t p) {
        const int32_t block = e_.sched.block_table(id).at(size_t(p / kBlockSize));
        return arena_[size_t(block) * kBlockSize + size_t(p % kBlockSize)];
    }

    // Writes the step's KV, then reads back everything attention would read.
    void forward(const StepPlan& plan) {
        for (const ScheduledSeq& s : plan.seqs) {
            for (int64_t p = s.start; p < s.start + s.n_tokens; ++p)
                slot(s.id, p) = identity(s.id, p);
        }
        for (const ScheduledSeq& s : plan.seqs) {
            for (int64_t p = 0; p < s.start + s.n_tokens; ++p) {
                ASSERT_EQ(slot(s.id, p), identity(s.id, p)) << "seq " << s.id << " pos " << p;
            }
        }
    }

    std::mt19937_64 rng_;
    Engine e_;
    std::vector<uint64_t> arena_;  // [n_blocks * block_size] fake KV rows
    std::array<std::vector<int32_t>, 3> bases_;
    std::map<uint64_t, Info> live_;
    uint64_t next_id_ = 1;
    int steps_with_preemption_ = 0;
};

// 1,000 random operations, then steps until every request completes (no livelock).
void run_random_workload(uint64_t seed) {
    RandomWorkload w(seed);
    std::mt19937 ops{uint32_t(seed)};
    for (int op = 0; op < 1000; ++op) {
        const unsigned kind = ops() % 10;
        if (kind < 3) w.add();
        if (kind >= 3 && kind < 9) w.step();
        if (kind == 9) w.finish_random();
        w.check_bookkeeping();
        if (testing::Test::HasFatalFailure()) return;
    }
    for (int step = 0; step < 2000 && !w.done(); ++step) w.step();
    EXPECT_TRUE(w.done());
    w.check_bookkeeping();
    EXPECT_GT(w.steps_with_preemption(), 0);
    EXPECT_GT(w.kv().prefix_hit_tokens(), 0);
    EXPECT_EQ(w.kv().num_free_blocks(), RandomWorkload::kBlocks);
}

TEST(Scheduler, RandomOperationsKeepTheBookkeepingConsistent) {
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        SCOPED_TRACE("seed " + std::to_string(seed));
        run_random_workload(seed);
        if (testing::Test::HasFatalFailure()) return;
    }
}

}  // namespace
}  // namespace citadel
