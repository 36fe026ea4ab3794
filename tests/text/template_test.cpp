// Unit tests of the Jinja2 interpreter: lexer, parser, rendering, Python-style values,
// whitespace control, sandbox rules, errors with line numbers and resource limits.
#include <gtest/gtest.h>

#include <string>

#include "text/template/chat_template.h"
#include "text/template/lexer.h"
#include "text/template/pystr.h"
#include "text/template/template.h"

namespace citadel::jinja {
namespace {

using nlohmann::ordered_json;

Result<std::string> try_render(const std::string& source,
                               const ordered_json& ctx = ordered_json::object(),
                               RenderOptions options = {}) {
    Result<Template> t = Template::parse(source);
    if (!t) return t.status();
    return t->render_json(ctx, options);
}

std::string render(const std::string& source, const ordered_json& ctx = ordered_json::object()) {
    Result<std::string> r = try_render(source, ctx);
    EXPECT_TRUE(r.ok()) << source << " -> " << r.error();
    return r.ok() ? *r : "<error>";
}

std::string error_of(const std::string& source, const ordered_json& ctx = ordered_json::object(),
                     RenderOptions options = {}) {
    Result<std::string> r = try_render(source, ctx, options);
    EXPECT_FALSE(r.ok()) << source << " rendered " << (r.ok() ? *r : "");
    return r.ok() ? "" : r.error();
}

TEST(JinjaLexer, SplitsTextTagsAndExpressions) {
    const std::vector<Token> toks = tokenize("a{{ x.y + 1.5 }}b{% if 'q' %}");
    std::vector<Tok> types;
    for (const Token& t : toks) types.push_back(t.type);
    const std::vector<Tok> want = {Tok::kText,     Tok::kVarBegin,   Tok::kName,  Tok::kOp,
                                   Tok::kName,     Tok::kOp,         Tok::kFloat, Tok::kVarEnd,
                                   Tok::kText,     Tok::kBlockBegin, Tok::kName,  Tok::kString,
                                   Tok::kBlockEnd, Tok::kEof};
    EXPECT_EQ(types, want);
    EXPECT_EQ(toks[6].float_value, 1.5);
    EXPECT_EQ(toks[11].text, "q");
}

TEST(JinjaLexer, DecodesStringEscapesAndCountsLines) {
    const std::vector<Token> toks = tokenize("\n\n{{ 'a\\n\\t\\u00e9\\x41' }}");
    ASSERT_GE(toks.size(), 3u);
    EXPECT_EQ(toks[2].text,
              "a\n\t\xc3\xa9"
              "A");
    EXPECT_EQ(toks[2].line, 3);
}

TEST(JinjaParser, ReportsSyntaxErrorsWithLine) {
    EXPECT_NE(error_of("line1\n{% if x %}\nno end").find("line 3"), std::string::npos);
    EXPECT_NE(error_of("{{ 1 + }}").find("line 1"), std::string::npos);
    EXPECT_NE(error_of("a\n{% frobnicate %}").find("unknown tag 'frobnicate'"), std::string::npos);
    EXPECT_NE(error_of("{% break %}").find("outside loop"), std::string::npos);
    EXPECT_NE(error_of("{% if false %}{{ x|nosuchfilter }}{% endif %}").find("No filter named"),
              std::string::npos);
    EXPECT_NE(error_of("{{ 'unterminated }}").find("string"), std::string::npos);
}

TEST(JinjaRender, PrintsValuesAsPython) {
    EXPECT_EQ(render("{{ true }} {{ none }} {{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e-5 }} {{ 1e16 }}"),
              "True None 1.0 0.30000000000000004 1e-05 1e+16");
    EXPECT_EQ(render("{{ [1, 'a', none] }} {{ {'k': 'v'} }} {{ (1,) }} {{ \"it's\" }}"),
              "[1, 'a', None] {'k': 'v'} (1,) it's");
    EXPECT_EQ(render("{{ ['it\\'s'] }}"), "[\"it's\"]");
    EXPECT_EQ(render("{{ x }}|{{ x is defined }}"), "|False");
}

TEST(JinjaRender, ArithmeticFollowsPython) {
    EXPECT_EQ(
        render("{{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}"),
        "3.5 3 -4 2 1024 0.5");
    EXPECT_EQ(render("{{ 'ab' * 2 }} {{ [1] + [2] }} {{ 'a' ~ 1 ~ none }}"), "abab [1, 2] a1None");
    EXPECT_EQ(render("{{ 1 < 2 < 3 }} {{ 1 == 1.0 }} {{ 'b' in 'abc' }} {{ 2 not in [1] }}"),
              "True True True True");
    EXPECT_NE(error_of("{{ 1 / 0 }}").find("ZeroDivisionError"), std::string::npos);
    EXPECT_NE(error_of("{{ 'a' + 1 }}").find("TypeError"), std::string::npos);
}

TEST(JinjaRender, LoopsExposeLoopVariable) {
    EXPECT_EQ(render("{% for x in [5,6,7] %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}"
                     "{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}"),
              "103TrueFalse3;212FalseFalse3;321FalseTrue3;");
    EXPECT_EQ(render("{% for x in [1,2,3] %}{{ loop.previtem }}-{{ loop.nextitem }}"
                     "{{ loop.cycle('a','b') }} {% endfor %}"),
              "-2a 1-3b 2-a ");
    EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
                     {{"d", {{"b", 1}, {"a", 2}}}}),
              "b=1;a=2;");
    EXPECT_EQ(render("{% for x in [1,2,3,4] if x is even %}{{ x }}{{ loop.index }}{% endfor %}"),
              "2142");
    EXPECT_EQ(render("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
    EXPECT_EQ(render("{% for x in [1,2,3] %}{% if x == 2 %}{% continue %}{% endif %}"
                     "{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
              "1");
}

TEST(JinjaRender, ScopesNamespacesAndBlockSet) {
    EXPECT_EQ(render("{% set c = 1 %}{% for x in [1] %}{% set c = 5 %}{% endfor %}{{ c }}"), "1");
    EXPECT_EQ(render("{% set ns = namespace(c=1) %}{% for x in [2,3] %}{% set ns.c = ns.c * x %}"
                     "{% endfor %}{{ ns.c }}"),
              "6");
    EXPECT_EQ(render("{% set b %}x{{ 1 + 1 }}{% endset %}[{{ b }}]"), "[x2]");
    EXPECT_EQ(render("{% set a, b = [1, 2] %}{{ b }}{{ a }}"), "21");
    EXPECT_NE(error_of("{% set d = {} %}{% set d.x = 1 %}").find("non-namespace"),
              std::string::npos);
}

TEST(JinjaRender, MacrosCallAndFilterBlocks) {
    EXPECT_EQ(render("{% macro m(a, b=2) %}{{ a }}{{ b }}{{ varargs }}{% endmacro %}"
                     "{{ m(1) }}|{{ m(1, b=3) }}|{{ m(1, 2, 3) }}"),
              "12()|13()|12(3,)");
    EXPECT_EQ(render("{% macro w(x) %}[{{ caller(x * 2) }}]{% endmacro %}"
                     "{% call(v) w(2) %}v={{ v }}{% endcall %}"),
              "[v=4]");
    EXPECT_EQ(render("{% filter upper %}abc{% endfilter %}"), "ABC");
    EXPECT_EQ(render("{% generation %}gen{% endgeneration %}"), "gen");
    EXPECT_EQ(render("{% raw %}{{ x }}{% endraw %}"), "{{ x }}");
}

TEST(JinjaWhitespace, TrimAndLstripBlocks) {
    // trim_blocks eats the newline after a block tag; lstrip_blocks the indent before it.
    EXPECT_EQ(render("{% for x in [1,2] %}\n  {{ x }}\n{% endfor %}\n"), "  1\n  2\n");
    EXPECT_EQ(render("<a>\n  {% if true %}\n  <b>\n  {% endif %}\n</a>"), "<a>\n  <b>\n</a>");
    EXPECT_EQ(render("a  {%- if true -%}  b  {%- endif %}  c"), "ab  c");
    EXPECT_EQ(render("a  {{- 'x' -}}  b"), "axb");
    EXPECT_EQ(render("  {%+ if true %}x{% endif %}"), "  x");
    EXPECT_EQ(render("{% if true +%}\nx{% endif %}"), "\nx");
    EXPECT_EQ(render("a\n  {# note #}\nb"), "a\nb");
    EXPECT_EQ(render("x {{ 1 }}  \n  y"), "x 1  \n  y");
    EXPECT_EQ(render("one\r\ntwo\n"), "one\ntwo");  // newlines normalized, one trailing dropped
}

TEST(JinjaFilters, CommonFilters) {
    EXPECT_EQ(
        render("{{ '  x '|trim }}|{{ [3,1,2]|sort }}|{{ [1,2]|join('-') }}|{{ 'ab'|length }}"),
        "x|[1, 2, 3]|1-2|2");
    EXPECT_EQ(render("{{ x|default('d') }}{{ ''|default('e', true) }}{{ 'hello world'|title }}"),
              "deHello World");
    EXPECT_EQ(render("{{ m|selectattr('role', 'equalto', 'user')|map(attribute='c')|list }}",
                     {{"m", {{{"role", "user"}, {"c", 1}}, {{"role", "bot"}, {"c", 2}}}}}),
              "[1]");
    EXPECT_EQ(
        render("{{ 'a\nb'|indent(2) }}|{{ [1,1,2]|unique|list }}|{{ {'b':1,'a':2}|dictsort }}"),
        "a\n  b|[1, 2]|[('a', 2), ('b', 1)]");
    EXPECT_EQ(render("{{ '42'|int + 1 }} {{ 2.5|round }} {{ 2.567|round(2) }} {{ -3|abs }}"),
              "43 2.0 2.57 3");
}

TEST(JinjaFilters, ToJsonMatchesPythonJsonDumps) {
    const ordered_json ctx = {{"d", {{"b", 1}, {"a", {1.5, nullptr, true, "é\n"}}}}};
    EXPECT_EQ(render("{{ d|tojson }}", ctx), "{\"b\": 1, \"a\": [1.5, null, true, \"é\\n\"]}");
    EXPECT_EQ(render("{{ d|tojson(indent=2) }}", ctx),
              "{\n  \"b\": 1,\n  \"a\": [\n    1.5,\n    null,\n    true,\n    \"é\\n\"\n  ]\n}");
    EXPECT_EQ(render("{{ d|tojson(sort_keys=true, separators=(',', ':')) }}", ctx),
              "{\"a\":[1.5,null,true,\"é\\n\"],\"b\":1}");
    EXPECT_EQ(render("{{ 'é'|tojson(ensure_ascii=true) }}"), "\"\\u00e9\"");
    EXPECT_NE(error_of("{{ x|tojson }}").find("not JSON serializable"), std::string::npos);
}

TEST(JinjaMethods, StringAndDictMethods) {
    EXPECT_EQ(render("{{ 'a,b,c'.split(',', 1) }} {{ ' a b '.split() }} {{ 'xxyxx'.strip('x') }}"),
              "['a', 'b,c'] ['a', 'b'] y");
    EXPECT_EQ(render("{{ 'abc'.startswith(('x', 'a')) }} {{ 'hello'.rfind('l') }} {{ "
                     "'{}-{}'.format(1, 'b') }}"),
              "True 3 1-b");
    EXPECT_EQ(
        render("{{ d.get('a') }} {{ d.get('z', 0) }} {{ d.keys()|list }}", {{"d", {{"a", 1}}}}),
        "1 0 ['a']");
    EXPECT_EQ(render("{{ 'héllo'[1:3] }} {{ 'abc'[::-1] }} {{ [1,2,3][-2:] }}"), "él cba [2, 3]");
}

TEST(JinjaTests, IsTests) {
    EXPECT_EQ(render("{{ 1 is integer }}{{ 1.0 is float }}{{ 'a' is string }}{{ {} is mapping }}"
                     "{{ [] is iterable }}{{ none is none }}{{ 3 is odd }}{{ 9 is divisibleby 3 }}"
                     "{{ x is undefined }}{{ 'a' is not upper }}{{ true is boolean }}"),
              "TrueTrueTrueTrueTrueTrueTrueTrueTrueTrueTrue");
}

TEST(JinjaSandbox, UndefinedAndMutationRaise) {
    EXPECT_NE(error_of("{{ x.y }}").find("'x' is undefined"), std::string::npos);
    EXPECT_NE(error_of("{{ d.a.b }}", {{"d", ordered_json::object()}}).find("has no attribute 'a'"),
              std::string::npos);
    EXPECT_NE(error_of("{% set l = [] %}{{ l.append(1) }}").find("SecurityError"),
              std::string::npos);
    EXPECT_NE(error_of("{{ d.update({}) }}", {{"d", ordered_json::object()}}).find("SecurityError"),
              std::string::npos);
    EXPECT_NE(error_of("{{ raise_exception('nope') }}").find("nope"), std::string::npos);
    EXPECT_EQ(render("{{ none.x }}|{{ [1][5] }}|{{ d.missing }}", {{"d", ordered_json::object()}}),
              "||");
}

TEST(JinjaErrors, RuntimeErrorsCarryTheLine) {
    const std::string e = error_of("a\nb\n{{ 'x' + 1 }}");
    EXPECT_NE(e.find("line 3"), std::string::npos) << e;
    const std::string e2 =
        error_of("{% for m in [1] %}\n\n{{ raise_exception('bad') }}{% endfor %}");
    EXPECT_NE(e2.find("line 3"), std::string::npos) << e2;
}

TEST(JinjaLimits, HostileTemplatesFailCleanly) {
    RenderOptions small;
    small.limits.max_loop_iterations = 10'000;
    EXPECT_NE(error_of("{% for i in range(100) %}{% for j in range(100) %}{% for k in range(100) %}"
                       "{% endfor %}{% endfor %}{% endfor %}",
                       ordered_json::object(), small)
                  .find("loop"),
              std::string::npos);
    EXPECT_NE(error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("Recursion"),
              std::string::npos);
    // Exponential fan-out: bounded by the evaluation budget, not by time.
    RenderOptions budget;
    budget.limits.max_steps = 200'000;
    EXPECT_FALSE(try_render("{% macro f(n) %}{% if n < 40 %}{{ f(n+1) }}{{ f(n+1) }}{% endif %}"
                            "{% endmacro %}{{ f(0) }}",
                            ordered_json::object(), budget)
                     .ok());
    RenderOptions out_limit;
    out_limit.limits.max_output_bytes = 1000;
    EXPECT_NE(error_of("{% for i in range(1000) %}xxxxxxxxxx{% endfor %}", ordered_json::object(),
                       out_limit)
                  .find("exceeds"),
              std::string::npos);
    EXPECT_FALSE(try_render("{{ 'x' * 100000000000 }}").ok());
    std::string deep(5000, '(');
    EXPECT_NE(error_of("{{ " + deep + "1" + std::string(5000, ')') + " }}").find("nesting"),
              std::string::npos);
    std::string nested_ifs;
    for (int i = 0; i < 1000; ++i) nested_ifs += "{% if true %}";
    EXPECT_FALSE(try_render(nested_ifs).ok());
    EXPECT_FALSE(try_render("{% set ns = namespace() %}{% set ns.x = ns %}{{ ns }}").ok());
}

TEST(JinjaPyStr, FloatRepr) {
    EXPECT_EQ(py_repr_float(1.0), "1.0");
    EXPECT_EQ(py_repr_float(0.1), "0.1");
    EXPECT_EQ(py_repr_float(1e-05), "1e-05");
    EXPECT_EQ(py_repr_float(0.0001), "0.0001");
    EXPECT_EQ(py_repr_float(123456789.125), "123456789.125");
    EXPECT_EQ(py_repr_float(1e22), "1e+22");
    EXPECT_EQ(py_repr_float(-2.5e-10), "-2.5e-10");
}

TEST(TemplateChat, FillsSpecialTokensAndPinsTime) {
    ChatTemplateOptions options;
    options.bos_token = "<s>";
    Result<std::tm> now = parse_datetime("2026-11-21 09:30:00");
    ASSERT_TRUE(now.ok());
    options.now = *now;
    auto t = ChatTemplate::create(
        "{{ bos_token }}{{ strftime_now('%d %b %Y %H:%M') }}{{ eos_token }}", options);
    ASSERT_TRUE(t.ok()) << t.error();
    EXPECT_EQ(*t->apply(ordered_json::object()), "<s>21 Nov 2026 09:30");
    EXPECT_EQ(*t->apply({{"bos_token", "B"}, {"eos_token", "E"}}), "B21 Nov 2026 09:30E");
    EXPECT_FALSE(parse_datetime("yesterday").ok());
}

TEST(TemplateChat, ChatMLFallbackRenders) {
    auto t = ChatTemplate::create(chatml_template());
    ASSERT_TRUE(t.ok());
    const ordered_json ctx = {{"messages", {{{"role", "user"}, {"content", "hi"}}}},
                              {"add_generation_prompt", true}};
    EXPECT_EQ(*t->apply(ctx), "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

}  // namespace
}  // namespace citadel::jinja
