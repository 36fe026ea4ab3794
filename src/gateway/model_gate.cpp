#include "gateway/model_gate.h"

#include <algorithm>

#include "gateway/identity.h"

namespace citadel::gateway {
namespace {

size_t literal_chars(const std::string& glob) {
    return size_t(
        std::count_if(glob.begin(), glob.end(), [](char c) { return c != '*' && c != '?'; }));
}

// Most specific first; among equals, the map's (sorted) order.
std::vector<std::pair<std::string, int>> most_specific_first(
    const std::map<std::string, int>& caps) {
    std::vector<std::pair<std::string, int>> ordered(caps.begin(), caps.end());
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
        return literal_chars(a.first) > literal_chars(b.first);
    });
    return ordered;
}

}  // namespace

ModelGate::ModelGate(const std::map<std::string, int>& caps) : caps_(most_specific_first(caps)) {}

ModelGate ModelGate::in_order(std::vector<std::pair<std::string, int>> caps) {
    return ModelGate(InOrder{}, std::move(caps));
}

int ModelGate::cap(const std::string& model) const {
    for (const auto& [glob, max_in_flight] : caps_) {
        if (glob_match(glob, model)) return std::max(0, max_in_flight);
    }
    return 0;
}

bool ModelGate::try_acquire(const std::string& model) {
    const int max_in_flight = cap(model);
    std::lock_guard lock(mu_);
    int& count = in_flight_[model];
    if (max_in_flight > 0 && count >= max_in_flight) return false;
    ++count;
    return true;
}

void ModelGate::release(const std::string& model) {
    std::lock_guard lock(mu_);
    auto it = in_flight_.find(model);
    if (it == in_flight_.end()) return;
    if (--it->second == 0) in_flight_.erase(it);
}

int ModelGate::in_flight(const std::string& model) const {
    std::lock_guard lock(mu_);
    auto it = in_flight_.find(model);
    return it == in_flight_.end() ? 0 : it->second;
}

}  // namespace citadel::gateway
