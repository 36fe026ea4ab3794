// Drives one endpoint through a Schedule: a closed loop of N clients, or Poisson arrivals with
// an optional cap on requests in flight. All requests share one thread and one io_context;
// keep-alive connections are reused. Connection failures are failed requests and the run goes
// on; an answer that no retry can change (401, 403, 404) stops it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "loadgen/client.h"
#include "loadgen/prompts.h"
#include "loadgen/record.h"
#include "loadgen/schedule.h"

namespace citadel::loadgen {

struct RunOptions {
    int64_t warmup = 0;          // requests sent and waited for first, not recorded
    bool progress = false;       // a live line on stderr
    std::string progress_label;  // e.g. "A c=4"
};

struct RunResult {
    std::vector<RequestRecord> records;  // measured requests, in completion order
    double duration_s = 0;               // from the first send to the last answer's end
    int64_t warmup_failed = 0;
    std::string fatal;  // set when the server refused in a way no retry changes: its message
};

RunResult run_load(const Target& target, const Schedule& schedule,
                   const std::vector<Prompt>& prompts, const RunOptions& options);

// Makes target.tls for https, then asks GET /v1/models. Fills target.model with the first
// model listed when it is empty.
// An error says the server cannot be reached or refused the credentials (with its message).
Status check_target(Target& target);

}  // namespace citadel::loadgen
