// A line chart as a standalone SVG document, written by hand: axes with "nice" ticks, labels,
// a legend, one polyline (with point markers) per series.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace citadel::loadgen {

struct ChartSeries {
    std::string name;
    std::vector<std::pair<double, double>> points;  // (x, y), drawn in this order
    std::vector<std::string> point_labels;          // empty, or one per point (e.g. "c=4")
    bool dashed = false;
    int color = 0;  // index into a fixed palette
};

struct ChartSpec {
    std::string title, x_label, y_label;
    std::vector<ChartSeries> series;
};

// Tick positions for [0, max]: steps of 1, 2 or 5 x 10^k, about `target` of them; the last
// tick is >= max. max <= 0 gives {0, 1}.
std::vector<double> nice_ticks(double max, int target = 5);

std::string render_svg(const ChartSpec& spec);

}  // namespace citadel::loadgen
