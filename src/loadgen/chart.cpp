#include "loadgen/chart.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace citadel::loadgen {
namespace {

constexpr double kWidth = 760, kHeight = 480;
constexpr double kLeft = 80, kRight = 200, kTop = 50, kBottom = 60;  // margins
const char* const kPalette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};

std::string escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

std::string tick_label(double v) {
    char buf[32];
    if (v == std::floor(v) && std::fabs(v) < 1e9) {
        std::snprintf(buf, sizeof buf, "%.0f", v);
    } else {
        std::snprintf(buf, sizeof buf, "%g", v);
    }
    return buf;
}

struct Frame {
    double x_max, y_max;
    double px(double x) const { return kLeft + x / x_max * (kWidth - kLeft - kRight); }
    double py(double y) const { return kHeight - kBottom - y / y_max * (kHeight - kTop - kBottom); }
};

void axes(std::string& out, const Frame& f, const std::vector<double>& xt,
          const std::vector<double>& yt, const ChartSpec& spec) {
    const double x0 = f.px(0), y0 = f.py(0), x1 = f.px(f.x_max), y1 = f.py(f.y_max);
    for (double t : yt) {
        out += "<line x1=\"" + num(x0) + "\" y1=\"" + num(f.py(t)) + "\" x2=\"" + num(x1) +
               "\" y2=\"" + num(f.py(t)) + "\" stroke=\"#ddd\"/>\n";
        out += "<text x=\"" + num(x0 - 8) + "\" y=\"" + num(f.py(t) + 4) +
               "\" text-anchor=\"end\">" + tick_label(t) + "</text>\n";
    }
    for (double t : xt) {
        out += "<line x1=\"" + num(f.px(t)) + "\" y1=\"" + num(y0) + "\" x2=\"" + num(f.px(t)) +
               "\" y2=\"" + num(y0 + 5) + "\" stroke=\"#000\"/>\n";
        out += "<text x=\"" + num(f.px(t)) + "\" y=\"" + num(y0 + 20) +
               "\" text-anchor=\"middle\">" + tick_label(t) + "</text>\n";
    }
    out += "<polyline points=\"" + num(x0) + "," + num(y1) + " " + num(x0) + "," + num(y0) + " " +
           num(x1) + "," + num(y0) + "\" fill=\"none\" stroke=\"#000\"/>\n";
    out += "<text x=\"" + num((x0 + x1) / 2) + "\" y=\"" + num(kHeight - 15) +
           "\" text-anchor=\"middle\">" + escape(spec.x_label) + "</text>\n";
    out += "<text transform=\"translate(20," + num((y0 + y1) / 2) +
           ") rotate(-90)\" text-anchor=\"middle\">" + escape(spec.y_label) + "</text>\n";
    out += "<text x=\"" + num(kWidth / 2) + "\" y=\"28\" text-anchor=\"middle\" " +
           "font-size=\"16\">" + escape(spec.title) + "</text>\n";
}

void series(std::string& out, const Frame& f, const ChartSeries& s, size_t index) {
    const std::string color = kPalette[size_t(s.color) % std::size(kPalette)];
    const std::string dash = s.dashed ? " stroke-dasharray=\"6,4\"" : "";
    std::string pts;
    for (const auto& [x, y] : s.points) pts += num(f.px(x)) + "," + num(f.py(y)) + " ";
    if (!pts.empty()) pts.pop_back();
    out += "<polyline points=\"" + pts + "\" fill=\"none\" stroke=\"" + color +
           "\" stroke-width=\"2\"" + dash + "/>\n";
    for (size_t i = 0; i < s.points.size(); ++i) {
        const double x = f.px(s.points[i].first), y = f.py(s.points[i].second);
        out += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"3\" fill=\"" + color +
               "\"/>\n";
        if (s.point_labels.size() == s.points.size()) {
            out += "<text x=\"" + num(x + 5) + "\" y=\"" + num(y - 6) +
                   "\" font-size=\"10\" fill=\"" + color + "\">" + escape(s.point_labels[i]) +
                   "</text>\n";
        }
    }
    const double ly = kTop + 20 + 22 * double(index), lx = kWidth - kRight + 20;
    out += "<line x1=\"" + num(lx) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(lx + 30) + "\" y2=\"" +
           num(ly) + "\" stroke=\"" + color + "\" stroke-width=\"2\"" + dash + "/>\n";
    out += "<text x=\"" + num(lx + 38) + "\" y=\"" + num(ly + 4) + "\">" + escape(s.name) +
           "</text>\n";
}

}  // namespace

std::vector<double> nice_ticks(double max, int target) {
    if (!(max > 0) || !std::isfinite(max)) return {0, 1};
    const double raw = max / std::max(1, target);
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
        step = m * mag;
        if (step >= raw) break;
    }
    std::vector<double> ticks;
    for (int i = 0;; ++i) {
        const double t = step * i;
        ticks.push_back(t);
        if (t >= max * (1 - 1e-12)) break;
    }
    return ticks;
}

std::string render_svg(const ChartSpec& spec) {
    double x_max = 0, y_max = 0;
    for (const ChartSeries& s : spec.series) {
        for (const auto& [x, y] : s.points) {
            if (std::isfinite(x)) x_max = std::max(x_max, x);
            if (std::isfinite(y)) y_max = std::max(y_max, y);
        }
    }
    const std::vector<double> xt = nice_ticks(x_max), yt = nice_ticks(y_max);
    const Frame f{xt.back(), yt.back()};
    std::string out =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
        num(kWidth) + "\" height=\"" + num(kHeight) + "\" viewBox=\"0 0 " + num(kWidth) + " " +
        num(kHeight) +
        "\" font-family=\"sans-serif\" font-size=\"12\">\n"
        "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n";
    axes(out, f, xt, yt, spec);
    for (size_t i = 0; i < spec.series.size(); ++i) series(out, f, spec.series[i], i);
    out += "</svg>\n";
    return out;
}

}  // namespace citadel::loadgen
