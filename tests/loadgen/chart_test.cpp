#include "loadgen/chart.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace citadel::loadgen {
namespace {

// Checks that tags nest and close, attribute quotes pair up, and text has no raw '<' or '&'
// outside entities. Returns the element names in document order ("" when malformed).
std::vector<std::string> check_xml(const std::string& s, std::string& problem) {
    std::vector<std::string> stack, names;
    size_t at = 0;
    while ((at = s.find('<', at)) != std::string::npos) {
        const size_t end = s.find('>', at);
        if (end == std::string::npos) return problem = "unclosed tag", names;
        const std::string tag = s.substr(at + 1, end - at - 1);
        size_t quotes = 0;
        for (char c : tag) quotes += c == '"';
        if (quotes % 2) return problem = "odd quotes in <" + tag + ">", names;
        if (tag.starts_with("?")) {
            // the declaration
        } else if (tag.starts_with("/")) {
            if (stack.empty() || stack.back() != tag.substr(1))
                return problem = "mismatched </" + tag.substr(1) + ">", names;
            stack.pop_back();
        } else {
            const std::string name = tag.substr(0, tag.find_first_of(" /"));
            names.push_back(name);
            if (!tag.ends_with("/")) stack.push_back(name);
        }
        const size_t next = s.find('<', end);
        const std::string text =
            s.substr(end + 1, next == std::string::npos ? std::string::npos : next - end - 1);
        for (size_t i = 0; i < text.size(); ++i) {
            if (text[i] == '&' && text.find(';', i) == std::string::npos)
                return problem = "a bare '&'", names;
        }
        at = end + 1;
    }
    if (!stack.empty()) problem = "unclosed <" + stack.back() + ">";
    return names;
}

TEST(LoadgenChart, NiceTicks) {
    EXPECT_EQ(nice_ticks(10), (std::vector<double>{0, 2, 4, 6, 8, 10}));
    EXPECT_EQ(nice_ticks(87), (std::vector<double>{0, 20, 40, 60, 80, 100}));
    EXPECT_NEAR(nice_ticks(0.3).back(), 0.3, 1e-12);
    EXPECT_EQ(nice_ticks(0), (std::vector<double>{0, 1}));
    EXPECT_GE(nice_ticks(1234.5).back(), 1234.5);
}

TEST(LoadgenChart, SvgIsWellFormed) {
    ChartSpec spec{.title = "Latency <vs> throughput & more",
                   .x_label = "output tokens/s",
                   .y_label = "TPOT (ms)"};
    spec.series.push_back({.name = "citadel p50",
                           .points = {{10, 5}, {40, 7}, {90, 12}},
                           .point_labels = {"c=1", "c=4", "c=16"}});
    spec.series.push_back(
        {.name = "llama \"server\" p99", .points = {{8, 6}, {30, 9}}, .dashed = true, .color = 1});
    const std::string svg = render_svg(spec);
    std::string problem;
    const std::vector<std::string> names = check_xml(svg, problem);
    EXPECT_EQ(problem, "");
    ASSERT_FALSE(names.empty());
    EXPECT_EQ(names[0], "svg");
    EXPECT_EQ(std::count(names.begin(), names.end(), "polyline"), 1 + 2);  // the axes, each series
    EXPECT_NE(svg.find("Latency &lt;vs&gt; throughput &amp; more"), std::string::npos);
    EXPECT_NE(svg.find("stroke-dasharray"), std::string::npos);
    EXPECT_EQ(std::count(names.begin(), names.end(), "circle"), 5);
    EXPECT_NE(svg.find(">c=16</text>"), std::string::npos);
}

TEST(LoadgenChart, EmptyChartIsStillWellFormed) {
    std::string problem;
    check_xml(render_svg({.title = "nothing"}), problem);
    EXPECT_EQ(problem, "");
}

}  // namespace
}  // namespace citadel::loadgen
