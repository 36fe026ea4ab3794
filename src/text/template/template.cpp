#include "text/template/template.h"

#include "text/template/builtins.h"
#include "text/template/json.h"
#include "text/template/pystr.h"

namespace citadel::jinja {
namespace {

// Jinja2 resolves filter and test names when it compiles, so an unknown name fails the
// whole template even inside a branch that never runs.
void check_names(const Expr* e) {
    if (!e) return;
    if (e->kind == ExprKind::kFilter && !is_filter(e->name)) {
        throw TemplateError{"TemplateAssertionError: No filter named '" + e->name + "'.", e->line};
    }
    if (e->kind == ExprKind::kTest && !is_test(e->name)) {
        throw TemplateError{"TemplateAssertionError: No test named '" + e->name + "'.", e->line};
    }
    for (const auto& a : e->args) check_names(a.get());
    for (const auto& [k, v] : e->kwargs) check_names(v.get());
}

void check_names(const Body& body) {
    for (const StmtPtr& s : body) {
        check_names(s->expr.get());
        check_names(s->filter.get());
        for (const Param& p : s->params) check_names(p.fallback.get());
        for (const auto& [t, e] : s->assignments) check_names(e.get());
        check_names(s->body);
        check_names(s->else_body);
    }
}

}  // namespace

std::string format_error(const TemplateError& error) {
    if (error.line > 0) {
        return "template error at line " + std::to_string(error.line) + ": " + error.message;
    }
    return "template error: " + error.message;
}

Result<Template> Template::parse(std::string_view source, const ParseOptions& options) {
    if (!valid_utf8(source)) return Status::error("template error: source is not valid UTF-8");
    try {
        auto body = std::make_shared<Body>(parse_template(source, options));
        check_names(*body);
        return Template(std::move(body));
    } catch (const TemplateError& e) {
        return Status::error(format_error(e));
    } catch (const std::exception& e) {
        return Status::error(std::string("template error: ") + e.what());
    }
}

Result<std::string> Template::render(const Value& variables, const RenderOptions& options) const {
    try {
        Interpreter interpreter(options);
        return interpreter.render(*body_, variables);
    } catch (const TemplateError& e) {
        return Status::error(format_error(e));
    } catch (const std::bad_alloc&) {
        return Status::error("template error: out of memory while rendering");
    } catch (const std::exception& e) {
        return Status::error(std::string("template error: ") + e.what());
    }
}

Result<std::string> Template::render_json(const nlohmann::ordered_json& context,
                                          const RenderOptions& options) const {
    if (!context.is_object()) return Status::error("template context must be a JSON object");
    return render(from_json(context), options);
}

}  // namespace citadel::jinja
