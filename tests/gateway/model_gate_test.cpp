#include "gateway/model_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace citadel::gateway {
namespace {

TEST(ModelGate, CapsEachModelAndReleasesFreeSlots) {
    ModelGate gate({{"qwen*", 2}});
    EXPECT_TRUE(gate.try_acquire("qwen2.5-7b"));
    EXPECT_TRUE(gate.try_acquire("qwen2.5-7b"));
    EXPECT_FALSE(gate.try_acquire("qwen2.5-7b"));
    EXPECT_EQ(gate.in_flight("qwen2.5-7b"), 2);
    EXPECT_TRUE(gate.try_acquire("qwen3-8b"));  // a count of its own
    gate.release("qwen2.5-7b");
    EXPECT_EQ(gate.in_flight("qwen2.5-7b"), 1);
    EXPECT_TRUE(gate.try_acquire("qwen2.5-7b"));
    gate.release("never-acquired");  // ignored
    EXPECT_EQ(gate.in_flight("never-acquired"), 0);
}

TEST(ModelGate, MostSpecificGlobWinsFromAMap) {
    // Sorted, "*" would come first; specificity puts it last.
    ModelGate gate(std::map<std::string, int>{{"*", 8}, {"llama*", 4}, {"llama-3-70b", 1}});
    EXPECT_EQ(gate.cap("llama-3-70b"), 1);
    EXPECT_EQ(gate.cap("llama-3-8b"), 4);
    EXPECT_EQ(gate.cap("mistral"), 8);
    EXPECT_TRUE(gate.try_acquire("llama-3-70b"));
    EXPECT_FALSE(gate.try_acquire("llama-3-70b"));
}

TEST(ModelGate, FirstGlobWinsInTheOrderGiven) {
    ModelGate gate = ModelGate::in_order({{"*", 8}, {"llama*", 4}});
    EXPECT_EQ(gate.cap("llama-3-8b"), 8);
}

TEST(ModelGate, UnmatchedModelsAndZeroCapsAreUnlimitedButCounted) {
    ModelGate gate({{"big-*", 1}, {"free", 0}});
    for (int i = 0; i < 100; ++i) {
        EXPECT_TRUE(gate.try_acquire("small"));
        EXPECT_TRUE(gate.try_acquire("free"));
    }
    EXPECT_EQ(gate.in_flight("small"), 100);
    EXPECT_EQ(gate.cap("small"), 0);
}

TEST(ModelGate, ThreadsNeverExceedTheCap) {
    ModelGate gate({{"m", 3}});
    std::atomic<int> inside{0}, most{0}, refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 2000; ++i) {
                if (!gate.try_acquire("m")) {
                    ++refused;
                    continue;
                }
                const int now = ++inside;
                int seen = most.load();
                while (now > seen && !most.compare_exchange_weak(seen, now)) {
                }
                --inside;
                gate.release("m");
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_LE(most.load(), 3);
    EXPECT_GE(most.load(), 1);
    EXPECT_EQ(gate.in_flight("m"), 0);
}

}  // namespace
}  // namespace citadel::gateway
