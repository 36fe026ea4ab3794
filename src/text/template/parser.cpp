#include "text/template/parser.h"

#include <algorithm>
#include <initializer_list>

namespace citadel::jinja {
namespace {

class Parser {
  public:
    Parser(std::vector<Token> tokens, const ParseOptions& options)
        : toks_(std::move(tokens)), opt_(options) {}

    Body run() {
        Body body = parse_body({});
        if (cur().type != Tok::kEof) fail("unexpected tag '" + peek_tag_name() + "'");
        return body;
    }

  private:
    // ---- token helpers ----
    const Token& cur() const { return toks_[i_]; }
    const Token& look(size_t ahead = 1) const {
        return toks_[std::min(i_ + ahead, toks_.size() - 1)];
    }
    void next() {
        if (i_ + 1 < toks_.size()) ++i_;
    }
    [[noreturn]] void fail(const std::string& message) const {
        throw TemplateError{message, cur().line};
    }
    bool is_op(const char* op) const { return cur().type == Tok::kOp && cur().text == op; }
    bool is_name(const char* name) const { return cur().type == Tok::kName && cur().text == name; }
    bool skip_op(const char* op) {
        if (!is_op(op)) return false;
        next();
        return true;
    }
    bool skip_name(const char* name) {
        if (!is_name(name)) return false;
        next();
        return true;
    }
    void expect_op(const char* op) {
        if (!skip_op(op)) fail(std::string("expected '") + op + "', got " + describe(cur()));
    }
    std::string expect_name() {
        if (cur().type != Tok::kName) fail("expected a name, got " + describe(cur()));
        std::string n = cur().text;
        next();
        return n;
    }
    void expect(Tok type, const char* what) {
        if (cur().type != type) fail(std::string("expected ") + what + ", got " + describe(cur()));
        next();
    }
    static std::string describe(const Token& t) {
        switch (t.type) {
            case Tok::kEof:
                return "end of template";
            case Tok::kVarEnd:
                return "end of print statement";
            case Tok::kBlockEnd:
                return "end of statement block";
            case Tok::kText:
                return "template text";
            case Tok::kString:
                return "string";
            default:
                return "'" + t.text + "'";
        }
    }
    std::string peek_tag_name() const {
        return look().type == Tok::kName ? look().text : describe(cur());
    }

    struct DepthGuard {
        explicit DepthGuard(Parser& p) : p_(p) {
            if (++p_.depth_ > p_.opt_.max_nesting) p_.fail("template nesting too deep");
        }
        ~DepthGuard() { --p_.depth_; }
        Parser& p_;
    };

    static ExprPtr make(ExprKind kind, int line) {
        auto e = std::make_unique<Expr>();
        e->kind = kind;
        e->line = line;
        return e;
    }

    // ---- statements ----
    bool at_end_tag(const std::vector<std::string>& ends) const {
        if (cur().type != Tok::kBlockBegin || look().type != Tok::kName) return false;
        return std::find(ends.begin(), ends.end(), look().text) != ends.end();
    }

    Body parse_body(const std::vector<std::string>& ends) {
        Body body;
        while (true) {
            const Token& t = cur();
            if (t.type == Tok::kEof) {
                if (!ends.empty())
                    fail("unexpected end of template, expected '" + ends.back() + "'");
                return body;
            }
            if (t.type == Tok::kText) {
                auto s = std::make_unique<Stmt>();
                s->kind = StmtKind::kText;
                s->line = t.line;
                s->text = t.text;
                body.push_back(std::move(s));
                next();
            } else if (t.type == Tok::kVarBegin) {
                auto s = std::make_unique<Stmt>();
                s->kind = StmtKind::kOutput;
                s->line = t.line;
                next();
                s->expr = parse_tuple(false, true, {}, false);
                expect(Tok::kVarEnd, "end of print statement");
                body.push_back(std::move(s));
            } else if (t.type == Tok::kBlockBegin) {
                if (at_end_tag(ends)) return body;
                body.push_back(parse_statement());
            } else {
                fail("unexpected " + describe(t));
            }
        }
    }

