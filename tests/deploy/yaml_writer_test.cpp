// The YAML writer: quoting that reads back as the same string, literal blocks, layout.
#include "deploy/yaml_writer.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace citadel::deploy {
namespace {

// Round trip through yaml-cpp: every scalar reads back as the same string.
std::string reread_string(const std::string& s) {
    const std::string text = to_yaml(Json{{"k", s}});
    return YAML::Load(text)["k"].as<std::string>();
}

TEST(DeployYaml, StringsThatLookLikeOtherTypesAreQuoted) {
    for (const char* s : {"true", "No", "on", "null", "~", "2", "0.1.0", "1e3", "-5", ".inf",
                          "8080", "0x1F", "12:30"}) {
        const std::string y = yaml_scalar(Json(s));
        EXPECT_EQ(y.front(), '"') << s;
        EXPECT_EQ(reread_string(s), s);
    }
}

TEST(DeployYaml, SafeStringsStayPlain) {
    for (const char* s : {"citadel", "5Gi", "30s", "--host", "qwen=/models/q.gguf",
                          "citadel:num_requests_waiting", "nvidia.com/gpu"}) {
        EXPECT_EQ(yaml_scalar(Json(s)), s);
        EXPECT_EQ(reread_string(s), s);
    }
}

TEST(DeployYaml, SpecialCharactersRoundTrip) {
    for (const char* s :
         {"a: b", "x #y",   "-",         "- a", "{a}",  "[1]",     "it's",          "say \"hi\"",
          "",     " lead",  "trail ",    "a,b", "*ref", "&anchor", "!tag",          "%p",
          "@at",  "`tick`", "tab\there", "ünï", "end:", "?q",      "line1\r\nline2"}) {
        EXPECT_EQ(reread_string(s), s) << s;
    }
}

TEST(DeployYaml, MultiLineStringsAreLiteralBlocks) {
    const std::string expr = "sum(rate(x[5m]))\n  / sum(rate(y[5m])) > 0.01\n";
    const std::string text = to_yaml(Json{{"expr", expr}});
    EXPECT_EQ(text, "expr: |\n  sum(rate(x[5m]))\n    / sum(rate(y[5m])) > 0.01\n");
    EXPECT_EQ(reread_string(expr), expr);
    EXPECT_EQ(reread_string("a\n\nb"), "a\n\nb");
    EXPECT_EQ(reread_string("trailing \nspace"), "trailing \nspace");
}

TEST(DeployYaml, NestedLayoutIsKubectlLike) {
    const Json doc = {
        {"spec",
         {{"containers", Json::array({{{"name", "c"}, {"args", Json::array({"a", "b"})}}})},
          {"empty", Json::object()},
          {"none", Json::array()},
          {"count", 3},
          {"flag", false}}}};
    EXPECT_EQ(to_yaml(doc),
              "spec:\n"
              "  containers:\n"
              "    - name: c\n"
              "      args:\n"
              "        - a\n"
              "        - b\n"
              "  empty: {}\n"
              "  none: []\n"
              "  count: 3\n"
              "  flag: false\n");
    const YAML::Node back = YAML::Load(to_yaml(doc));
    EXPECT_EQ(back["spec"]["containers"][0]["args"][1].as<std::string>(), "b");
    EXPECT_EQ(back["spec"]["count"].as<int>(), 3);
}

TEST(DeployYaml, KeysNeedingQuotesAreQuoted) {
    const std::string text = to_yaml(Json{{"on", 1}, {"a b: c", 2}});
    const YAML::Node back = YAML::Load(text);
    EXPECT_EQ(back["on"].as<int>(), 1);
    EXPECT_EQ(back["a b: c"].as<int>(), 2);
}

}  // namespace
}  // namespace citadel::deploy
