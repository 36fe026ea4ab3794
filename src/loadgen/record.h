// What happened to one request, as the client saw it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace citadel::loadgen {

struct RequestRecord {
    bool ok = false;
    std::string error;           // why it failed
    int http_status = 0;         // 0: no answer (connection error, timeout)
    double start_s = 0;          // when it was sent, seconds after the run's start
    double ttft_ms = -1;         // first content chunk; -1: none arrived
    double e2e_ms = 0;           // send to the end of the answer
    std::vector<double> itl_ms;  // gaps between consecutive content chunks
    int64_t content_chunks = 0;  // events that carried text
    int64_t output_tokens = 0;   // usage.completion_tokens, or content_chunks without usage
    int64_t prompt_tokens = -1;  // usage.prompt_tokens; -1: the server did not say
    bool usage_reported = false;
};

}  // namespace citadel::loadgen
