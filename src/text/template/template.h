// A parsed Jinja2 template: parse once, render many times. Errors are Results that name
// the template line; nothing throws out of this API.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "text/template/interpreter.h"
#include "text/template/parser.h"
#include "text/template/value.h"

namespace citadel::jinja {

class Template {
  public:
    // Also rejects unknown filters and tests, as Jinja2 does when it compiles a template.
    static Result<Template> parse(std::string_view source, const ParseOptions& options = {});

    Result<std::string> render(const Value& variables, const RenderOptions& options = {}) const;
    // `context` must be a JSON object; its keys become the template's variables.
    Result<std::string> render_json(const nlohmann::ordered_json& context,
                                    const RenderOptions& options = {}) const;

  private:
    explicit Template(std::shared_ptr<const Body> body) : body_(std::move(body)) {}
    std::shared_ptr<const Body> body_;
};

// "template error at line N: message"
std::string format_error(const TemplateError& error);

}  // namespace citadel::jinja
