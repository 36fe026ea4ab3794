#include "text/template/json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "text/template/pystr.h"

namespace citadel::jinja {

Value from_json(const nlohmann::ordered_json& j) {
    using T = nlohmann::ordered_json::value_t;
    switch (j.type()) {
        case T::null:
            return Value::none();
        case T::boolean:
            return Value::boolean(j.get<bool>());
        case T::number_integer:
            return Value::integer(j.get<int64_t>());
        case T::number_unsigned: {
            const uint64_t u = j.get<uint64_t>();
            if (u > uint64_t(INT64_MAX)) return Value::number(double(u));
            return Value::integer(int64_t(u));
        }
        case T::number_float:
            return Value::number(j.get<double>());
        case T::string:
            return Value::string(j.get<std::string>());
        case T::array: {
            ValueList items;
            items.reserve(j.size());
            for (const auto& x : j) items.push_back(from_json(x));
            return Value::list(std::move(items));
        }
        case T::object: {
            Dict d;
            d.entries.reserve(j.size());
            for (auto it = j.begin(); it != j.end(); ++it) {
                d.entries.emplace_back(Value::string(it.key()), from_json(it.value()));
            }
            return Value::dict(std::move(d));
        }
        default:
            return Value::none();
    }
}

namespace {

void append_escaped(const std::string& s, bool ensure_ascii, std::string& out) {
    out += '"';
    for (size_t i = 0; i < s.size();) {
        const uint32_t cp = decode_utf8(s, i);
        char buf[16];
        switch (cp) {
            case '"':
                out += "\\\"";
                continue;
            case '\\':
                out += "\\\\";
                continue;
            case '\n':
                out += "\\n";
                continue;
            case '\r':
                out += "\\r";
                continue;
            case '\t':
                out += "\\t";
                continue;
            case '\b':
                out += "\\b";
                continue;
            case '\f':
                out += "\\f";
                continue;
            default:
                break;
        }
        if (cp < 0x20 || (ensure_ascii && cp > 0x7e)) {
            if (cp >= 0x10000) {
                const uint32_t v = cp - 0x10000;
                std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xd800 + (v >> 10),
                              0xdc00 + (v & 0x3ff));
            } else {
                std::snprintf(buf, sizeof buf, "\\u%04x", unsigned(cp));
            }
            out += buf;
        } else {
            append_utf8(cp, out);
        }
    }
    out += '"';
}

std::string float_json(double d) {
    if (std::isnan(d)) return "NaN";
    if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
    return py_repr_float(d);
}

// Python converts non-string keys: True -> "true", None -> "null", 1 -> "1".
std::string key_text(const Value& k) {
    switch (k.kind()) {
        case Kind::kString:
            return k.get_string();
        case Kind::kBool:
            return k.get_bool() ? "true" : "false";
        case Kind::kNone:
            return "null";
        case Kind::kInt:
            return std::to_string(k.get_int());
        case Kind::kFloat:
            return float_json(k.get_float());
        default:
            raise("TypeError: keys must be str, int, float, bool or None, not " + type_name(k));
    }
}

class Dumper {
  public:
    explicit Dumper(const JsonDumpOptions& o) : o_(o) {}

    void dump(const Value& v, int level, std::string& out) {
        if (level > 200) raise("ValueError: Circular reference detected");
        if (out.size() > kMaxTextBytes) raise("tojson output too large");
        switch (v.kind()) {
            case Kind::kNone:
                out += "null";
                return;
            case Kind::kBool:
                out += v.get_bool() ? "true" : "false";
                return;
            case Kind::kInt:
                out += std::to_string(v.get_int());
                return;
            case Kind::kFloat:
                out += float_json(v.get_float());
                return;
            case Kind::kString:
                append_escaped(v.get_string(), o_.ensure_ascii, out);
                return;
            case Kind::kList:
            case Kind::kTuple:
                dump_list(v.items(), level, out);
                return;
            case Kind::kDict:
                dump_dict(v.get_dict(), level, out);
                return;
            default:
                raise("TypeError: Object of type " + type_name(v) + " is not JSON serializable");
        }
    }

  private:
    void newline(int level, std::string& out) {
        if (!o_.indent) return;
        out += '\n';
        for (int i = 0; i < level; ++i) out += *o_.indent;
    }

    void dump_list(const ValueList& items, int level, std::string& out) {
        if (items.empty()) {
            out += "[]";
            return;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += o_.item_separator;
            newline(level + 1, out);
            dump(items[i], level + 1, out);
        }
        newline(level, out);
        out += ']';
    }

    void dump_dict(const Dict& d, int level, std::string& out) {
        if (d.entries.empty()) {
            out += "{}";
            return;
        }
        std::vector<std::pair<std::string, const Value*>> entries;
        for (const auto& [k, v] : d.entries) entries.emplace_back(key_text(k), &v);
        if (o_.sort_keys) {
            std::stable_sort(entries.begin(), entries.end(),
                             [](const auto& a, const auto& b) { return a.first < b.first; });
        }
        out += '{';
        for (size_t i = 0; i < entries.size(); ++i) {
            if (i) out += o_.item_separator;
            newline(level + 1, out);
            append_escaped(entries[i].first, o_.ensure_ascii, out);
            out += o_.key_separator;
            dump(*entries[i].second, level + 1, out);
        }
        newline(level, out);
        out += '}';
    }

    const JsonDumpOptions& o_;
};

}  // namespace

std::string dump_json(const Value& v, const JsonDumpOptions& options) {
    std::string out;
    Dumper(options).dump(v, 0, out);
    return out;
}

}  // namespace citadel::jinja
