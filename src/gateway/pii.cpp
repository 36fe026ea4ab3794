#include "gateway/pii.h"

#include <algorithm>

#include "gateway/pii_detectors.h"

namespace citadel::gateway {
namespace {

using pii::Detector;
constexpr size_t kNone = std::string_view::npos;

std::string upper(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
    }
    return out;
}

bool valid_pattern_name(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name) {
        const bool ok =
            (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!ok) return false;
    }
    return true;
}

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const std::string& item : items) out += (out.empty() ? "" : ", ") + item;
    return out;
}

size_t accept_any(std::string_view, size_t, size_t end) {
    return end;
}

Result<Detector> custom_detector(const PiiPattern& pattern) {
    const std::string quoted = "PII pattern '" + pattern.name + "'";
    if (!valid_pattern_name(pattern.name)) {
        return Status::error(quoted + ": the name must be 1-64 letters, digits or '_'");
    }
    if (pattern.max_length < 1 || pattern.max_length > PiiScanner::kMaxPatternLength) {
        return Status::error(quoted + ": max_length must be 1.." +
                             std::to_string(PiiScanner::kMaxPatternLength) + ", got " +
                             std::to_string(pattern.max_length));
    }
    RE2::Options options;
    options.set_longest_match(true);
    options.set_log_errors(false);
    auto regex = std::make_shared<RE2>(pattern.regex, options);
    if (!regex->ok()) return Status::error(quoted + ": invalid regex: " + regex->error());
    if (RE2::FullMatch("", *regex)) {
        return Status::error(quoted + ": the regex matches the empty string");
    }
    Detector d;
    d.type = upper(pattern.name);
    d.regex = std::move(regex);
    d.max_length = pattern.max_length;
    d.lookahead = 1;  // the regex may test the byte after its window (\b, $)
    d.accept = accept_any;
    return d;
}

Result<std::vector<Detector>> builtin_detectors(const std::vector<std::string>& types) {
    std::vector<std::string> wanted;
    for (const std::string& type : types) {
        const std::string name = upper(type);
        if (!pii::builtin_detector(name)) {
            return Status::error("unknown PII type '" + type +
                                 "' (known: " + join(pii::builtin_types()) + ")");
        }
        wanted.push_back(name);
    }
    std::vector<Detector> detectors;
    for (const std::string& name : pii::builtin_types()) {
        if (types.empty() || std::count(wanted.begin(), wanted.end(), name) > 0) {
            detectors.push_back(*pii::builtin_detector(name));
        }
    }
    return detectors;
}

struct Candidate {
    size_t begin = kNone;  // kNone: no match starts in the searched range
    size_t end = 0;
};

// The first start in [from, limit) where `d` matches and its validator accepts. The regex
// finds the leftmost start of any match; that start's outcome is its longest match within the
// detector's window, checked by `accept`. A rejected start is skipped, never shortened.
Candidate next_candidate(const Detector& d, std::string_view text, size_t from, size_t limit) {
    while (from < limit) {
        re2::StringPiece m;
        if (!d.regex->Match(text, from, text.size(), RE2::UNANCHORED, &m, 1)) break;
        const size_t begin = size_t(m.data() - text.data());
        if (begin >= limit) break;
        size_t end = begin + m.size();
        if (end - begin > d.max_length) {  // the longest match overruns the window: refit
            const size_t window_end = std::min(text.size(), begin + d.max_length);
            end = d.regex->Match(text, begin, window_end, RE2::ANCHOR_START, &m, 1)
                      ? begin + m.size()
                      : begin;
        }
        if (end > begin) {
            const size_t accepted = d.accept(text, begin, end);
            if (accepted != pii::kRejected && accepted > begin) return Candidate{begin, accepted};
        }
        from = begin + 1;
        if (d.rejects_after_alnum) {  // later starts in this run are glued to it on the left
            while (from < limit && pii::is_ascii_alnum(text[from - 1])) ++from;
        }
    }
    return Candidate{};
}

}  // namespace

std::optional<PiiMode> parse_pii_mode(std::string_view name) {
    if (name == "off") return PiiMode::kOff;
    if (name == "redact") return PiiMode::kRedact;
    if (name == "block") return PiiMode::kBlock;
    if (name == "log") return PiiMode::kLog;
    return std::nullopt;
}