    // Consumes `{% name` of an end/middle tag the body stopped at; returns the name.
    std::string take_tag() {
        next();  // block begin
        return expect_name();
    }

    StmtPtr parse_statement() {
        DepthGuard guard(*this);
        next();  // block begin
        if (cur().type != Tok::kName) fail("tag name expected");
        const std::string name = cur().text;
        const int line = cur().line;
        next();
        auto s = std::make_unique<Stmt>();
        s->line = line;
        if (name == "if") {
            parse_if(*s);
        } else if (name == "for") {
            parse_for(*s);
        } else if (name == "set") {
            parse_set(*s);
        } else if (name == "macro") {
            parse_macro(*s);
        } else if (name == "call") {
            parse_call_block(*s);
        } else if (name == "filter") {
            s->kind = StmtKind::kFilterBlock;
            s->filter = parse_filter(nullptr, true);
            finish_block(*s, "endfilter");
        } else if (name == "with") {
            parse_with(*s);
        } else if (name == "break" || name == "continue") {
            if (loop_depth_ == 0) fail("'" + name + "' outside loop");
            s->kind = name == "break" ? StmtKind::kBreak : StmtKind::kContinue;
            expect(Tok::kBlockEnd, "end of statement block");
        } else if (name == "generation") {
            s->kind = StmtKind::kBlock;
            finish_block(*s, "endgeneration");
        } else if (name == "block") {
            s->kind = StmtKind::kBlock;
            s->text = expect_name();
            skip_name("scoped");
            finish_block(*s, "endblock");
        } else {
            fail("Encountered unknown tag '" + name + "'");
        }
        return s;
    }

    // `%}` body `{% end_name [anything] %}`
    void finish_block(Stmt& s, const char* end_name) {
        expect(Tok::kBlockEnd, "end of statement block");
        s.body = parse_body({end_name});
        take_tag();
        if (cur().type == Tok::kName) next();  // {% endblock name %}
        expect(Tok::kBlockEnd, "end of statement block");
    }

    void parse_if(Stmt& s) {
        s.kind = StmtKind::kIf;
        s.expr = parse_tuple(false, false, {}, false);
        expect(Tok::kBlockEnd, "end of statement block");
        s.body = parse_body({"elif", "else", "endif"});
        const int line = cur().line;
        const std::string tag = take_tag();
        if (tag == "elif") {
            auto nested = std::make_unique<Stmt>();
            nested->line = line;
            parse_if(*nested);  // consumes through endif
            s.else_body.push_back(std::move(nested));
            return;
        }
        if (tag == "else") {
            expect(Tok::kBlockEnd, "end of statement block");
            s.else_body = parse_body({"endif"});
            take_tag();
        }
        expect(Tok::kBlockEnd, "end of statement block");
    }

    void parse_for(Stmt& s) {
        s.kind = StmtKind::kFor;
        s.target = parse_assign_target({"in"}, false);
        if (!skip_name("in")) fail("expected 'in' in for loop");
        s.expr = parse_tuple(false, false, {"recursive"}, false);
        if (skip_name("if")) s.filter = parse_expression(true);
        s.recursive = skip_name("recursive");
        expect(Tok::kBlockEnd, "end of statement block");
        ++loop_depth_;
        s.body = parse_body({"endfor", "else"});
        --loop_depth_;
        if (take_tag() == "else") {
            expect(Tok::kBlockEnd, "end of statement block");
            s.else_body = parse_body({"endfor"});
            take_tag();
        }
        expect(Tok::kBlockEnd, "end of statement block");
    }

    void parse_set(Stmt& s) {
        s.target = parse_assign_target({}, true);
        if (skip_op("=")) {
            s.kind = StmtKind::kSet;
            s.expr = parse_tuple(false, true, {}, false);
            expect(Tok::kBlockEnd, "end of statement block");
            return;
        }
        s.kind = StmtKind::kSetBlock;
        if (is_op("|")) s.filter = parse_filter(nullptr, false);
        finish_block(s, "endset");
    }

