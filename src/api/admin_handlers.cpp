// Administration routes (admin role): API keys (/admin/keys) and usage (/admin/usage), over
// the gateway's key store.
#include <ctime>
#include <nlohmann/json.hpp>

#include "api/respond.h"
#include "api/service.h"
#include "gateway/clock.h"
#include "gateway/key_store.h"

namespace citadel::api {
namespace {

using nlohmann::ordered_json;
using server::Request;

ordered_json unix_or_null(int64_t t) {
    return t == 0 ? ordered_json(nullptr) : ordered_json(t);
}

ordered_json key_json(const gateway::KeyRecord& k) {
    return {{"object", "api_key"},
            {"id", k.id},
            {"name", k.name},
            {"role", gateway::role_name(k.role)},
            {"models", k.models},
            {"rpm", k.limits.rpm},
            {"tpm", k.limits.tpm},
            {"max_concurrent", k.limits.max_concurrent},
            {"daily_tokens", k.limits.daily_tokens},
            {"created_at", k.created_unix},
            {"expires_at", unix_or_null(k.expires_unix)},
            {"revoked_at", unix_or_null(k.revoked_unix)}};
}

std::string dump(const ordered_json& j) {
    return j.dump(-1, ' ', false, ordered_json::error_handler_t::replace);
}

ApiError no_key_store() {
    return {.status = 404,
            .message = "This server has no key store (start it with --keys-db FILE).",
            .type = "not_found_error",
            .code = "no_key_store"};
}

int64_t non_negative(const ordered_json& body, const char* field, std::optional<ApiError>& err) {
    const auto it = body.find(field);
    if (it == body.end() || it->is_null()) return 0;
    if (!it->is_number_integer() || it->get<int64_t>() < 0) {
        err = invalid_param(field, "must be a non-negative integer");
        return 0;
    }
    return it->get<int64_t>();
}

// The body of POST /admin/keys as a NewKey, or the error naming the bad field.
std::variant<gateway::NewKey, ApiError> parse_new_key(const std::string& text) {
    const ordered_json body = ordered_json::parse(text, nullptr, false);
    if (!body.is_object()) return invalid_request("the body must be a JSON object");
    static const char* kFields[] = {"name", "role",           "models",       "rpm",
                                    "tpm",  "max_concurrent", "daily_tokens", "expires"};
    for (const auto& item : body.items()) {
        const std::string& k = item.key();  // not a structured binding: clang 14 cannot capture one
        if (std::find_if(std::begin(kFields), std::end(kFields),
                         [&](const char* f) { return k == f; }) == std::end(kFields))
            return invalid_param(k, "unknown field");
    }
    gateway::NewKey key;
    if (!body.contains("name") || !body["name"].is_string())
        return invalid_param("name", "is required and must be a string");
    key.name = body["name"].get<std::string>();
    if (body.contains("role")) {
        auto role = body["role"].is_string() ? gateway::parse_role(body["role"].get<std::string>())
                                             : std::nullopt;
        if (!role) return invalid_param("role", "must be one of admin, user, viewer");
        key.role = *role;
    }
    if (body.contains("models")) {
        if (!body["models"].is_array()) return invalid_param("models", "must be a list of names");
        for (const auto& m : body["models"]) {
            if (!m.is_string()) return invalid_param("models", "must be a list of names");
            key.models.push_back(m.get<std::string>());
        }
    }
    std::optional<ApiError> err;
    key.limits.rpm = non_negative(body, "rpm", err);
    key.limits.tpm = non_negative(body, "tpm", err);
    key.limits.max_concurrent = non_negative(body, "max_concurrent", err);
    key.limits.daily_tokens = non_negative(body, "daily_tokens", err);
    if (err) return *err;
    if (body.contains("expires")) {
        if (!body["expires"].is_string()) return invalid_param("expires", "must be like \"90d\"");
        Result<int64_t> s = gateway::parse_duration(body["expires"].get<std::string>());
        if (!s) return invalid_param("expires", s.error());
        key.expires_in_s = *s;
    }
    return key;
}

// "from=2026-11-01&to=2026-11-21" -> the value of `name`, or "".
std::string query_value(const std::string& query, const std::string& name) {
    size_t pos = 0;
    while (pos <= query.size()) {
        size_t amp = query.find('&', pos);
        if (amp == std::string::npos) amp = query.size();
        const std::string_view part(query.data() + pos, amp - pos);
        if (part.starts_with(name + "=")) return std::string(part.substr(name.size() + 1));
        pos = amp + 1;
    }
    return {};
}

bool is_day(const std::string& s) {
    if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
    for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
        if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    }
    return true;
}

ApiError store_error(const std::string& message) {
    const bool missing = message.starts_with("no key");
    const bool conflict = message.find("already") != std::string::npos;
    return {.status = missing    ? 404
                      : conflict ? 409
                                 : 400,
            .message = message,
            .type = missing ? "not_found_error" : "invalid_request_error"};
}

}  // namespace

