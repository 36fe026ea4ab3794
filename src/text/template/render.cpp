// Statements: output, control flow, assignment, macros and call blocks.
#include <algorithm>

#include "text/template/builtins.h"
#include "text/template/interpreter.h"
#include "text/template/objects.h"
#include "text/template/operators.h"

namespace citadel::jinja {

const Value* Scope::find(std::string_view name) const {
    for (const Scope* s = this; s; s = s->parent.get()) {
        for (const auto& [k, v] : s->vars) {
            if (k == name) return &v;
        }
    }
    return nullptr;
}

void Scope::set(const std::string& name, Value value) {
    for (auto& [k, v] : vars) {
        if (k == name) {
            v = std::move(value);
            return;
        }
    }
    vars.emplace_back(name, std::move(value));
}

struct Interpreter::DepthGuard {
    explicit DepthGuard(Interpreter& in) : in_(in) {
        if (++in_.eval_depth_ > in_.options_.limits.max_eval_depth) {
            raise("RecursionError: template evaluation nested too deeply");
        }
    }
    ~DepthGuard() { --in_.eval_depth_; }
    Interpreter& in_;
};

Interpreter::Interpreter(const RenderOptions& options)
    : options_(options), globals_(std::make_shared<Scope>()) {
    install_globals(*globals_, *this);
}

Interpreter::~Interpreter() {
    for (auto& weak : tracked_) {
        if (auto object = weak.lock()) object->clear();
    }
}

void Interpreter::track(const std::shared_ptr<ClearableObject>& object) {
    tracked_.erase(
        std::remove_if(tracked_.begin(), tracked_.end(), [](const auto& w) { return w.expired(); }),
        tracked_.end());
    tracked_.push_back(object);
}

void Interpreter::charge(int64_t steps) {
    steps_ += steps;
    if (steps_ > options_.limits.max_steps) raise("template exceeded its evaluation budget");
}

void Interpreter::count_iteration() {
    if (++iterations_ > options_.limits.max_loop_iterations) {
        raise("template exceeded its loop iteration limit (" +
              std::to_string(options_.limits.max_loop_iterations) + ")");
    }
}

std::string Interpreter::render(const Body& body, const Value& variables) {
    auto root = std::make_shared<Scope>();
    root->parent = globals_;
    if (variables.is_dict()) {
        for (const auto& [k, v] : variables.get_dict().entries) {
            if (k.is_string()) root->set(k.get_string(), v);
        }
    }
    std::string out;
    render_body(body, root, out);
    return out;
}

void Interpreter::write(std::string& out, std::string_view text) {
    if (out.size() + text.size() > options_.limits.max_output_bytes) {
        raise("template output exceeds " + std::to_string(options_.limits.max_output_bytes) +
              " bytes");
    }
    out.append(text);
    charge(int64_t(text.size() / 64));
}

std::string Interpreter::capture(const Body& body, const ScopePtr& scope) {
    std::string buffer;
    render_body(body, scope, buffer);
    return buffer;
}

Flow Interpreter::render_body(const Body& body, const ScopePtr& scope, std::string& out) {
    for (const StmtPtr& s : body) {
        const Flow f = render_stmt(*s, scope, out);
        if (f != Flow::kNormal) return f;
    }
    return Flow::kNormal;
}

Flow Interpreter::render_stmt(const Stmt& s, const ScopePtr& scope, std::string& out) {
    DepthGuard guard(*this);
    charge(1);
    try {
        switch (s.kind) {
            case StmtKind::kText:
                write(out, s.text);
                break;
            case StmtKind::kOutput:
                write(out, to_str(eval(*s.expr, scope), max_size()));
                break;
            case StmtKind::kIf:
                return render_body(truthy(eval(*s.expr, scope)) ? s.body : s.else_body, scope, out);
            case StmtKind::kFor:
                return render_for(s, scope, out);
            case StmtKind::kSet:
            case StmtKind::kSetBlock:
                render_set(s, scope, out);
                break;
            case StmtKind::kMacro:
                scope->set(s.text, make_macro(s, scope, s.text));
                break;
            case StmtKind::kCallBlock: {
                CallArgs args = eval_args(*s.expr, 1, scope);
                args.kwargs.emplace_back("caller", make_macro(s, scope, "caller"));
                write(out, to_str(call(eval(*s.expr->args[0], scope), args), max_size()));
                break;
            }
            case StmtKind::kFilterBlock:
                write(out, to_str(apply_filter_chain(
                               *s.filter, Value::string(capture(s.body, scope)), scope)));
                break;
            case StmtKind::kWith: {
                auto inner = std::make_shared<Scope>();
                inner->parent = scope;
                for (const auto& [target, expr] : s.assignments)
                    assign(target, eval(*expr, scope), inner);
                return render_body(s.body, inner, out);
            }
            case StmtKind::kBreak:
                return Flow::kBreak;
            case StmtKind::kContinue:
                return Flow::kContinue;
            case StmtKind::kBlock:
                return render_body(s.body, scope, out);
        }
    } catch (TemplateError& err) {
        if (err.line == 0) err.line = s.line;
        throw;
    }
    return Flow::kNormal;
}

Flow Interpreter::render_for(const Stmt& s, const ScopePtr& scope, std::string& out) {
    ValueList items = iterate(eval(*s.expr, scope));
    if (s.filter) {
        ValueList kept;
        for (Value& item : items) {
            count_iteration();
            auto probe = std::make_shared<Scope>();
            probe->parent = scope;
            assign(s.target, item, probe);
            if (truthy(eval(*s.filter, probe))) kept.push_back(std::move(item));
        }
        items = std::move(kept);
    }
    if (items.empty()) return render_body(s.else_body, scope, out);
    auto shared_items = std::make_shared<const ValueList>(std::move(items));
    auto loop = std::make_shared<LoopObject>(shared_items);
    track(loop);
    const Value loop_value = Value::object(loop);
    for (size_t i = 0; i < shared_items->size(); ++i) {
        count_iteration();
        loop->index = i;
        auto iteration = std::make_shared<Scope>();
        iteration->parent = scope;
        assign(s.target, (*shared_items)[i], iteration);
        iteration->set("loop", loop_value);
        if (render_body(s.body, iteration, out) == Flow::kBreak) break;
    }
    return Flow::kNormal;
}

void Interpreter::render_set(const Stmt& s, const ScopePtr& scope, std::string& out) {
    Value v;
    if (s.kind == StmtKind::kSet) {
        v = eval(*s.expr, scope);
    } else {
        v = Value::string(capture(s.body, scope));
        if (s.filter) v = apply_filter_chain(*s.filter, v, scope);
    }
    if (s.target.attribute.empty()) {
        assign(s.target, v, scope);
        return;
    }
    const Value holder = lookup(s.target.names[0], scope);
    if (holder.kind() != Kind::kObject || !holder.get_object().set_attr(s.target.attribute, v)) {
        raise("TemplateRuntimeError: cannot assign attribute on non-namespace object");
    }
}

void Interpreter::assign(const Target& t, const Value& v, const ScopePtr& scope) {
    if (!t.is_tuple) {
        scope->set(t.names[0], v);
        return;
    }
    const ValueList items = iterate(v);
    if (items.size() != t.names.size()) {
        raise(std::string("ValueError: ") +
              (items.size() > t.names.size() ? "too many values to unpack"
                                             : "not enough values to unpack") +
              " (expected " + std::to_string(t.names.size()) + ", got " +
              std::to_string(items.size()) + ")");
    }
    for (size_t i = 0; i < items.size(); ++i) scope->set(t.names[i], items[i]);
}

Value Interpreter::make_macro(const Stmt& s, const ScopePtr& scope, const std::string& name) {
    // The macro lives in `scope`; holding it weakly avoids a scope -> macro -> scope cycle.
    std::weak_ptr<Scope> closure = scope;
    const Stmt* stmt = &s;
    return Value::function(name, [this, stmt, closure](CallArgs& args) -> Value {
        ScopePtr defining = closure.lock();
        if (!defining) raise("macro called after the scope that defined it ended");
        return call_macro(*stmt, defining, args);
    });
}

Value Interpreter::call_macro(const Stmt& s, const ScopePtr& closure, CallArgs& args) {
    if (call_depth_ >= options_.limits.max_call_depth) {
        raise("RecursionError: macro calls nested deeper than " +
              std::to_string(options_.limits.max_call_depth));
    }
    struct CallDepth {
        int& d;
        explicit CallDepth(int& depth) : d(depth) { ++d; }
        ~CallDepth() { --d; }
    } depth_guard(call_depth_);
    auto frame = std::make_shared<Scope>();
    frame->parent = closure;
    for (size_t i = 0; i < s.params.size(); ++i) {
        const Param& p = s.params[i];
        if (i < args.args.size()) {
            frame->set(p.name, args.args[i]);
        } else if (const Value* kw = args.kwarg(p.name)) {
            frame->set(p.name, *kw);
        } else if (p.fallback) {
            frame->set(p.name, eval(*p.fallback, frame));
        } else {
            frame->set(p.name, Value::undefined("parameter '" + p.name + "' was not provided"));
        }
    }
    ValueList varargs;
    for (size_t i = s.params.size(); i < args.args.size(); ++i) varargs.push_back(args.args[i]);
    Dict kwargs;
    for (const auto& kwarg : args.kwargs) {
        const std::string& key = kwarg.first;
        if (key == "caller") {
            frame->set("caller", kwarg.second);
            continue;
        }
        const bool is_param = std::any_of(s.params.begin(), s.params.end(),
                                          [&key](const Param& p) { return p.name == key; });
        if (!is_param) kwargs.set(Value::string(key), kwarg.second);
    }
    frame->set("varargs", Value::tuple(std::move(varargs)));
    frame->set("kwargs", Value::dict(std::move(kwargs)));
    return Value::string(capture(s.body, frame));
}

}  // namespace citadel::jinja