    void parse_with(Stmt& s) {
        s.kind = StmtKind::kWith;
        while (cur().type != Tok::kBlockEnd) {
            if (!s.assignments.empty()) expect_op(",");
            Target t = parse_assign_target({}, false);
            expect_op("=");
            s.assignments.emplace_back(std::move(t), parse_expression(true));
        }
        finish_block(s, "endwith");
    }

    void parse_signature(std::vector<Param>& params) {
        expect_op("(");
        while (!is_op(")")) {
            if (!params.empty()) expect_op(",");
            if (is_op(")")) break;
            Param p;
            p.name = expect_name();
            if (skip_op("=")) {
                p.fallback = parse_expression(true);
            } else if (!params.empty() && params.back().fallback) {
                fail("non-default argument follows default argument");
            }
            params.push_back(std::move(p));
        }
        expect_op(")");
    }

    void parse_macro(Stmt& s) {
        s.kind = StmtKind::kMacro;
        s.text = expect_name();
        parse_signature(s.params);
        const int saved_loops = loop_depth_;
        loop_depth_ = 0;
        finish_block(s, "endmacro");
        loop_depth_ = saved_loops;
    }

    void parse_call_block(Stmt& s) {
        s.kind = StmtKind::kCallBlock;
        if (is_op("(")) parse_signature(s.params);
        s.expr = parse_expression(true);
        if (s.expr->kind != ExprKind::kCall) fail("expected call");
        const int saved_loops = loop_depth_;
        loop_depth_ = 0;
        finish_block(s, "endcall");
        loop_depth_ = saved_loops;
    }

    Target parse_assign_target(const std::vector<std::string>& extra_end, bool with_namespace) {
        Target t;
        if (with_namespace && cur().type == Tok::kName && look().type == Tok::kOp &&
            look().text == ".") {
            t.names.push_back(expect_name());
            next();
            t.attribute = expect_name();
            return t;
        }
        while (true) {
            if (!t.names.empty()) {
                if (!skip_op(",")) break;
                t.is_tuple = true;
                if (cur().type != Tok::kName || is_end_name(extra_end)) break;
            }
            if (skip_op("(")) {  // (a, b) grouping
                Target inner = parse_assign_target({}, false);
                expect_op(")");
                for (auto& n : inner.names) t.names.push_back(n);
                t.is_tuple = true;
                continue;
            }
            const std::string n = expect_name();
            if (n == "true" || n == "false" || n == "none" || n == "True" || n == "False" ||
                n == "None") {
                fail("can't assign to '" + n + "'");
            }
            t.names.push_back(n);
        }
        return t;
    }

    bool is_end_name(const std::vector<std::string>& extra_end) const {
        return cur().type == Tok::kName &&
               std::find(extra_end.begin(), extra_end.end(), cur().text) != extra_end.end();
    }

    // ---- expressions ----
    bool is_tuple_end(const std::vector<std::string>& extra_end) const {
        const Tok t = cur().type;
        if (t == Tok::kVarEnd || t == Tok::kBlockEnd || t == Tok::kEof || is_op(")")) return true;
        return is_end_name(extra_end);
    }

    ExprPtr parse_tuple(bool simplified, bool with_condexpr,
                        const std::vector<std::string>& extra_end, bool explicit_parens) {
        const int line = cur().line;
        std::vector<ExprPtr> items;
        bool is_tuple = false;
        while (true) {
            if (!items.empty()) expect_op(",");
            if (is_tuple_end(extra_end)) break;
            items.push_back(simplified ? parse_primary() : parse_expression(with_condexpr));
            if (is_op(",")) {
                is_tuple = true;
            } else {
                break;
            }
        }
        if (!is_tuple) {
            if (!items.empty()) return std::move(items[0]);
            if (!explicit_parens) fail("expected an expression, got " + describe(cur()));
        }
        auto e = make(ExprKind::kTuple, line);
        e->args = std::move(items);
        return e;
    }

