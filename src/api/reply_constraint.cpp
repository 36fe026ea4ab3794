#include "api/reply_constraint.h"

#include "api/tool_calls.h"

namespace citadel::api {

std::variant<std::optional<std::vector<ConstraintPart>>, ApiError> reply_structure(
    const ops::LoadedModel& m, const ChatRequest& r) {
    using Kind = ConstraintPart::Kind;
    const bool forced = !r.tools.is_null() && (r.tool_choice.mode == ToolChoice::Mode::kRequired ||
                                               r.tool_choice.mode == ToolChoice::Mode::kFunction);
    if (!forced) {
        if (r.response_format != ResponseFormat::kJsonObject) return std::nullopt;
        return std::vector<ConstraintPart>{{.kind = Kind::kJsonObject}};
    }
    const ToolFormat format = detect_tool_format(m.template_source);
    if (format == ToolFormat::kNone) {
        return ApiError{.message = "the chat template of model '" + m.name +
                                   "' does not describe tool calls, so tool_choice cannot force "
                                   "one; use tool_choice \"auto\" or a model made for tools",
                        .param = "tool_choice"};
    }
    std::vector<std::string> names;
    if (r.tool_choice.mode == ToolChoice::Mode::kFunction) {
        names.push_back(r.tool_choice.function);
    } else {
        for (const auto& t : r.tools) names.push_back(t["function"]["name"].get<std::string>());
    }
    const ToolCallSyntax syntax = tool_call_syntax(format, m.template_source);
    std::vector<ConstraintPart> parts;
    auto literal = [&](const std::string& text) {
        if (!text.empty()) parts.push_back({.kind = Kind::kLiteral, .texts = {text}});
    };
    literal(syntax.before_name);
    parts.push_back({.kind = Kind::kChoice, .texts = std::move(names)});
    literal(syntax.after_name);
    parts.push_back({.kind = Kind::kJsonObject});
    literal(syntax.after_arguments);
    return parts;
}

}  // namespace citadel::api
