// The hook to an optional external content classifier, asked before generation (the prompt,
// stage "input") and/or after it (the completion, stage "output").
//
// Protocol (plain HTTP/1.1 on a trusted network; connections are kept alive and reused):
//   POST <url>   Content-Type: application/json
//     {"stage":"input"|"output","text":"...","model":"...","request_id":"..."}
//   200          {"allow": true|false, "reason": "...", "flag": true|false}
// "allow" is required; "reason" (string) and "flag" (bool) are optional, "flag" meaning "let
// it through but mark it". Text that is not valid UTF-8 is sent with U+FFFD for the bad bytes.
// Anything else is a failure: no answer within timeout_ms (connect, send and read together),
// a refused or broken connection, a status other than 200, an answer over 64 KiB, a body that is
// not a JSON object, or no boolean "allow". A failure gives failed = true, allow = fail_open,
// and a reason saying what happened. A reused keep-alive connection that turns out to be closed
// before any answer arrived is retried once on a fresh connection, within the same deadline.
//
// Threading: one I/O thread owned by the Classifier does all network work. check() may be
// called from any thread and never blocks; `done` runs exactly once, on that I/O thread, so it
// must be quick (hand the verdict on). The destructor completes every pending check with
// failed = true ("shut down") and joins the thread; it must not run on that thread (from a
// `done` callback).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/status.h"

namespace citadel::gateway {

struct ClassifierOptions {
    std::string url;  // http://host[:port][/path]: anything else (https too) is an error
    int timeout_ms = 1000;
    bool fail_open = false;  // a failure allows (true) or refuses (false) the request
    // Which stages the caller asks about; carried here for it, the Classifier does not filter.
    bool check_input = true;
    bool check_output = false;
};

struct ClassifierVerdict {
    bool allow = true;
    bool flagged = false;
    std::string reason;
    bool failed = false;  // could not ask: allow = fail_open
};

class Classifier {
  public:
    // Fails on a bad url or timeout.
    static Result<std::unique_ptr<Classifier>> create(ClassifierOptions options);
    ~Classifier();

    Classifier(const Classifier&) = delete;
    Classifier& operator=(const Classifier&) = delete;

    // stage: "input" | "output". Asynchronous; see the threading note above.
    void check(std::string stage, std::string text, std::string model, std::string request_id,
               std::function<void(ClassifierVerdict)> done);
    const ClassifierOptions& options() const;

  private:
    struct Impl;
    explicit Classifier(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace citadel::gateway
