// What a caller gives the engine (a tokenized generation request) and what it gets back
// (a stream of events: tokens, then exactly one finish).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/constraint/token_constraint.h"
#include "engine/sampler.h"

namespace citadel {

struct GenerationRequest {
    std::vector<int32_t> prompt;
    SamplingParams sampling;
    int64_t max_tokens = 256;          // generated tokens at most (the context also ends it)
    std::vector<int32_t> stop_tokens;  // finish on these, in addition to the model's EOG ids
    bool ignore_eos = false;           // do not stop at the model's end-of-generation ids
    int priority = 0;                  // lower runs first; equal priorities are FCFS
    std::string cache_salt;            // isolates this caller's prefix-cache entries
    // Restricts the reply to a structure (a JSON object, a tool call); null: none. It has
    // state: one per request, never submitted twice. Under a constraint an end-of-generation
    // id always stops (the mask allows one only once the structure is complete), even with
    // ignore_eos, and logprobs are those of the masked row.
    std::shared_ptr<TokenConstraint> constraint;
};

enum class FinishReason { kStop, kLength, kCancelled, kError };
const char* finish_reason_name(FinishReason r);

struct Usage {
    int64_t prompt_tokens = 0;
    int64_t completion_tokens = 0;
    int64_t cached_tokens = 0;  // prompt tokens served from the prefix cache
};

// When a request passed the engine's stages (for latency metrics); a default (epoch) value
// means the stage was never reached.
struct RequestTimes {
    std::chrono::steady_clock::time_point admitted;     // taken from the inbox by the engine
    std::chrono::steady_clock::time_point scheduled;    // first in a step's plan
    std::chrono::steady_clock::time_point first_token;  // first token sampled
};

struct EngineEvent {
    enum class Kind { kToken, kFinished };
    Kind kind = Kind::kToken;
    uint64_t request_id = 0;
    // kToken
    int32_t token = -1;
    float logprob = 0.0f;           // when the request asked for logprobs
    std::vector<TokenLogprob> top;  // top_logprobs alternatives
    // kFinished
    FinishReason reason = FinishReason::kStop;
    int32_t stop_token = -1;  // the token that stopped it (not sent as a token event)
    std::string error;        // kError
    Usage usage;
    RequestTimes times;
};

// Receives a request's events on the engine thread, in order; must return quickly (hand the
// event to another thread, never block on I/O). It must stay callable until the request's
// finish event, which at the latest comes from the Engine's destructor.
using EventSink = std::function<void(EngineEvent&&)>;

}  // namespace citadel