void Service::admin_list_keys(const Request&, const Res& res, const Scope&) {
    gateway::KeyStore* keys = gateway_.keys();
    if (!keys) return send_error(*res, no_key_store());
    auto list = keys->list();
    if (!list) return send_error(*res, server_error(list.error()));
    ordered_json data = ordered_json::array();
    for (const auto& k : *list) data.push_back(key_json(k));
    send_json(*res, 200, dump({{"object", "list"}, {"data", std::move(data)}}));
}

void Service::admin_create_key(const Request& req, const Res& res, const Scope&) {
    gateway::KeyStore* keys = gateway_.keys();
    if (!keys) return send_error(*res, no_key_store());
    auto parsed = parse_new_key(req.body);
    if (auto* err = std::get_if<ApiError>(&parsed)) return send_error(*res, *err);
    auto made = keys->create(std::get<gateway::NewKey>(parsed), int64_t(std::time(nullptr)));
    if (!made) return send_error(*res, store_error(made.error()));
    ordered_json out = key_json(made->first);
    out["key"] = made->second;  // shown this once
    send_json(*res, 201, dump(out));
}

// DELETE /admin/keys/{id or name}: revoke. POST /admin/keys/{id or name}/rotate: new secret.
void Service::admin_key_action(const Request& req, const Res& res, const Scope&) {
    gateway::KeyStore* keys = gateway_.keys();
    if (!keys) return send_error(*res, no_key_store());
    std::string rest = req.path.substr(std::string_view("/admin/keys/").size());
    const int64_t now = int64_t(std::time(nullptr));
    if (req.method == "DELETE" && rest.find('/') == std::string::npos) {
        auto k = keys->revoke(rest, now);
        if (!k) return send_error(*res, store_error(k.error()));
        return send_json(*res, 200, dump(key_json(*k)));
    }
    const std::string suffix = "/rotate";
    if (req.method == "POST" && rest.size() > suffix.size() && rest.ends_with(suffix)) {
        auto k = keys->rotate(rest.substr(0, rest.size() - suffix.size()), now);
        if (!k) return send_error(*res, store_error(k.error()));
        ordered_json out = key_json(k->first);
        out["key"] = k->second;
        return send_json(*res, 200, dump(out));
    }
    send_error(*res, not_found("unknown route: " + req.method + " " + req.path));
}

void Service::admin_usage(const Request& req, const Res& res, const Scope&) {
    gateway::KeyStore* keys = gateway_.keys();
    if (!keys) return send_error(*res, no_key_store());
    const std::string today = gateway::format_utc(int64_t(std::time(nullptr)), "%Y-%m-%d");
    std::string from = query_value(req.query, "from"), to = query_value(req.query, "to");
    if (from.empty()) from = today;
    if (to.empty()) to = today;
    if (!is_day(from)) return send_error(*res, invalid_param("from", "must be YYYY-MM-DD"));
    if (!is_day(to)) return send_error(*res, invalid_param("to", "must be YYYY-MM-DD"));
    auto rows = keys->usage(from, to);
    if (!rows) return send_error(*res, server_error(rows.error()));
    ordered_json data = ordered_json::array();
    for (const auto& r : *rows) {
        data.push_back({{"key_id", r.key_id},
                        {"name", r.name},
                        {"day", r.day},
                        {"requests", r.requests},
                        {"prompt_tokens", r.prompt_tokens},
                        {"completion_tokens", r.completion_tokens}});
    }
    send_json(*res, 200,
              dump({{"object", "list"}, {"from", from}, {"to", to}, {"data", std::move(data)}}));
}

// POST /admin/models/{id}/load (starts loading, 202) and /admin/models/{id}/unload (200, or
// 409 while the model serves requests).
void Service::admin_model_action(const Request& req, const Res& res, const Scope&) {
    const std::string rest = req.path.substr(std::string_view("/admin/models/").size());
    const size_t slash = rest.rfind('/');
    const std::string name = slash == std::string::npos ? "" : rest.substr(0, slash);
    const std::string action = slash == std::string::npos ? "" : rest.substr(slash + 1);
    if (name.empty() || (action != "load" && action != "unload"))
        return send_error(*res, not_found("unknown route: POST " + req.path));
    if (!models_.find(name))
        return send_error(*res,
                          not_found("The model '" + name + "' does not exist", "model_not_found"));
    Status s = action == "load" ? models_.load(name) : models_.unload(name);
    if (!s.ok()) return send_error(*res, {.status = 409, .message = s.message()});
    const auto e = models_.find(name);
    send_json(*res, action == "load" ? 202 : 200,
              dump({{"id", name},
                    {"state", ops::model_state_name(e ? e->state : ops::ModelState::kUnloaded)}}));
}

}  // namespace citadel::api
