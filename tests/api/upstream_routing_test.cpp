// Upstream routing configuration: --upstream arguments, upstream URLs, route validation and
// the weighted pick, and the YAML `models:` entries for upstream and routed models.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "api/model_settings.h"
#include "api/upstream_call.h"
#include "api/upstream_proxy.h"
#include "cli/serve_config.h"

namespace citadel::api {
namespace {

TEST(UpstreamConfig, ParsesTheUpstreamFlag) {
    Result<UpstreamSpec> s = parse_upstream_arg("big=http://10.0.0.5:8000,http://10.0.0.6:8000/v1");
    ASSERT_TRUE(s.ok()) << s.error();
    EXPECT_EQ(s->name, "big");
    EXPECT_EQ(s->urls,
              (std::vector<std::string>{"http://10.0.0.5:8000", "http://10.0.0.6:8000/v1"}));
    for (const char* bad : {"big", "=http://x", "big=", "big=http://a,,http://b"}) {
        Result<UpstreamSpec> r = parse_upstream_arg(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.error().find(bad), std::string::npos) << r.error();
    }
}

TEST(UpstreamConfig, ParsesUrls) {
    Result<UpstreamEndpoint> e = parse_upstream_url("http://10.0.0.5:8000/v1/");
    ASSERT_TRUE(e.ok()) << e.error();
    EXPECT_EQ(e->host, "10.0.0.5");
    EXPECT_EQ(e->port, "8000");
    EXPECT_EQ(e->base, "");  // "/v1" is added per route
    e = parse_upstream_url("http://[::1]:9000/prefix");
    ASSERT_TRUE(e.ok()) << e.error();
    EXPECT_EQ(e->host, "::1");
    EXPECT_EQ(e->base, "/prefix");
    EXPECT_EQ(parse_upstream_url("http://example.com")->port, "80");
    EXPECT_FALSE(parse_upstream_url("http://example.com")->tls);
    e = parse_upstream_url("https://vllm.internal/v1");
    ASSERT_TRUE(e.ok()) << e.error();
    EXPECT_TRUE(e->tls);
    EXPECT_EQ(e->port, "443");
    EXPECT_EQ(e->host, "vllm.internal");
    EXPECT_EQ(parse_upstream_url("https://[::1]:8443")->port, "8443");
    for (const char* bad :
         {"ftp://a:1", "a:1", "https://", "http://:80", "http://a:99999", "http://a b"}) {
        Result<UpstreamEndpoint> r = parse_upstream_url(bad);
        ASSERT_FALSE(r.ok()) << bad;
        EXPECT_NE(r.error().find("upstream url"), std::string::npos) << r.error();
    }
}

RoutingConfig canary(double w1, double w2) {
    RoutingConfig c;
    c.health_interval_ms = 60000;
    UpstreamSpec up;
    up.name = "v2";
    up.urls = {"http://127.0.0.1:9"};
    c.upstreams.push_back(up);
    RouteSpec r;
    r.name = "qwen";
    r.routes = {{.model = "v1", .weight = w1}, {.model = "v2", .weight = w2}};
    c.routes.push_back(r);
    return c;
}

TEST(UpstreamConfig, RoutesPickByWeight) {
    auto p = UpstreamProxy::create(canary(95, 5), {"v1"});
    ASSERT_TRUE(p.ok()) << p.error();
    UpstreamProxy& proxy = **p;
    EXPECT_TRUE(proxy.is_routed("qwen"));
    EXPECT_TRUE(proxy.is_upstream("v2"));
    EXPECT_FALSE(proxy.is_upstream("v1"));
    EXPECT_EQ(proxy.route("qwen", 0.0), "v1");
    EXPECT_EQ(proxy.route("qwen", 0.9499), "v1");
    EXPECT_EQ(proxy.route("qwen", 0.95), "v2");
    EXPECT_EQ(proxy.route("qwen", 0.99999), "v2");
    EXPECT_EQ(proxy.route("v1", 0.5), "v1");  // not routed: itself
    EXPECT_EQ(proxy.upstream_model("v2"), "v2");
    EXPECT_EQ(proxy.names(), (std::vector<std::string>{"v2", "qwen"}));
}

TEST(UpstreamConfig, RejectsBadRoutes) {
    auto unknown = UpstreamProxy::create(canary(95, 5), {});
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.error().find("route to 'v1'"), std::string::npos) << unknown.error();
    auto zero = UpstreamProxy::create(canary(0, 0), {"v1"});
    ASSERT_FALSE(zero.ok());
    EXPECT_NE(zero.error().find("add up to 0"), std::string::npos) << zero.error();
    auto twice = UpstreamProxy::create(canary(1, 1), {"v1", "v2"});
    ASSERT_FALSE(twice.ok());
    EXPECT_NE(twice.error().find("'v2' is given twice"), std::string::npos) << twice.error();
}

struct YamlFile {
    std::string path = (std::filesystem::temp_directory_path() /
                        ("citadel-routing-" + std::to_string(::getpid()) + ".yaml"))
                           .string();
    explicit YamlFile(const std::string& text) { std::ofstream(path) << text; }
    ~YamlFile() { std::filesystem::remove(path); }
};

TEST(UpstreamConfig, YamlModelsDeclareUpstreamsAndRoutes) {
    YamlFile f(
        "models:\n"
        "  local: /m/q.gguf\n"
        "  big: {upstreams: [http://10.0.0.5:8000, http://10.0.0.6:8000], upstream-model: "
        "Qwen/Qwen2.5-72B}\n"
        "  qwen:\n"
        "    routes:\n"
        "      - {model: local, weight: 95}\n"
        "      - {model: big, weight: 5}\n");
    CLI::App app;
    std::vector<ops::ModelSpec> models;
    RoutingConfig routing;
    Status s = cli::apply_yaml_config(app, f.path, models, routing);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(models.size(), 1u);
    ASSERT_EQ(routing.upstreams.size(), 1u);
    EXPECT_EQ(routing.upstreams[0].name, "big");
    EXPECT_EQ(routing.upstreams[0].urls.size(), 2u);
    EXPECT_EQ(routing.upstreams[0].upstream_model, "Qwen/Qwen2.5-72B");
    ASSERT_EQ(routing.routes.size(), 1u);
    EXPECT_EQ(routing.routes[0].routes[1].model, "big");
    EXPECT_EQ(routing.routes[0].routes[1].weight, 5);
}

TEST(UpstreamConfig, YamlErrorsNameFileLineAndKey) {
    const std::pair<const char*, const char*> cases[] = {
        {"models:\n  q:\n    routes:\n      - {model: a, weight: lots}\n",
         ":4: models.q.routes.weight"},
        {"models:\n  q: {upstreams: [http://a:1], path: /x.gguf}\n",
         ":2: models.q needs exactly one"},
        {"models:\n  q:\n    upstream: http://a:1\n", ":3: unknown key 'models.q.upstream'"},
        {"models:\n  q: {routes: [{model: a}]}\n",
         ":2: each of 'models.q.routes' needs model and weight"},
    };
    for (const auto& [text, expected] : cases) {
        YamlFile f(text);
        CLI::App app;
        std::vector<ops::ModelSpec> models;
        RoutingConfig routing;
        Status s = cli::apply_yaml_config(app, f.path, models, routing);
        ASSERT_FALSE(s.ok()) << text;
        EXPECT_NE(s.message().find(f.path + expected), std::string::npos) << s.message();
    }
}

TEST(UpstreamConfig, YamlModelSettingsAndUpstreamKeys) {
    ::setenv("CITADEL_TEST_KEY_ENV", "sk-upstream", 1);
    YamlFile f(
        "models:\n"
        "  local:\n"
        "    path: /m/q.gguf\n"
        "    ctx: 4096\n"
        "    kv-mem: 256MiB\n"
        "    max-seqs: 8\n"
        "    aliases: [gpt-4o-mini, small]\n"
        "    sampling: {temperature: 0.7, top_p: 0.8, stop: [END], max_tokens: 64}\n"
        "  big: {upstreams: [https://vllm:8000], api-key-env: CITADEL_TEST_KEY_ENV}\n"
        "  other: {upstreams: [http://a:1], api-key: literal-key, aliases: o}\n");
    CLI::App app;
    std::vector<ops::ModelSpec> models;
    RoutingConfig routing;
    std::vector<ModelSettings> settings;
    Status s = cli::apply_yaml_config(app, f.path, models, routing, &settings);
    ASSERT_TRUE(s.ok()) << s.message();
    ASSERT_EQ(models.size(), 1u);
    EXPECT_EQ(models[0].n_ctx, 4096);
    EXPECT_EQ(models[0].kv_mem_bytes, size_t(256) << 20);
    EXPECT_EQ(models[0].max_seqs, 8);
    ASSERT_EQ(routing.upstreams.size(), 2u);
    EXPECT_EQ(routing.upstreams[0].api_key, "sk-upstream");
    EXPECT_EQ(routing.upstreams[1].api_key, "literal-key");
    ASSERT_EQ(settings.size(), 2u);
    EXPECT_EQ(settings[0].aliases, (std::vector<std::string>{"gpt-4o-mini", "small"}));
    EXPECT_EQ(settings[0].sampling.dump(),
              R"({"temperature":0.7,"top_p":0.8,"stop":["END"],"max_tokens":64})");
    EXPECT_EQ(settings[1].aliases, (std::vector<std::string>{"o"}));

    EngineOptions server;
    server.n_ctx = 1024;
    server.kv_mem_bytes = 1 << 30;
    const EngineOptions o = ops::engine_options_for(models[0], server);
    EXPECT_EQ(o.n_ctx, 4096);
    EXPECT_EQ(o.kv_mem_bytes, size_t(256) << 20);
    EXPECT_EQ(o.max_seqs, 8);
}

TEST(UpstreamConfig, YamlModelSettingErrors) {
    const std::pair<const char*, const char*> cases[] = {
        {"models:\n  q: {path: /x.gguf, sampling: {temprature: 1}}\n",
         "unknown sampling default 'temprature'"},
        {"models:\n  q: {path: /x.gguf, sampling: {top_p: 3}}\n", "top_p"},
        {"models:\n  q: {path: /x.gguf, ctx: 0}\n", "ctx must be a whole number"},
        {"models:\n  q: {path: /x.gguf, kv-mem: much}\n", "models.q.kv-mem"},
        {"models:\n  q: {upstreams: [http://a:1], ctx: 10}\n", "are for local models"},
        {"models:\n  q: {upstreams: [http://a:1], api-key-env: CITADEL_NO_SUCH_VAR}\n",
         "CITADEL_NO_SUCH_VAR is not set"},
        {"models:\n  q: {path: /x.gguf, sha256: abc}\n", "sha256 and s3-endpoint go with url"},
        {"models:\n  q: {url: hf://a/b/c.gguf, upstreams: [http://a:1]}\n",
         "needs exactly one of path (or url)"},
    };
    for (const auto& [text, expected] : cases) {
        YamlFile f(text);
        CLI::App app;
        std::vector<ops::ModelSpec> models;
        RoutingConfig routing;
        std::vector<ModelSettings> settings;
        Status s = cli::apply_yaml_config(app, f.path, models, routing, &settings);
        ASSERT_FALSE(s.ok()) << text;
        EXPECT_NE(s.message().find(expected), std::string::npos) << s.message();
    }
}

TEST(ModelSettings, AliasesResolveAndDefaultsFillGaps) {
    ModelSettings m{.name = "qwen", .aliases = {"gpt-4o"}};
    m.sampling = {{"temperature", 0.2}, {"max_tokens", 16}, {"repetition_penalty", 1.1}};
    Result<ModelSettingsTable> t = ModelSettingsTable::create({m}, {"qwen", "other"});
    ASSERT_TRUE(t.ok()) << t.error();
    EXPECT_EQ(t->resolve("gpt-4o"), "qwen");
    EXPECT_EQ(t->resolve("other"), "other");
    using J = nlohmann::ordered_json;
    J out = J::parse(t->apply(R"({"model":"gpt-4o","temperature":1.5})", false, true));
    EXPECT_EQ(out["model"], "qwen");
    EXPECT_EQ(out["temperature"], 1.5);  // the request's own value wins
    EXPECT_EQ(out["max_tokens"], 16);
    out = J::parse(t->apply(R"({"model":"qwen","options":{"num_predict":3}})", true, true));
    EXPECT_EQ(out["options"]["num_predict"], 3);
    EXPECT_EQ(out["options"]["repeat_penalty"], 1.1);  // Ollama's name
    EXPECT_EQ(out["options"]["temperature"], 0.2);
    out = J::parse(t->apply(R"({"model":"gpt-4o","prompt":"x"})", false, false));
    EXPECT_EQ(out.dump(), R"({"model":"qwen","prompt":"x"})");  // tokenize: alias only
    // Bodies the request's parser must judge pass through unchanged.
    for (const char* body : {"not json", R"({"model": 5})", "[1]", R"({"model":"other"})"})
        EXPECT_EQ(t->apply(body, false, true), body);
}

TEST(ModelSettings, RefusesClashingAliases) {
    ModelSettings a{.name = "a", .aliases = {"x"}};
    ModelSettings b{.name = "b", .aliases = {"x"}};
    EXPECT_NE(ModelSettingsTable::create({a, b}, {"a", "b"}).error().find("given twice"),
              std::string::npos);
    ModelSettings c{.name = "a", .aliases = {"b"}};
    EXPECT_NE(ModelSettingsTable::create({c}, {"a", "b"}).error().find("configured model"),
              std::string::npos);
}

}  // namespace
}  // namespace citadel::api
