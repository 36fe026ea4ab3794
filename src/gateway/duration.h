// Human-written durations for command lines and configuration: "90d", "12h", "30m", "45s".
// Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/status.h"

namespace citadel::gateway {

// A positive whole number followed by one unit (s, m, h, d) -> seconds. Zero, signs, spaces,
// missing or unknown units and values beyond int64 seconds are errors that quote the text.
Result<int64_t> parse_duration(std::string_view text);

}  // namespace citadel::gateway
