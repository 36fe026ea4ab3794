// Prometheus alert rules (checked by `promtool check rules` in the tests) and the
// prometheus-adapter rule that publishes citadel:num_requests_waiting to the Kubernetes
// custom metrics API as citadel_num_requests_waiting: metric names there cannot hold ':'.
#include "deploy/targets.h"

namespace citadel::deploy {
namespace {

struct AlertRule {
    const char* name;
    const char* expr;  // "$job" is replaced by the scrape job's name
    const char* for_duration;
    const char* severity;
    const char* summary;
    const char* description;
};

// Thresholds are the ones operators start from; tune `for:` and the limits to your service
// levels. Metric names follow vLLM's (prefix `citadel:`), label `model_name` where it applies.
constexpr AlertRule kRules[] = {
    {"CitadelDown", "up{job=\"$job\"} == 0", "2m", "critical",
     "Citadel {{ $labels.instance }} is not answering scrapes",
     "Prometheus could not scrape {{ $labels.instance }} for 2 minutes."},
    {"CitadelNotReady", "citadel:ready == 0", "5m", "critical",
     "Citadel {{ $labels.instance }} is not ready",
     "GET /ready has been failing for 5 minutes (a model failed to load or is still loading)."},
    {"CitadelHighErrorRate",
     "sum by (instance) (rate(citadel:http_requests_total{status=~\"5..\"}[5m]))\n"
     "  / sum by (instance) (rate(citadel:http_requests_total[5m])) > 0.01\n",
     "5m", "warning", "More than 1% of requests to {{ $labels.instance }} fail",
     "5xx answers are {{ $value | humanizePercentage }} of all requests over 5 minutes."},
    {"CitadelHighP99Latency",
     "histogram_quantile(0.99,\n"
     "  sum by (le, model_name) (rate(citadel:e2e_request_latency_seconds_bucket[5m]))) > 30\n",
     "10m", "warning", "P99 request latency of {{ $labels.model_name }} above 30 s",
     "P99 end-to-end latency is {{ $value | humanizeDuration }}."},
    {"CitadelHighP99TimeToFirstToken",
     "histogram_quantile(0.99,\n"
     "  sum by (le, model_name) (rate(citadel:time_to_first_token_seconds_bucket[5m]))) > 5\n",
     "10m", "warning", "P99 time to first token of {{ $labels.model_name }} above 5 s",
     "P99 TTFT is {{ $value | humanizeDuration }}: the model is overloaded or prompts are long."},
    {"CitadelKvCacheNearlyFull",
     "max by (instance, model_name) (citadel:kv_cache_usage_perc) > 0.9", "10m", "warning",
     "KV cache of {{ $labels.model_name }} above 90%",
     "KV usage is {{ $value | humanizePercentage }}; requests will queue or be preempted. Add KV "
     "memory (--kv-mem) or replicas."},
    {"CitadelRequestsQueueing", "max by (instance, model_name) (citadel:num_requests_waiting) > 32",
     "10m", "warning", "{{ $value }} requests waiting for {{ $labels.model_name }}",
     "Requests wait for the engine for 10 minutes or more: scale out."},
    {"CitadelManyDenials", "sum by (instance, reason) (rate(citadel:gateway_denied_total[5m])) > 1",
     "15m", "info", "The gateway denies more than 1 request/s ({{ $labels.reason }})",
     "A client may be misconfigured, or someone is probing credentials."},
};

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

Json alert_rules(const DeploySpec& spec) {
    Json rules = Json::array();
    for (const AlertRule& r : kRules) {
        rules.push_back(
            {{"alert", r.name},
             {"expr", replace_all(r.expr, "$job", spec.name)},
             {"for", r.for_duration},
             {"labels", {{"severity", r.severity}}},
             {"annotations", {{"summary", r.summary}, {"description", r.description}}}});
    }
    return {{"groups", Json::array({{{"name", spec.name + ".rules"}, {"rules", rules}}})}};
}

// Values for the prometheus-adapter Helm chart (prometheus-community/prometheus-adapter).
Json adapter_values() {
    Json rule = {{"seriesQuery", "citadel:num_requests_waiting{namespace!=\"\",pod!=\"\"}"},
                 {"resources",
                  {{"overrides",
                    {{"namespace", {{"resource", "namespace"}}}, {"pod", {{"resource", "pod"}}}}}}},
                 {"name", {{"matches", "^citadel:(.*)$"}, {"as", "citadel_${1}"}}},
                 {"metricsQuery", "sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)"}};
    return {{"rules", {{"default", false}, {"custom", Json::array({rule})}}}};
}

}  // namespace

std::vector<GeneratedFile> prometheus_files(const DeploySpec& spec) {
    const std::string header = generated_header(spec, "# ");
    return {{"prometheus/citadel-alerts.yml",
             header +
                 "# Alert rules; `promtool check rules` runs on this file in the tests. The job\n"
                 "# label of the scrape job is '" +
                 spec.name + "'.\n" + to_yaml(alert_rules(spec))},
            {"prometheus/adapter-values.yaml",
             header +
                 "# prometheus-adapter values: the HorizontalPodAutoscaler scales on\n"
                 "# citadel_num_requests_waiting, which this rule makes of\n"
                 "# citadel:num_requests_waiting (':' is not allowed in custom metric names).\n"
                 "#   helm install prometheus-adapter prometheus-community/prometheus-adapter \\\n"
                 "#     -f prometheus/adapter-values.yaml\n" +
                 to_yaml(adapter_values())}};
}

}  // namespace citadel::deploy
