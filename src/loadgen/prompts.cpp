#include "loadgen/prompts.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

namespace citadel::loadgen {
namespace {

using nlohmann::json;

// Common English words, each one token in the usual BPE vocabularies (with its leading space).
const char* const kWords[] = {
    "the",   "of",    "and",   "to",    "in",    "is",    "was",   "for",   "on",     "with",
    "as",    "by",    "at",    "from",  "that",  "this",  "which", "or",    "an",     "be",
    "are",   "it",    "his",   "her",   "their", "new",   "one",   "two",   "three",  "first",
    "city",  "river", "house", "water", "light", "world", "story", "music", "paper",  "field",
    "stone", "green", "small", "large", "early", "later", "north", "south", "east",   "west",
    "good",  "long",  "old",   "young", "high",  "low",   "time",  "year",  "day",    "night",
    "work",  "home",  "road",  "book",  "king",  "war",   "game",  "team",  "school", "state",
};
constexpr size_t kNumWords = sizeof kWords / sizeof kWords[0];

std::string words(std::mt19937_64& rng, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
        if (!out.empty()) out += ' ';
        out += kWords[rng() % kNumWords];
    }
    return out;
}

Status line_error(const std::string& name, int line, const std::string& why) {
    return Status::error(name + " line " + std::to_string(line) + ": " + why);
}

int estimate_tokens(const std::string& text) {
    return std::max(1, int((text.size() + 3) / 4));
}

// The first human turn, and max_tokens from the gpt turn after it; leaves `out` empty
// (max_tokens 0) for a conversation without a human turn.
Status from_conversations(const json& turns, const std::string& name, int line, int default_max,
                          Prompt& out) {
    if (!turns.is_array()) return line_error(name, line, "\"conversations\" is not an array");
    bool have_prompt = false;
    for (const json& t : turns) {
        if (!t.is_object() || !t.contains("from") || !t["from"].is_string() ||
            !t.contains("value") || !t["value"].is_string()) {
            return line_error(name, line,
                              "each turn needs \"from\" and \"value\" strings, e.g. "
                              "{\"from\": \"human\", \"value\": \"...\"}");
        }
        const std::string& from = t["from"].get_ref<const std::string&>();
        const std::string& value = t["value"].get_ref<const std::string&>();
        if (!have_prompt && (from == "human" || from == "user")) {
            out.text = value;
            out.max_tokens = default_max;
            have_prompt = true;
        } else if (have_prompt && (from == "gpt" || from == "assistant")) {
            out.max_tokens = estimate_tokens(value);
            break;
        }
    }
    return ok_status();
}

Status from_object(const json& j, const std::string& name, int line, int default_max, Prompt& out) {
    if (!j.is_object())
        return line_error(name, line, "expected a JSON object, got " + std::string(j.type_name()));
    if (j.contains("conversations"))
        return from_conversations(j["conversations"], name, line, default_max, out);
    if (!j.contains("prompt"))
        return line_error(name, line,
                          "expected {\"prompt\": \"...\"} or {\"conversations\": [...]}");
    if (!j["prompt"].is_string()) return line_error(name, line, "\"prompt\" is not a string");
    out.text = j["prompt"].get<std::string>();
    out.max_tokens = default_max;
    if (j.contains("max_tokens")) {
        const json& m = j["max_tokens"];
        if (!m.is_number_integer() || m.get<int64_t>() < 1 || m.get<int64_t>() > 1'000'000)
            return line_error(name, line, "\"max_tokens\" must be an integer 1-1000000");
        out.max_tokens = m.get<int>();
    }
    return ok_status();
}

// Splits into (line number, object) items: JSON Lines, or one array.
Result<std::vector<std::pair<int, json>>> split_items(const std::string& text,
                                                      const std::string& name) {
    std::vector<std::pair<int, json>> items;
    const size_t first = text.find_first_not_of(" \t\r\n");
    if (first != std::string::npos && text[first] == '[') {
        json all = json::parse(text, nullptr, false);
        if (all.is_discarded()) return Status::error(name + ": not valid JSON (an array)");
        int i = 0;
        for (json& j : all) items.emplace_back(++i, std::move(j));
        return items;
    }
    std::istringstream in(text);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        try {
            items.emplace_back(n, json::parse(line));
        } catch (const json::exception& e) {  // parse_error; out_of_range for huge numbers
            return line_error(name, n, std::string("not valid JSON: ") + e.what());
        }
    }
    return items;
}

}  // namespace

std::vector<Prompt> synthetic_prompts(const SyntheticSpec& spec) {
    std::mt19937_64 rng(spec.seed);
    std::vector<Prompt> out;
    const double spread = std::clamp(spec.spread, 0.0, 1.0);
    const int lo = std::max(1, int(std::floor(spec.input_len * (1 - spread))));
    const int hi = std::max(lo, int(std::ceil(spec.input_len * (1 + spread))));
    for (int i = 0; i < spec.count; ++i) {
        const int n = lo + int(rng() % uint64_t(hi - lo + 1));
        // The leading number takes ~2 tokens; the words make up the rest.
        out.push_back({std::to_string(i) + " " + words(rng, std::max(1, n - 2)), spec.output_len});
    }
    return out;
}

Result<std::vector<Prompt>> parse_dataset(const std::string& text, const std::string& name,
                                          int default_max_tokens, int override_max_tokens,
                                          int* skipped) {
    Result<std::vector<std::pair<int, json>>> items = split_items(text, name);
    if (!items) return items.status();
    std::vector<Prompt> out;
    int n_skipped = 0;
    for (const auto& [line, j] : *items) {
        Prompt p;
        CITADEL_TRY(from_object(j, name, line, default_max_tokens, p));
        if (p.max_tokens == 0) {  // a conversation without a human turn
            ++n_skipped;
            continue;
        }
        if (override_max_tokens > 0) p.max_tokens = override_max_tokens;
        out.push_back(std::move(p));
    }
    if (skipped) *skipped = n_skipped;
    if (out.empty()) return Status::error(name + " has no prompts");
    return out;
}

Result<std::vector<Prompt>> load_dataset(const std::string& path, int default_max_tokens,
                                         int override_max_tokens, int* skipped) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot open --dataset " + path);
    std::ostringstream text;
    text << in.rdbuf();
    return parse_dataset(text.str(), path, default_max_tokens, override_max_tokens, skipped);
}

}  // namespace citadel::loadgen
