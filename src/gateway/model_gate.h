// Global per-model concurrency caps that protect the engine, whoever is asking: a model glob
// maps to the most requests one model may have in flight at once (each model matching a glob
// has a count of its own). The first glob that matches a model decides its cap; from a
// std::map (which can only keep its keys sorted) globs are tried most specific first — more
// literal characters first, e.g. "qwen2.5-7b" before "qwen*" before "*" — and from in_order() in
// the order given. A model no glob matches, or a cap <= 0, is unlimited (but still counted).
// try_acquire() refusals are answered 429 by the caller.
//
// Threading: thread-safe. The globs are fixed at construction and matched without a lock; the
// counts sit behind one mutex held for a hash lookup and an increment. Only models with
// requests in flight have an entry, so arbitrary model names cannot grow it.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace citadel::gateway {

class ModelGate {
  public:
    explicit ModelGate(const std::map<std::string, int>& caps);  // most specific first
    static ModelGate in_order(std::vector<std::pair<std::string, int>> caps);  // first wins

    bool try_acquire(const std::string& model);  // false: the model is at its cap
    void release(const std::string& model);      // once per successful try_acquire
    int in_flight(const std::string& model) const;
    int cap(const std::string& model) const;  // 0: unlimited

  private:
    struct InOrder {};
    ModelGate(InOrder, std::vector<std::pair<std::string, int>> caps) : caps_(std::move(caps)) {}

    std::vector<std::pair<std::string, int>> caps_;  // tried in order
    mutable std::mutex mu_;
    std::unordered_map<std::string, int> in_flight_;
};

}  // namespace citadel::gateway
