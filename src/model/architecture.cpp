#include "model/architecture.h"

#include <string>

namespace citadel {
namespace {
const Architecture* const kArchitectures[] = {&kArchLlama, &kArchQwen2, &kArchQwen3};
}  // namespace

const Architecture* find_architecture(std::string_view name) {
    for (const Architecture* a : kArchitectures) {
        if (name == a->name) return a;
    }
    return nullptr;
}

std::string supported_architectures() {
    std::string s;
    for (const Architecture* a : kArchitectures) {
        if (!s.empty()) s += ", ";
        s += a->name;
    }
    return s;
}

}  // namespace citadel
