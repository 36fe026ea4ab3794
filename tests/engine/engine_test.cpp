// The serving engine end to end on small real models: batching does not change results,
// the prefix cache does not change results, blocks never leak, limits answer clearly.
#include <gtest/gtest.h>

#include <unistd.h>

#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "engine/engine.h"
#include "engine/event_queue.h"
#include "test_paths.h"

namespace citadel {
namespace {

std::shared_ptr<const Model> load(const std::string& name) {
    auto m = load_model(test::reference_model(name));
    EXPECT_TRUE(m.ok()) << m.error();
    return *m;
}

std::unique_ptr<Engine> make_engine(std::shared_ptr<const Model> m, EngineOptions o = {}) {
    if (o.kv_mem_bytes == (size_t(1) << 30)) o.kv_mem_bytes = size_t(64) << 20;
    if (o.n_threads == 0) o.n_threads = 2;
    auto e = Engine::create(std::move(m), {}, o);
    EXPECT_TRUE(e.ok()) << e.error();
    return std::move(*e);
}

std::vector<int32_t> prompt_of(int n, uint64_t seed, int64_t n_vocab) {
    std::mt19937_64 rng(seed);
    std::vector<int32_t> p(static_cast<size_t>(n));
    for (int32_t& t : p) t = int32_t(rng() % uint64_t(n_vocab));
    return p;
}

GenerationRequest greedy(std::vector<int32_t> prompt, int n) {
    GenerationRequest r;
    r.prompt = std::move(prompt);
    r.max_tokens = n;
    r.ignore_eos = true;
    r.sampling.temperature = 0.0f;
    return r;
}

struct Outcome {
    std::vector<int32_t> tokens;
    EngineEvent finish;
};

// Submits every request at once and collects each one's tokens and finish event.
std::vector<Outcome> run_all(Engine& e, const std::vector<GenerationRequest>& reqs) {
    EventQueue q;
    std::map<uint64_t, size_t> index;
    for (size_t i = 0; i < reqs.size(); ++i) {
        Submitted s = e.submit(reqs[i], q.sink());
        EXPECT_TRUE(s.ok()) << s.error;
        index[s.id] = i;
    }
    std::vector<Outcome> out(reqs.size());
    size_t done = 0;
    while (done < reqs.size()) {
        auto ev = q.pop(std::chrono::seconds(120));
        if (!ev) {
            ADD_FAILURE() << "engine stalled";
            break;
        }
        Outcome& o = out[index.at(ev->request_id)];
        if (ev->kind == EngineEvent::Kind::kToken) {
            o.tokens.push_back(ev->token);
        } else {
            o.finish = *ev;
            ++done;
        }
    }
    return out;
}

void wait_idle(const Engine& e) {
    for (int i = 0; i < 2000 && (e.stats().running + e.stats().waiting) > 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

TEST(Engine, GreedyAloneEqualsInsideABatchOf16) {
    auto m = load("stories260K.gguf");
    auto engine = make_engine(m);
    std::vector<GenerationRequest> reqs;
    for (int i = 0; i < 16; ++i) reqs.push_back(greedy(prompt_of(5 + 7 * i, i, m->hp.n_vocab), 40));
    const Outcome alone = run_all(*engine, {reqs[3]})[0];
    ASSERT_EQ(alone.tokens.size(), 40u);
    const std::vector<Outcome> batched = run_all(*engine, reqs);
    EXPECT_EQ(batched[3].tokens, alone.tokens);
    for (const Outcome& o : batched) {
        EXPECT_EQ(o.finish.reason, FinishReason::kLength);
        EXPECT_EQ(o.finish.usage.completion_tokens, 40);
    }
}

TEST(Engine, SeededSamplingIgnoresTheRestOfTheBatch) {
    auto m = load("stories260K.gguf");
    auto engine = make_engine(m);
    GenerationRequest r = greedy(prompt_of(12, 99, m->hp.n_vocab), 30);
    r.sampling = SamplingParams{.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .seed = 1234};
    const Outcome alone = run_all(*engine, {r})[0];
    std::vector<GenerationRequest> reqs(8, greedy(prompt_of(20, 5, m->hp.n_vocab), 30));
    reqs[5] = r;
    EXPECT_EQ(run_all(*engine, reqs)[5].tokens, alone.tokens);
}

TEST(Engine, PrefixCacheOnAndOffGiveTheSameTokens) {
    auto m = load("tinystories656k-q8_0.gguf");
    std::vector<int32_t> prefix = prompt_of(70, 1, m->hp.n_vocab);
    std::vector<GenerationRequest> reqs;
    for (int i = 0; i < 6; ++i) {
        std::vector<int32_t> p = prefix;
        for (int32_t t : prompt_of(3 + i, 100 + i, m->hp.n_vocab)) p.push_back(t);
        reqs.push_back(greedy(p, 24));
    }
    EngineOptions off;
    off.prefix_cache = false;
    auto cold = make_engine(m, off);
    auto warm = make_engine(m);
    std::vector<Outcome> want;
    for (const auto& r : reqs) want.push_back(run_all(*cold, {r})[0]);
    // One by one, so later requests find the prefix computed by earlier ones.
    int64_t cached = 0;
    for (size_t i = 0; i < reqs.size(); ++i) {
        const Outcome got = run_all(*warm, {reqs[i]})[0];
        EXPECT_EQ(got.tokens, want[i].tokens) << "request " << i;
        cached += got.finish.usage.cached_tokens;
    }
    EXPECT_GE(cached, 5 * 64) << "the shared 70-token prefix holds four full blocks";
    EXPECT_EQ(cold->stats().prefix_hit_tokens, 0);
    EXPECT_GT(warm->stats().prefix_hit_tokens, 0);
}

TEST(Engine, PreemptionUnderATinyKvBudgetKeepsResults) {
    auto m = load("stories260K.gguf");
    std::vector<GenerationRequest> reqs;
    for (int i = 0; i < 8; ++i) reqs.push_back(greedy(prompt_of(30, 50 + i, m->hp.n_vocab), 60));
    auto roomy = make_engine(m);
    EngineOptions tight;
    tight.kv_mem_bytes = KvCache::block_bytes(m->hp, 16, KvType::kF16) * 24;  // 384 positions
    auto small = make_engine(m, tight);
    const auto want = run_all(*roomy, reqs);
    const auto got = run_all(*small, reqs);
    for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(got[i].tokens, want[i].tokens) << i;
    EXPECT_GT(small->stats().preemptions, 0);
    wait_idle(*small);
    EXPECT_EQ(small->stats().kv_blocks_used, 0);
}

TEST(Engine, RandomSubmitAndCancelNeverLeakBlocks) {
    auto m = load("stories260K.gguf");
    EngineOptions o;
    o.kv_mem_bytes = KvCache::block_bytes(m->hp, 16, KvType::kF16) * 64;
    EventQueue q;  // outlives the engine, which may still send to it
    auto engine = make_engine(m, o);
    std::mt19937_64 rng(42);
    std::vector<uint64_t> ids;
    for (int op = 0; op < 1000; ++op) {
        if (ids.empty() || rng() % 3 != 0) {
            GenerationRequest r =
                greedy(prompt_of(1 + int(rng() % 60), rng(), m->hp.n_vocab), 1 + int(rng() % 20));
            Submitted s = engine->submit(std::move(r), q.sink());
            ASSERT_TRUE(s.ok()) << s.error;
            ids.push_back(s.id);
        } else {
            const size_t k = rng() % ids.size();
            engine->cancel(ids[k]);
            ids.erase(ids.begin() + long(k));
        }
        if (op % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    wait_idle(*engine);
    const EngineStats s = engine->stats();
    EXPECT_EQ(s.running + s.waiting, 0);
    EXPECT_EQ(s.kv_blocks_used, 0) << "blocks leaked";
}

TEST(Engine, CancelFinishesAndFreesBlocksWithinAStep) {
    auto m = load("stories260K.gguf");
    EventQueue q;  // outlives the engine, which may still send to it
    auto engine = make_engine(m);
    Submitted s = engine->submit(greedy(prompt_of(40, 3, m->hp.n_vocab), 100000), q.sink());
    ASSERT_TRUE(s.ok());
    auto first = q.pop(std::chrono::seconds(60));
    ASSERT_TRUE(first && first->kind == EngineEvent::Kind::kToken);
    engine->cancel(s.id);
    for (;;) {
        auto ev = q.pop(std::chrono::seconds(60));
        ASSERT_TRUE(ev);
        if (ev->kind == EngineEvent::Kind::kFinished) {
            EXPECT_EQ(ev->reason, FinishReason::kCancelled);
            break;
        }
    }
    wait_idle(*engine);
    EXPECT_EQ(engine->stats().kv_blocks_used, 0);
}

TEST(Engine, RefusesBadRequestsAtSubmission) {
    auto m = load("stories260K.gguf");
    EngineOptions o;
    o.n_ctx = 64;
    o.max_waiting = 2;
    o.max_seqs = 1;
    EventQueue q;  // outlives the engine, which may still send to it
    auto engine = make_engine(m, o);
    Submitted s = engine->submit(greedy(prompt_of(64, 1, m->hp.n_vocab), 4), q.sink());
    EXPECT_EQ(s.code, SubmitCode::kContextExceeded);
    EXPECT_NE(s.error.find("64 tokens"), std::string::npos) << s.error;
    s = engine->submit(greedy({}, 4), q.sink());
    EXPECT_EQ(s.code, SubmitCode::kInvalid);
    s = engine->submit(greedy({int32_t(m->hp.n_vocab)}, 4), q.sink());
    EXPECT_EQ(s.code, SubmitCode::kInvalid);
    GenerationRequest bad = greedy({1, 2}, 4);
    bad.sampling.top_p = 2.0f;
    s = engine->submit(bad, q.sink());
    EXPECT_EQ(s.code, SubmitCode::kInvalid);
    EXPECT_NE(s.error.find("top_p"), std::string::npos) << s.error;
    // A full queue answers kOverloaded instead of growing without bound.
    int overloaded = 0;
    for (int i = 0; i < 10; ++i) {
        s = engine->submit(greedy({1, 2, 3}, 50), q.sink());
        overloaded += s.code == SubmitCode::kOverloaded;
    }
    EXPECT_GT(overloaded, 0);
}

// The finish event carries when the request passed each of the engine's stages, in order.
TEST(Engine, FinishEventCarriesStageTimes) {
    auto m = load("stories260K.gguf");
    auto engine = make_engine(m);
    const auto before = std::chrono::steady_clock::now();
    const Outcome o = run_all(*engine, {greedy(prompt_of(8, 3, m->hp.n_vocab), 4)})[0];
    const RequestTimes& t = o.finish.times;
    EXPECT_LE(before, t.admitted);
    EXPECT_LE(t.admitted, t.scheduled);
    EXPECT_LE(t.scheduled, t.first_token);
    EXPECT_LE(t.first_token, std::chrono::steady_clock::now());
    EXPECT_NE(t.first_token, std::chrono::steady_clock::time_point{});
}

TEST(Engine, StopsAtLengthOfContextAndAtStopTokens) {
    auto m = load("stories260K.gguf");
    EngineOptions o;
    o.n_ctx = 32;
    auto engine = make_engine(m, o);
    const Outcome full = run_all(*engine, {greedy(prompt_of(20, 8, m->hp.n_vocab), 1000)})[0];
    EXPECT_EQ(full.finish.reason, FinishReason::kLength);
    EXPECT_EQ(full.tokens.size(), 12u) << "20 prompt + 12 generated fill the 32 positions";
    GenerationRequest r = greedy(prompt_of(20, 8, m->hp.n_vocab), 1000);
    r.stop_tokens = {full.tokens[4]};
    const Outcome stopped = run_all(*engine, {r})[0];
    EXPECT_EQ(stopped.finish.reason, FinishReason::kStop);
    EXPECT_EQ(stopped.finish.stop_token, full.tokens[4]);
    const size_t first = size_t(std::find(full.tokens.begin(), full.tokens.end(), full.tokens[4]) -
                                full.tokens.begin());
    EXPECT_EQ(stopped.tokens.size(), first);
}

TEST(Engine, LogprobsComeWithTokens) {
    auto m = load("stories260K.gguf");
    EventQueue q;  // outlives the engine, which may still send to it
    auto engine = make_engine(m);
    GenerationRequest r = greedy(prompt_of(10, 4, m->hp.n_vocab), 5);
    r.sampling.logprobs = true;
    r.sampling.top_logprobs = 3;
    ASSERT_TRUE(engine->submit(r, q.sink()).ok());
    for (int i = 0; i < 5; ++i) {
        auto ev = q.pop(std::chrono::seconds(60));
        ASSERT_TRUE(ev && ev->kind == EngineEvent::Kind::kToken);
        ASSERT_EQ(ev->top.size(), 3u);
        EXPECT_EQ(ev->top[0].token, ev->token) << "greedy picks the most likely token";
        EXPECT_FLOAT_EQ(ev->top[0].logprob, ev->logprob);
        EXPECT_LE(ev->logprob, 0.0f);
    }
}

size_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    size_t pages = 0, resident = 0;
    statm >> pages >> resident;
    return resident * size_t(sysconf(_SC_PAGE_SIZE));
}

TEST(Engine, ResidentMemoryStaysFlatUnderAThousandQueuedRequests) {
    auto m = load("stories260K.gguf");
    EngineOptions o;
    o.max_waiting = 2000;
    o.max_seqs = 4;
    EventQueue q;  // outlives the engine, which may still send to it
    auto engine = make_engine(m, o);
    std::vector<uint64_t> ids;
    run_all(*engine, {greedy(prompt_of(100, 1, m->hp.n_vocab), 4)});  // buffers sized
    const size_t before = resident_bytes();
    for (int i = 0; i < 1000; ++i) {
        Submitted s =
            engine->submit(greedy(prompt_of(100, uint64_t(i), m->hp.n_vocab), 1000), q.sink());
        ASSERT_TRUE(s.ok()) << s.error;
        ids.push_back(s.id);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const EngineStats mid = engine->stats();
    EXPECT_LE(mid.running, 4);
    EXPECT_GE(mid.waiting, 900);
    EXPECT_LE(mid.kv_blocks_used, mid.kv_blocks_total);
    const size_t after = resident_bytes();
    EXPECT_LT(after, before + (size_t(32) << 20)) << "queued requests hold only their prompts";
    for (uint64_t id : ids) engine->cancel(id);
    wait_idle(*engine);
    EXPECT_EQ(engine->stats().kv_blocks_used, 0);
}

TEST(Engine, Q8KvCacheGeneratesAlmostTheSameText) {
    auto m = load("syn-qwen2-q8_0.gguf");
    EngineOptions o;
    o.kv_type = KvType::kQ8_0;
    auto q8 = make_engine(m, o);
    auto f16 = make_engine(m);
    const GenerationRequest r = greedy(prompt_of(30, 2, m->hp.n_vocab), 16);
    const auto a = run_all(*f16, {r})[0].tokens;
    const auto b = run_all(*q8, {r})[0].tokens;
    ASSERT_EQ(a.size(), b.size());
    EXPECT_EQ(a[0], b[0]);
    EXPECT_GT(q8->stats().kv_blocks_total, f16->stats().kv_blocks_total) << "same budget";
}

}  // namespace
}  // namespace citadel
