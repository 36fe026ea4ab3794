#include "text/stop_strings.h"

#include <algorithm>

#include "text/unicode.h"

namespace citadel::text {

namespace {

std::vector<uint32_t> failure_function(std::string_view s) {
    std::vector<uint32_t> f(s.size(), 0);
    uint32_t k = 0;
    for (size_t i = 1; i < s.size(); ++i) {
        while (k > 0 && s[i] != s[k]) k = f[k - 1];
        if (s[i] == s[k]) ++k;
        f[i] = k;
    }
    return f;
}

bool is_continuation(char c) {
    return (static_cast<unsigned char>(c) & 0xc0) == 0x80;
}

}  // namespace

StopMatcher::StopMatcher(std::vector<std::string> stops) {
    for (auto& s : stops) {
        if (s.empty()) continue;
        Stop stop;
        stop.failure = failure_function(s);
        stop.text = std::move(s);
        stops_.push_back(std::move(stop));
    }
}

StopMatcher::Out StopMatcher::push(std::string_view delta) {
    Out out;
    if (stopped_) {
        out.stopped = true;
        out.matched = matched_;
        return out;
    }
    const size_t base = held_.size();
    held_.append(delta);
    for (size_t i = 0; i < delta.size(); ++i) {
        const char c = delta[i];
        const Stop* done = nullptr;
        for (auto& stop : stops_) {
            uint32_t k = stop.state;
            while (k > 0 && stop.text[k] != c) k = stop.failure[k - 1];
            if (stop.text[k] == c) ++k;
            stop.state = k;
            // The earliest end wins; on a tie the longer stop, which starts first.
            if (k == stop.text.size() && (!done || stop.text.size() > done->text.size())) {
                done = &stop;
            }
        }
        if (done) {
            // held_ covered the stop's partial match before this byte, so the match starts
            // inside held_.
            const size_t match_start = base + i + 1 - done->text.size();
            out.text = held_.substr(0, match_start);
            out.stopped = stopped_ = true;
            out.matched = matched_ = done->text;
            held_.clear();
            return out;
        }
    }
    size_t keep = 0;
    for (const auto& stop : stops_) keep = std::max<size_t>(keep, stop.state);
    keep = std::max(keep, incomplete_utf8_tail(held_));
    size_t cut = held_.size() - keep;
    while (cut > 0 && cut < held_.size() && is_continuation(held_[cut])) --cut;
    out.text = held_.substr(0, cut);
    held_.erase(0, cut);
    return out;
}

std::string StopMatcher::flush() {
    std::string out = stopped_ ? std::string() : std::move(held_);
    held_.clear();
    for (auto& stop : stops_) stop.state = 0;
    return out;
}

}  // namespace citadel::text
