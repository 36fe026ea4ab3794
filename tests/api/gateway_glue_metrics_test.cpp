// How the gateway glue turns what happened to a request into metrics labels: guard notes
// into (guard, action, type), refusal codes into denial reasons.
#include <gtest/gtest.h>

#include "api/gateway_glue.h"

namespace citadel::api {
namespace {

using ops::Metric;

TEST(GuardNotes, SplitIntoGuardActionAndType) {
    ops::Metrics m;
    count_guard_note(m, "pii.input:redact:EMAIL");
    count_guard_note(m, "pii.input:redact:EMAIL");
    count_guard_note(m, "injection:flag:ignore-previous-en");
    count_guard_note(m, "pii.output:block:CREDIT_CARD");
    count_guard_note(m, "classifier.input:block:it asks for: a weapon");  // free-text reason
    count_guard_note(m, "classifier.output:failed");
    EXPECT_EQ(m.series(Metric::kGuardActions, {"pii.input", "redact", "EMAIL"}).value(), 2);
    EXPECT_EQ(m.series(Metric::kGuardActions, {"injection", "flag", "ignore-previous-en"}).value(),
              1);
    EXPECT_EQ(m.series(Metric::kGuardActions, {"pii.output", "block", "CREDIT_CARD"}).value(), 1);
    EXPECT_EQ(m.series(Metric::kGuardActions, {"classifier.input", "block", ""}).value(), 1);
    EXPECT_EQ(m.series(Metric::kGuardActions, {"classifier.output", "failed", ""}).value(), 1);
}

TEST(GatewayDenial, KnowsTheGatewaysCodesOnly) {
    for (const char* c :
         {"missing_api_key", "invalid_api_key", "insufficient_role", "model_not_allowed",
          "rate_limit_exceeded", "insufficient_quota", "model_concurrency_limit", "pii_detected",
          "prompt_injection_detected", "content_blocked"}) {
        EXPECT_TRUE(is_gateway_denial(c)) << c;
    }
    for (const char* c : {"", "model_not_found", "context_length_exceeded", "invalid_value"})
        EXPECT_FALSE(is_gateway_denial(c)) << c;
}

}  // namespace
}  // namespace citadel::api
