// The Grafana dashboard: one panel per question an operator asks (load, speed, latency,
// caches, errors, denials, resources), filtered by instance and model. The tests check that
// every metric it queries is one `citadel serve` exports.
#include "deploy/targets.h"

namespace citadel::deploy {
namespace {

struct Query {
    const char* expr;  // "#SEL#": the instance and model filter, "#INST#": instance only
    const char* legend;
};

struct Panel {
    const char* title;
    const char* unit;
    std::vector<Query> queries;
};

std::string quantile(const char* q, const char* histogram) {
    return std::string("histogram_quantile(") + q + ", sum by (le, model_name) (rate(" + histogram +
           "_bucket{#SEL#}[5m])))";
}

std::vector<Panel> panels() {
    static const std::string ttft50 = quantile("0.5", "citadel:time_to_first_token_seconds"),
                             ttft99 = quantile("0.99", "citadel:time_to_first_token_seconds"),
                             itl50 = quantile("0.5", "citadel:inter_token_latency_seconds"),
                             itl99 = quantile("0.99", "citadel:inter_token_latency_seconds"),
                             e2e50 = quantile("0.5", "citadel:e2e_request_latency_seconds"),
                             e2e99 = quantile("0.99", "citadel:e2e_request_latency_seconds"),
                             queue = quantile("0.99", "citadel:request_queue_time_seconds"),
                             prefill = quantile("0.99", "citadel:request_prefill_time_seconds"),
                             decode = quantile("0.99", "citadel:request_decode_time_seconds");
    return {
        {"Requests running / waiting",
         "short",
         {{"sum by (model_name) (citadel:num_requests_running{#SEL#})", "running {{model_name}}"},
          {"sum by (model_name) (citadel:num_requests_waiting{#SEL#})", "waiting {{model_name}}"}}},
        {"Tokens per second",
         "short",
         {{"sum by (model_name) (rate(citadel:generation_tokens_total{#SEL#}[1m]))",
           "generated {{model_name}}"},
          {"sum by (model_name) (rate(citadel:prompt_tokens_total{#SEL#}[1m]))",
           "prompt {{model_name}}"}}},
        {"Time to first token",
         "s",
         {{ttft50.c_str(), "p50 {{model_name}}"}, {ttft99.c_str(), "p99 {{model_name}}"}}},
        {"Inter-token latency",
         "s",
         {{itl50.c_str(), "p50 {{model_name}}"}, {itl99.c_str(), "p99 {{model_name}}"}}},
        {"End-to-end latency",
         "s",
         {{e2e50.c_str(), "p50 {{model_name}}"}, {e2e99.c_str(), "p99 {{model_name}}"}}},
        {"Queue, prefill and decode time (p99)",
         "s",
         {{queue.c_str(), "queue {{model_name}}"},
          {prefill.c_str(), "prefill {{model_name}}"},
          {decode.c_str(), "decode {{model_name}}"}}},
        {"KV cache usage",
         "percentunit",
         {{"max by (model_name) (citadel:kv_cache_usage_perc{#SEL#})", "{{model_name}}"}}},
        {"Prefix cache hit rate",
         "percentunit",
         {{"sum by (model_name) (rate(citadel:prefix_cache_hits_total{#SEL#}[5m])) / sum by "
           "(model_name) (rate(citadel:prefix_cache_queries_total{#SEL#}[5m]))",
           "{{model_name}}"}}},
        {"HTTP answers by status",
         "reqps",
         {{"sum by (status) (rate(citadel:http_requests_total{#INST#}[1m]))", "{{status}}"}}},
        {"Gateway denials by reason",
         "reqps",
         {{"sum by (reason) (rate(citadel:gateway_denied_total{#INST#}[5m]))", "{{reason}}"}}},
        {"Finished requests by reason",
         "reqps",
         {{"sum by (finished_reason) (rate(citadel:request_success_total{#SEL#}[5m]))",
           "{{finished_reason}}"}}},
        {"Process memory and CPU",
         "short",
         {{"process_resident_memory_bytes{#INST#}", "RSS {{instance}}"},
          {"rate(process_cpu_seconds_total{#INST#}[1m])", "CPU cores {{instance}}"}}},
    };
}

std::string expand(std::string expr) {
    const std::pair<std::string, std::string> vars[] = {
        {"#SEL#", "instance=~\"$instance\", model_name=~\"$model\""},
        {"#INST#", "instance=~\"$instance\""}};
    for (const auto& [from, to] : vars) {
        for (size_t at = expr.find(from); at != std::string::npos;
             at = expr.find(from, at + to.size())) {
            expr.replace(at, from.size(), to);
        }
    }
    return expr;
}

const Json kDatasource = {{"type", "prometheus"}, {"uid", "${datasource}"}};

Json panel_json(const Panel& p, int index) {
    Json targets = Json::array();
    for (size_t i = 0; i < p.queries.size(); ++i) {
        targets.push_back({{"refId", std::string(1, char('A' + i))},
                           {"expr", expand(p.queries[i].expr)},
                           {"legendFormat", p.queries[i].legend}});
    }
    return {{"type", "timeseries"},
            {"title", p.title},
            {"datasource", kDatasource},
            {"gridPos", {{"x", (index % 2) * 12}, {"y", (index / 2) * 8}, {"w", 12}, {"h", 8}}},
            {"fieldConfig", {{"defaults", {{"unit", p.unit}}}, {"overrides", Json::array()}}},
            {"targets", targets}};
}

Json label_variable(const char* name, const char* label) {
    return {{"name", name},
            {"type", "query"},
            {"datasource", kDatasource},
            {"query", std::string("label_values(citadel:num_requests_running, ") + label + ")"},
            {"includeAll", true},
            {"multi", true},
            {"current", {{"text", "All"}, {"value", "$__all"}}},
            {"refresh", 2}};
}

Json dashboard(const DeploySpec& spec) {
    Json list = Json::array();
    const std::vector<Panel> all = panels();
    for (size_t i = 0; i < all.size(); ++i) list.push_back(panel_json(all[i], int(i)));
    Json variables = Json::array({{{"name", "datasource"},
                                   {"type", "datasource"},
                                   {"query", "prometheus"},
                                   {"label", "Data source"}},
                                  label_variable("instance", "instance"),
                                  label_variable("model", "model_name")});
    return {{"title", "Citadel (" + spec.name + ")"},
            {"uid", spec.name + "-overview"},
            {"description", "Generated by citadel deploy: " + spec.command},
            {"schemaVersion", 38},
            {"version", 1},
            {"editable", true},
            {"time", {{"from", "now-1h"}, {"to", "now"}}},
            {"refresh", "30s"},
            {"tags", Json::array({"citadel", "llm"})},
            {"templating", {{"list", variables}}},
            {"panels", list}};
}

}  // namespace

std::vector<GeneratedFile> grafana_files(const DeploySpec& spec) {
    return {{"grafana/citadel-dashboard.json", dashboard(spec).dump(2) + "\n"}};
}

}  // namespace citadel::deploy
