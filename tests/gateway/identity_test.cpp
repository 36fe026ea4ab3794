#include "gateway/identity.h"

#include <gtest/gtest.h>

namespace citadel::gateway {
namespace {

TEST(GlobMatch, StarsAndQuestionMarks) {
    EXPECT_TRUE(glob_match("qwen*", "qwen2.5-0.5b"));
    EXPECT_TRUE(glob_match("*", ""));
    EXPECT_TRUE(glob_match("llama-3*", "llama-3.1-8b"));
    EXPECT_FALSE(glob_match("llama-3*", "llama-2-7b"));
    EXPECT_TRUE(glob_match("q?en", "qwen"));
    EXPECT_FALSE(glob_match("q?en", "qen"));
    EXPECT_TRUE(glob_match("*-instruct", "qwen-7b-instruct"));
    EXPECT_FALSE(glob_match("qwen", "qwen2"));
    EXPECT_TRUE(glob_match("a*b*c", "aXXbYYc"));
    EXPECT_FALSE(glob_match("a*b*c", "aXXbYY"));
}

TEST(GlobMatch, PathologicalPatternStaysFast) {
    const std::string text(5000, 'a');
    EXPECT_FALSE(glob_match("*a*a*a*a*a*a*a*a*b", text));
}

TEST(ModelAllowed, EmptyListAllowsEverything) {
    Identity id;
    EXPECT_TRUE(model_allowed(id, "anything"));
    id.models = {"qwen*", "mistral-7b"};
    EXPECT_TRUE(model_allowed(id, "qwen3-8b"));
    EXPECT_TRUE(model_allowed(id, "mistral-7b"));
    EXPECT_FALSE(model_allowed(id, "llama-3"));
}

TEST(Role, NamesRoundTrip) {
    for (Role r : {Role::kViewer, Role::kUser, Role::kAdmin}) {
        EXPECT_EQ(parse_role(role_name(r)), r);
    }
    EXPECT_FALSE(parse_role("root").has_value());
}

}  // namespace
}  // namespace citadel::gateway