    ExprPtr parse_expression(bool with_condexpr) {
        DepthGuard guard(*this);
        return with_condexpr ? parse_condexpr() : parse_or();
    }

    ExprPtr parse_condexpr() {
        ExprPtr expr = parse_or();
        while (is_name("if")) {
            const int line = cur().line;
            next();
            auto c = make(ExprKind::kCondition, line);
            c->args.push_back(parse_or());
            c->args.push_back(std::move(expr));
            c->args.push_back(skip_name("else") ? parse_condexpr() : nullptr);
            expr = std::move(c);
        }
        return expr;
    }

    ExprPtr binary(const std::string& op, ExprPtr left, ExprPtr right, int line) {
        auto e = make(ExprKind::kBinary, line);
        e->name = op;
        e->args.push_back(std::move(left));
        e->args.push_back(std::move(right));
        return e;
    }

    ExprPtr parse_or() {
        ExprPtr left = parse_and();
        while (is_name("or")) {
            const int line = cur().line;
            next();
            left = binary("or", std::move(left), parse_and(), line);
        }
        return left;
    }

    ExprPtr parse_and() {
        ExprPtr left = parse_not();
        while (is_name("and")) {
            const int line = cur().line;
            next();
            left = binary("and", std::move(left), parse_not(), line);
        }
        return left;
    }

    ExprPtr parse_not() {
        if (is_name("not")) {
            DepthGuard guard(*this);
            auto e = make(ExprKind::kUnary, cur().line);
            next();
            e->name = "not";
            e->args.push_back(parse_not());
            return e;
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        const int line = cur().line;
        ExprPtr first = parse_math1();
        ExprPtr cmp;
        while (true) {
            std::string op;
            if (cur().type == Tok::kOp &&
                (cur().text == "==" || cur().text == "!=" || cur().text == "<" ||
                 cur().text == "<=" || cur().text == ">" || cur().text == ">=")) {
                op = cur().text;
                next();
            } else if (is_name("in")) {
                op = "in";
                next();
            } else if (is_name("not") && look().type == Tok::kName && look().text == "in") {
                op = "notin";
                next();
                next();
            } else {
                break;
            }
            if (!cmp) {
                cmp = make(ExprKind::kCompare, line);
                cmp->args.push_back(std::move(first));
            }
            cmp->ops.push_back(op);
            cmp->args.push_back(parse_math1());
        }
        return cmp ? std::move(cmp) : std::move(first);
    }

    ExprPtr parse_math1() {
        ExprPtr left = parse_concat();
        while (is_op("+") || is_op("-")) {
            const std::string op = cur().text;
            const int line = cur().line;
            next();
            left = binary(op, std::move(left), parse_concat(), line);
        }
        return left;
    }

    ExprPtr parse_concat() {
        ExprPtr left = parse_math2();
        while (is_op("~")) {
            const int line = cur().line;
            next();
            left = binary("~", std::move(left), parse_math2(), line);
        }
        return left;
    }

    ExprPtr parse_math2() {
        ExprPtr left = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const std::string op = cur().text;
            const int line = cur().line;
            next();
            left = binary(op, std::move(left), parse_pow(), line);
        }
        return left;
    }

    ExprPtr parse_pow() {
        ExprPtr left = parse_unary(true);
        while (is_op("**")) {
            const int line = cur().line;
            next();
            left = binary("**", std::move(left), parse_unary(true), line);
        }
        return left;
    }

    ExprPtr parse_unary(bool with_filter) {
        DepthGuard guard(*this);
        ExprPtr node;
        if (is_op("-") || is_op("+")) {
            node = make(ExprKind::kUnary, cur().line);
            node->name = cur().text;
            next();
            node->args.push_back(parse_unary(false));
        } else {
            node = parse_primary();
        }
        node = parse_postfix(std::move(node));
        if (with_filter) node = parse_filter_expr(std::move(node));
        return node;
    }

