#include "text/template/chat_template.h"

#include <cstdio>

namespace citadel::jinja {

const char* chatml_template() {
    return "{%- for message in messages %}"
           "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
           "{%- endfor %}"
           "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
}

Result<ChatTemplate> ChatTemplate::create(std::string_view source, ChatTemplateOptions options) {
    Result<Template> t = Template::parse(source);
    if (!t) return t.status();
    return ChatTemplate(std::move(*t), std::move(options));
}

Result<std::string> ChatTemplate::apply(const nlohmann::ordered_json& context) const {
    if (!context.is_object()) return Status::error("chat template context must be a JSON object");
    nlohmann::ordered_json vars = context;
    if (options_.bos_token && !vars.contains("bos_token")) vars["bos_token"] = *options_.bos_token;
    if (options_.eos_token && !vars.contains("eos_token")) vars["eos_token"] = *options_.eos_token;
    RenderOptions render;
    render.limits = options_.limits;
    if (options_.now) {
        const std::tm now = *options_.now;
        render.clock = [now] { return now; };
    }
    return template_.render_json(vars, render);
}

Result<std::tm> parse_datetime(std::string_view text) {
    std::tm tm{};
    char sep = 0;
    int n_read = 0;
    const std::string s(text);
    const int n = std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                              &tm.tm_mday, &sep, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n_read);
    int n_short = 0;
    const bool full = n == 7 && size_t(n_read) == s.size();
    const bool no_seconds =
        !full &&
        std::sscanf(s.c_str(), "%4d-%2d-%2d%c%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &sep,
                    &tm.tm_hour, &tm.tm_min, &n_short) == 6 &&
        size_t(n_short) == s.size();
    if (!full && !no_seconds) tm.tm_sec = 0;
    if ((!full && !no_seconds) || (sep != ' ' && sep != 'T') || tm.tm_mon < 1 || tm.tm_mon > 12 ||
        tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60) {
        return Status::error("invalid date-time '" + s + "' (expected \"YYYY-MM-DD HH:MM:SS\")");
    }
    if (no_seconds) tm.tm_sec = 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_isdst = -1;
    std::tm normalized = tm;
    if (timegm(&normalized) == -1) return Status::error("invalid date-time '" + s + "'");
    tm.tm_wday = normalized.tm_wday;  // weekday and day of year for %a, %A, %j
    tm.tm_yday = normalized.tm_yday;
    return tm;
}

}  // namespace citadel::jinja