const char* pii_mode_name(PiiMode mode) {
    switch (mode) {
        case PiiMode::kOff:
            return "off";
        case PiiMode::kRedact:
            return "redact";
        case PiiMode::kBlock:
            return "block";
        case PiiMode::kLog:
            return "log";
    }
    return "off";
}

PiiScanner::PiiScanner() = default;
PiiScanner::~PiiScanner() = default;

Result<std::shared_ptr<const PiiScanner>> PiiScanner::create(std::vector<std::string> types,
                                                             std::vector<PiiPattern> custom) {
    auto builtins = builtin_detectors(types);
    if (!builtins.ok()) return builtins.status();
    std::shared_ptr<PiiScanner> scanner(new PiiScanner());
    scanner->detectors_ = std::move(builtins).value();
    for (const PiiPattern& pattern : custom) {
        auto detector = custom_detector(pattern);
        if (!detector.ok()) return detector.status();
        for (const Detector& other : scanner->detectors_) {
            if (other.type == detector->type) {
                return Status::error("PII pattern '" + pattern.name + "': the type " + other.type +
                                     " is already defined");
            }
        }
        scanner->detectors_.push_back(std::move(detector).value());
    }
    for (const Detector& d : scanner->detectors_) {
        scanner->max_span_ = std::max(scanner->max_span_, d.max_length);
    }
    return std::shared_ptr<const PiiScanner>(std::move(scanner));
}

std::vector<PiiMatch> PiiScanner::scan(std::string_view text) const {
    std::vector<PiiMatch> matches;
    scan_decided(text, 0, true, &matches);
    return matches;
}

std::string PiiScanner::redact(std::string_view text, std::vector<PiiMatch>* found) const {
    const std::vector<PiiMatch> matches = scan(text);
    std::string out;
    out.reserve(text.size());
    size_t pos = 0;
    for (const PiiMatch& m : matches) {
        out.append(text.substr(pos, m.begin - pos));
        out += '[';
        out += m.type;
        out += ']';
        pos = m.end;
    }
    out.append(text.substr(pos));
    if (found) *found = matches;
    return out;
}

// The leftmost-longest walk (see pii.h). Each detector's next candidate is cached and
// searched again only once the walk has moved past its start.
size_t PiiScanner::scan_decided(std::string_view text, size_t from, bool complete,
                                std::vector<PiiMatch>* out) const {
    const size_t limit = complete ? text.size() : decided_limit(text);
    std::vector<Candidate> next(detectors_.size());
    std::vector<bool> searched(detectors_.size(), false);
    size_t cursor = from;
    while (cursor < limit) {
        size_t best = kNone;
        for (size_t i = 0; i < detectors_.size(); ++i) {
            if (!searched[i] || (next[i].begin != kNone && next[i].begin < cursor)) {
                next[i] = next_candidate(detectors_[i], text, cursor, limit);
                searched[i] = true;
            }
            if (next[i].begin == kNone) continue;
            if (best == kNone || next[i].begin < next[best].begin ||
                (next[i].begin == next[best].begin &&
                 next[i].end - next[i].begin > next[best].end - next[best].begin)) {
                best = i;
            }
        }
        if (best == kNone) break;
        PiiMatch match;
        match.begin = next[best].begin;
        match.end = next[best].end;
        match.type = detectors_[best].type;
        out->push_back(std::move(match));
        cursor = next[best].end;
    }
    return std::max(cursor, limit);
}

// Every start below the returned position has a final outcome for every detector. A start
// is final when its whole window and lookahead are present, or when a byte outside the
// detector's alphabet follows it (no match can reach past that byte, and accept() reads
// beyond a match's first lookahead byte only through alphabet bytes), or when its own byte
// cannot begin a match.
size_t PiiScanner::decided_limit(std::string_view text) const {
    const size_t size = text.size();
    size_t limit = size;
    for (const Detector& d : detectors_) {
        const size_t reach = d.max_length + d.lookahead;  // bytes from a start it may read
        size_t open_from = size >= reach ? size - reach + 1 : 0;
        if (d.alphabet) {
            for (size_t i = size; i > open_from; --i) {
                if (!d.alphabet->test(uint8_t(text[i - 1]))) {
                    open_from = i;
                    break;
                }
            }
        }
        if (d.first_bytes) {
            while (open_from < size && !d.first_bytes->test(uint8_t(text[open_from]))) {
                ++open_from;
            }
        }
        limit = std::min(limit, open_from);
    }
    return limit;
}

}  // namespace citadel::gateway