    ExprPtr literal(Value v, int line) {
        auto e = make(ExprKind::kLiteral, line);
        e->literal = std::move(v);
        return e;
    }

    ExprPtr parse_primary() {
        DepthGuard guard(*this);
        const Token& t = cur();
        const int line = t.line;
        switch (t.type) {
            case Tok::kName: {
                const std::string n = t.text;
                next();
                if (n == "true" || n == "True") return literal(Value::boolean(true), line);
                if (n == "false" || n == "False") return literal(Value::boolean(false), line);
                if (n == "none" || n == "None") return literal(Value::none(), line);
                auto e = make(ExprKind::kName, line);
                e->name = n;
                return e;
            }
            case Tok::kString: {
                std::string s;
                while (cur().type == Tok::kString) {  // adjacent literals concatenate
                    s += cur().text;
                    next();
                }
                return literal(Value::string(std::move(s)), line);
            }
            case Tok::kInt: {
                const int64_t v = t.int_value;
                next();
                return literal(Value::integer(v), line);
            }
            case Tok::kFloat: {
                const double v = t.float_value;
                next();
                return literal(Value::number(v), line);
            }
            default:
                break;
        }
        if (skip_op("(")) {
            ExprPtr e = parse_tuple(false, true, {}, true);
            expect_op(")");
            return e;
        }
        if (is_op("[")) return parse_list();
        if (is_op("{")) return parse_dict();
        fail("unexpected " + describe(t));
    }

    ExprPtr parse_list() {
        auto e = make(ExprKind::kList, cur().line);
        expect_op("[");
        while (!is_op("]")) {
            if (!e->args.empty()) expect_op(",");
            if (is_op("]")) break;
            e->args.push_back(parse_expression(true));
        }
        expect_op("]");
        return e;
    }

    ExprPtr parse_dict() {
        auto e = make(ExprKind::kDict, cur().line);
        expect_op("{");
        while (!is_op("}")) {
            if (!e->args.empty()) expect_op(",");
            if (is_op("}")) break;
            e->args.push_back(parse_expression(true));
            expect_op(":");
            e->args.push_back(parse_expression(true));
        }
        expect_op("}");
        return e;
    }

    ExprPtr parse_postfix(ExprPtr node) {
        while (true) {
            if (is_op(".") || is_op("[")) {
                node = parse_subscript(std::move(node));
            } else if (is_op("(")) {
                node = parse_call(std::move(node));
            } else {
                return node;
            }
        }
    }

    ExprPtr parse_filter_expr(ExprPtr node) {
        while (true) {
            if (is_op("|")) {
                node = parse_filter(std::move(node), false);
            } else if (is_name("is")) {
                node = parse_test(std::move(node));
            } else if (is_op("(")) {
                node = parse_call(std::move(node));
            } else {
                return node;
            }
        }
    }

    ExprPtr parse_subscript(ExprPtr node) {
        DepthGuard guard(*this);
        const int line = cur().line;
        if (skip_op(".")) {
            if (cur().type == Tok::kName) {
                auto e = make(ExprKind::kGetAttr, line);
                e->name = cur().text;
                next();
                e->args.push_back(std::move(node));
                return e;
            }
            if (cur().type == Tok::kInt) {
                auto e = make(ExprKind::kGetItem, line);
                e->args.push_back(std::move(node));
                e->args.push_back(literal(Value::integer(cur().int_value), line));
                next();
                return e;
            }
            fail("expected name or number after '.'");
        }
        expect_op("[");
        std::vector<ExprPtr> subs;
        while (!is_op("]")) {
            if (!subs.empty()) expect_op(",");
            subs.push_back(parse_subscribed());
        }
        expect_op("]");
        if (subs.empty()) fail("expected a subscript");
        if (subs.size() == 1 && subs[0]->kind == ExprKind::kSlice) {
            subs[0]->args[0] = std::move(node);
            return std::move(subs[0]);
        }
        auto e = make(ExprKind::kGetItem, line);
        e->args.push_back(std::move(node));
        if (subs.size() == 1) {
            e->args.push_back(std::move(subs[0]));
        } else {
            auto t = make(ExprKind::kTuple, line);
            t->args = std::move(subs);
            e->args.push_back(std::move(t));
        }
        return e;
    }

