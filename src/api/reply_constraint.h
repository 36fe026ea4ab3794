// Which structure a chat reply must have, for constrained decoding: a JSON object
// (response_format json_object, Ollama's format "json") or a tool call in the model's own
// format (tool_choice "required" or a named function).
#pragma once

#include <optional>
#include <variant>
#include <vector>

#include "api/errors.h"
#include "api/types.h"
#include "engine/constraint/token_constraint.h"
#include "ops/model_registry.h"

namespace citadel::api {

// The parts of the reply, none when it is free text; an error when the request asks for a
// forced tool call and the model's chat template describes no tool-call format.
std::variant<std::optional<std::vector<ConstraintPart>>, ApiError> reply_structure(
    const ops::LoadedModel& m, const ChatRequest& r);

}  // namespace citadel::api
