// Walks a parsed template and writes its output. One Interpreter renders one template
// once: it owns the variable scopes, the output buffers and the budgets (output bytes,
// loop iterations, call depth, evaluation steps) that keep hostile templates bounded.
#pragma once

#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "text/template/ast.h"
#include "text/template/value.h"

namespace citadel::jinja {

struct RenderLimits {
    size_t max_output_bytes = size_t(4) << 20;  // also bounds any one string or list
    int64_t max_loop_iterations = 1'000'000;    // all loops of one render together
    int max_call_depth = 100;                   // nested macro / caller() calls
    int max_eval_depth = 1500;                  // nested expression + statement evaluation
    int64_t max_steps = 50'000'000;             // evaluation work, roughly one per node
};

struct RenderOptions {
    RenderLimits limits;
    // The time strftime_now() formats, as local broken-down time. Unset: the real clock.
    std::function<std::tm()> clock;
};

// Variables visible at one point: a chain of frames (template, loop iteration, macro call).
struct Scope {
    std::shared_ptr<Scope> parent;
    std::vector<std::pair<std::string, Value>> vars;

    const Value* find(std::string_view name) const;
    void set(const std::string& name, Value value);
};
using ScopePtr = std::shared_ptr<Scope>;

enum class Flow : uint8_t { kNormal, kBreak, kContinue };

class Interpreter {
  public:
    explicit Interpreter(const RenderOptions& options);
    ~Interpreter();
    Interpreter(const Interpreter&) = delete;
    Interpreter& operator=(const Interpreter&) = delete;

    // Renders with the given top-level variables (a dict). Raises TemplateError.
    std::string render(const Body& body, const Value& variables);

    // Used by filters, tests and builtins.
    Value call(const Value& callee, CallArgs& args);
    void charge(int64_t steps);
    void count_iteration();
    // Objects whose contents are dropped after the render, breaking reference cycles.
    void track(const std::shared_ptr<class ClearableObject>& object);
    const RenderOptions& options() const { return options_; }
    size_t max_size() const { return options_.limits.max_output_bytes; }

  private:
    friend struct Evaluator;
    // Statements (render.cpp)
    Flow render_body(const Body& body, const ScopePtr& scope, std::string& out);
    Flow render_stmt(const Stmt& s, const ScopePtr& scope, std::string& out);
    Flow render_for(const Stmt& s, const ScopePtr& scope, std::string& out);
    void render_set(const Stmt& s, const ScopePtr& scope, std::string& out);
    void assign(const Target& t, const Value& v, const ScopePtr& scope);
    Value make_macro(const Stmt& s, const ScopePtr& scope, const std::string& name);
    Value call_macro(const Stmt& s, const ScopePtr& closure, CallArgs& args);
    std::string capture(const Body& body, const ScopePtr& scope);
    void write(std::string& out, std::string_view text);

  public:
    // Expressions (eval.cpp)
    Value eval(const Expr& e, const ScopePtr& scope);
    Value lookup(const std::string& name, const ScopePtr& scope);
    Value apply_filter_chain(const Expr& filter, Value input, const ScopePtr& scope);

  private:
    Value eval_inner(const Expr& e, const ScopePtr& scope);
    Value eval_compare(const Expr& e, const ScopePtr& scope);
    Value eval_call(const Expr& e, const ScopePtr& scope);
    CallArgs eval_args(const Expr& e, size_t first, const ScopePtr& scope);

    struct DepthGuard;
    RenderOptions options_;
    ScopePtr globals_;
    int64_t steps_ = 0;
    int64_t iterations_ = 0;
    int call_depth_ = 0;
    int eval_depth_ = 0;
    std::vector<std::weak_ptr<ClearableObject>> tracked_;
};

}  // namespace citadel::jinja