    // One subscript: an expression or a slice `a:b:c` (a slice node with args[0] empty).
    ExprPtr parse_subscribed() {
        const int line = cur().line;
        ExprPtr start;
        if (!is_op(":")) {
            start = parse_expression(true);
            if (!is_op(":")) return start;
        }
        next();  // ':'
        auto e = make(ExprKind::kSlice, line);
        e->args.push_back(nullptr);
        e->args.push_back(std::move(start));
        e->args.push_back(is_op("]") || is_op(",") || is_op(":") ? nullptr
                                                                 : parse_expression(true));
        if (skip_op(":")) {
            e->args.push_back(is_op("]") || is_op(",") ? nullptr : parse_expression(true));
        } else {
            e->args.push_back(nullptr);
        }
        return e;
    }

    void parse_call_args(Expr& e) {
        expect_op("(");
        bool first = true;
        while (!is_op(")")) {
            if (!first) expect_op(",");
            first = false;
            if (is_op(")")) break;
            if (is_op("*") || is_op("**")) fail("*args and **kwargs calls are not supported");
            if (cur().type == Tok::kName && look().type == Tok::kOp && look().text == "=") {
                std::string key = cur().text;
                next();
                next();
                e.kwargs.emplace_back(std::move(key), parse_expression(true));
            } else {
                if (!e.kwargs.empty()) fail("positional argument follows keyword argument");
                e.args.push_back(parse_expression(true));
            }
        }
        expect_op(")");
    }

    ExprPtr parse_call(ExprPtr node) {
        DepthGuard guard(*this);
        auto e = make(ExprKind::kCall, cur().line);
        e->args.push_back(std::move(node));
        parse_call_args(*e);
        return e;
    }

    std::string parse_dotted_name() {
        std::string name = expect_name();
        while (skip_op(".")) name += "." + expect_name();
        return name;
    }

    ExprPtr parse_filter(ExprPtr node, bool start_inline) {
        DepthGuard guard(*this);
        while (is_op("|") || start_inline) {
            if (!start_inline) next();
            start_inline = false;
            auto e = make(ExprKind::kFilter, cur().line);
            e->name = parse_dotted_name();
            e->args.push_back(std::move(node));
            if (is_op("(")) parse_call_args(*e);
            node = std::move(e);
        }
        return node;
    }

    ExprPtr parse_test(ExprPtr node) {
        DepthGuard guard(*this);
        auto e = make(ExprKind::kTest, cur().line);
        next();  // 'is'
        e->negated = skip_name("not");
        e->name = parse_dotted_name();
        e->args.push_back(std::move(node));
        const Tok t = cur().type;
        if (is_op("(")) {
            parse_call_args(*e);
        } else if ((t == Tok::kName || t == Tok::kString || t == Tok::kInt || t == Tok::kFloat ||
                    is_op("[") || is_op("{")) &&
                   !is_name("else") && !is_name("or") && !is_name("and")) {
            if (is_name("is")) fail("You cannot chain multiple tests with is");
            e->args.push_back(parse_postfix(parse_primary()));
        }
        return e;
    }

    std::vector<Token> toks_;
    ParseOptions opt_;
    size_t i_ = 0;
    int depth_ = 0;
    int loop_depth_ = 0;
};

}  // namespace

Body parse_template(std::string_view source, const ParseOptions& options) {
    return Parser(tokenize(source, options.lex), options).run();
}

}  // namespace citadel::jinja
