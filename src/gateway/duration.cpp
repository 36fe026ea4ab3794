#include "gateway/duration.h"

#include <limits>
#include <optional>
#include <string>

namespace citadel::gateway {
namespace {

std::optional<int64_t> unit_seconds(char unit) {
    switch (unit) {
        case 's':
            return 1;
        case 'm':
            return 60;
        case 'h':
            return 3600;
        case 'd':
            return 86400;
        default:
            return std::nullopt;
    }
}

Status bad(std::string_view text, const char* why) {
    return Status::error("invalid duration '" + std::string(text) + "': " + why +
                         " (examples: 90d, 12h, 30m, 45s)");
}

}  // namespace

Result<int64_t> parse_duration(std::string_view text) {
    if (text.empty()) return bad(text, "empty");
    const auto unit = unit_seconds(text.back());
    if (!unit) return bad(text, "needs a unit: s, m, h or d");
    const std::string_view digits = text.substr(0, text.size() - 1);
    if (digits.empty()) return bad(text, "needs a number before the unit");
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    int64_t count = 0;
    for (char c : digits) {
        if (c < '0' || c > '9') return bad(text, "expected a positive whole number");
        if (count > (kMax - (c - '0')) / 10) return bad(text, "too large");
        count = count * 10 + (c - '0');
    }
    if (count == 0) return bad(text, "must be greater than zero");
    if (count > kMax / *unit) return bad(text, "too large");
    return count * *unit;
}

}  // namespace citadel::gateway
