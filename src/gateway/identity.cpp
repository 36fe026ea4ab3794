#include "gateway/identity.h"

namespace citadel::gateway {

std::optional<Role> parse_role(std::string_view name) {
    if (name == "admin") return Role::kAdmin;
    if (name == "user") return Role::kUser;
    if (name == "viewer") return Role::kViewer;
    return std::nullopt;
}

const char* role_name(Role role) {
    switch (role) {
        case Role::kAdmin:
            return "admin";
        case Role::kUser:
            return "user";
        case Role::kViewer:
            return "viewer";
    }
    return "viewer";
}

// Iterative matcher with one backtrack point (the last '*'): linear in practice, never
// exponential.
bool glob_match(std::string_view pattern, std::string_view text) {
    size_t p = 0, t = 0;
    size_t star = std::string_view::npos, star_t = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == '*') {
            star = p++;
            star_t = t;
        } else if (star != std::string_view::npos) {
            p = star + 1;
            t = ++star_t;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == '*') ++p;
    return p == pattern.size();
}

bool model_allowed(const Identity& identity, std::string_view model) {
    if (identity.models.empty()) return true;
    for (const auto& pattern : identity.models) {
        if (glob_match(pattern, model)) return true;
    }
    return false;
}

}  // namespace citadel::gateway
