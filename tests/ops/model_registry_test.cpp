// The model registry's memory budget: a model in the way is evicted once its requests let
// go of it (the load waits for that), and a load that cannot get room in time fails clearly.
#include "ops/model_registry.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <thread>

#include "test_paths.h"

namespace citadel::ops {
namespace {

struct Outcome {
    std::shared_ptr<LoadedModel> model;
    int status = 0;
    std::string error;
};

class RegistryBudget : public ::testing::Test {
  protected:
    // Two on-demand names for one small file, and a budget that fits one of them.
    std::unique_ptr<ModelRegistry> make(int64_t room_wait_ms) {
        const std::string path = test::reference_model("stories260K.gguf");
        std::vector<ModelSpec> specs;
        for (const char* name : {"a", "b"})
            specs.push_back(ModelSpec{.name = name, .path = path, .on_demand = true});
        EngineOptions engine;
        engine.n_threads = 1;
        engine.kv_mem_bytes = size_t(1) << 20;
        const size_t one = size_t(std::filesystem::file_size(path)) + engine.kv_mem_bytes;
        RegistryOptions options{.memory_budget = one + one / 2, .room_wait_ms = room_wait_ms};
        auto r = std::make_unique<ModelRegistry>(std::move(specs), engine, options);
        r->start_loading();
        return r;
    }

    static Outcome acquire(ModelRegistry& r, const std::string& name) {
        std::promise<Outcome> p;
        r.acquire(name, [&](std::shared_ptr<LoadedModel> m, int status, std::string error) {
            p.set_value(Outcome{std::move(m), status, std::move(error)});
        });
        return p.get_future().get();
    }

    static ModelState state(const ModelRegistry& r, const std::string& name) {
        return r.find(name)->state;
    }
};

TEST_F(RegistryBudget, IdleModelIsEvictedForTheOther) {
    auto r = make(1000);
    ASSERT_EQ(acquire(*r, "a").status, 200);  // released at once
    Outcome b = acquire(*r, "b");
    ASSERT_EQ(b.status, 200) << b.error;
    EXPECT_EQ(state(*r, "a"), ModelState::kUnloaded);
    EXPECT_EQ(state(*r, "b"), ModelState::kReady);
}

TEST_F(RegistryBudget, LoadWaitsForTheModelInTheWayToFinish) {
    auto r = make(10000);
    Outcome a = acquire(*r, "a");
    ASSERT_EQ(a.status, 200);
    std::thread release([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        a.model.reset();  // the request using "a" finishes
    });
    const auto start = std::chrono::steady_clock::now();
    Outcome b = acquire(*r, "b");
    const auto waited = std::chrono::steady_clock::now() - start;
    release.join();
    ASSERT_EQ(b.status, 200) << b.error;
    EXPECT_GE(waited, std::chrono::milliseconds(250));
    EXPECT_EQ(state(*r, "a"), ModelState::kUnloaded);
}

TEST_F(RegistryBudget, LoadGivesUpWhenTheModelInTheWayStaysBusy) {
    auto r = make(200);
    Outcome a = acquire(*r, "a");
    ASSERT_EQ(a.status, 200);
    Outcome b = acquire(*r, "b");
    EXPECT_EQ(b.status, 503);
    EXPECT_NE(b.error.find("memory budget"), std::string::npos) << b.error;
    EXPECT_EQ(state(*r, "a"), ModelState::kReady);
    EXPECT_EQ(state(*r, "b"), ModelState::kUnloaded);
    a.model.reset();
    EXPECT_EQ(acquire(*r, "b").status, 200);  // a later request gets it
}

}  // namespace
}  // namespace citadel::ops
