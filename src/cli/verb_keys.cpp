// citadel keys create|list|revoke|rotate: API keys in the server's key store (SQLite). A
// running server sees changes within about a second. The key itself is printed once, by
// create and rotate; only a salted hash is stored.
#include <ctime>
#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "cli/verbs.h"
#include "gateway/clock.h"
#include "gateway/key_store.h"

namespace citadel::cli {
namespace {

struct KeysArgs {
    std::string db = "citadel-data/keys.db";
    std::string name;
    std::string role = "user";
    std::vector<std::string> models;
    int64_t rpm = 0, tpm = 0, max_concurrent = 0, daily_tokens = 0;
    std::string expires;
    std::string target;  // revoke / rotate: id or name
    bool json = false;
};

int64_t now() {
    return int64_t(std::time(nullptr));
}

std::string when(int64_t t) {
    return t == 0 ? "-" : gateway::format_utc(t, "%Y-%m-%d %H:%M");
}

std::string limits_text(const gateway::KeyLimits& l) {
    std::string out;
    auto add = [&](const char* name, int64_t v) {
        if (v) out += (out.empty() ? "" : " ") + std::string(name) + "=" + std::to_string(v);
    };
    add("rpm", l.rpm);
    add("tpm", l.tpm);
    add("concurrent", l.max_concurrent);
    add("daily", l.daily_tokens);
    return out.empty() ? "-" : out;
}

std::string models_text(const std::vector<std::string>& m) {
    std::string out;
    for (const auto& s : m) out += (out.empty() ? "" : ",") + s;
    return out.empty() ? "*" : out;
}

Result<std::unique_ptr<gateway::KeyStore>> open_store(const KeysArgs& a) {
    auto store = gateway::KeyStore::open(a.db);
    if (!store) return Status::error(a.db + ": " + store.error());
    return store;
}

void print_key(const gateway::KeyRecord& k, const std::string& secret) {
    std::printf("%s\n", secret.c_str());
    std::fprintf(stderr,
                 "citadel: key '%s' (id %s, role %s, models %s, limits %s, expires %s) — "
                 "shown once, store it now\n",
                 k.name.c_str(), k.id.c_str(), gateway::role_name(k.role),
                 models_text(k.models).c_str(), limits_text(k.limits).c_str(),
                 when(k.expires_unix).c_str());
}

int create(const KeysArgs& a) {
    auto store = open_store(a);
    if (!store) return fail(store.error());
    gateway::NewKey k;
    k.name = a.name;
    auto role = gateway::parse_role(a.role);
    if (!role) return fail("--role '" + a.role + "' is not one of admin, user, viewer");
    k.role = *role;
    k.models = a.models;
    k.limits = {.rpm = a.rpm,
                .tpm = a.tpm,
                .max_concurrent = a.max_concurrent,
                .daily_tokens = a.daily_tokens};
    if (!a.expires.empty()) {
        Result<int64_t> s = gateway::parse_duration(a.expires);
        if (!s) return fail("--expires: " + s.error());
        k.expires_in_s = *s;
    }
    auto made = (*store)->create(k, now());
    if (!made) return fail(made.error());
    print_key(made->first, made->second);
    return 0;
}

int list(const KeysArgs& a) {
    auto store = open_store(a);
    if (!store) return fail(store.error());
    auto keys = (*store)->list();
    if (!keys) return fail(keys.error());
    if (a.json) {
        nlohmann::ordered_json out = nlohmann::ordered_json::array();
        for (const auto& k : *keys) {
            out.push_back({{"id", k.id},
                           {"name", k.name},
                           {"role", gateway::role_name(k.role)},
                           {"models", k.models},
                           {"rpm", k.limits.rpm},
                           {"tpm", k.limits.tpm},
                           {"max_concurrent", k.limits.max_concurrent},
                           {"daily_tokens", k.limits.daily_tokens},
                           {"created", k.created_unix},
                           {"expires", k.expires_unix},
                           {"revoked", k.revoked_unix}});
        }
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    std::printf("%-12s  %-20s  %-6s  %-16s  %-24s  %-16s  %s\n", "ID", "NAME", "ROLE", "MODELS",
                "LIMITS", "EXPIRES", "STATE");
    for (const auto& k : *keys) {
        const char* state = k.revoked_unix                                ? "revoked"
                            : (k.expires_unix && k.expires_unix <= now()) ? "expired"
                                                                          : "active";
        std::printf("%-12s  %-20s  %-6s  %-16s  %-24s  %-16s  %s\n", k.id.c_str(), k.name.c_str(),
                    gateway::role_name(k.role), models_text(k.models).c_str(),
                    limits_text(k.limits).c_str(), when(k.expires_unix).c_str(), state);
    }
    return 0;
}

int revoke(const KeysArgs& a) {
    auto store = open_store(a);
    if (!store) return fail(store.error());
    auto k = (*store)->revoke(a.target, now());
    if (!k) return fail(k.error());
    std::fprintf(stderr, "citadel: key '%s' (id %s) revoked\n", k->name.c_str(), k->id.c_str());
    return 0;
}

int rotate(const KeysArgs& a) {
    auto store = open_store(a);
    if (!store) return fail(store.error());
    auto k = (*store)->rotate(a.target, now());
    if (!k) return fail(k.error());
    print_key(k->first, k->second);
    return 0;
}

}  // namespace

VerbRunner add_keys(CLI::App& app) {
    auto a = std::make_shared<KeysArgs>();
    CLI::App* keys = app.add_subcommand("keys", "Manage API keys (create, list, revoke, rotate)");
    keys->require_subcommand(1);
    keys->add_option("--db", a->db, "Key store file")->default_str(a->db);
    CLI::App* c = keys->add_subcommand("create", "Create a key and print it (once)");
    c->add_option("--name", a->name, "Unique name, e.g. svc-billing")->required();
    c->add_option("--role", a->role, "admin, user or viewer")->default_str("user");
    c->add_option("--models", a->models, "Allowed models (globs, comma separated; default all)")
        ->delimiter(',');
    c->add_option("--rpm", a->rpm, "Requests per minute (0: unlimited)")
        ->check(CLI::NonNegativeNumber);
    c->add_option("--tpm", a->tpm, "Tokens per minute (0: unlimited)")
        ->check(CLI::NonNegativeNumber);
    c->add_option("--max-concurrent", a->max_concurrent, "Requests in flight (0: unlimited)")
        ->check(CLI::NonNegativeNumber);
    c->add_option("--daily-tokens", a->daily_tokens, "Tokens per UTC day (0: unlimited)")
        ->check(CLI::NonNegativeNumber);
    c->add_option("--expires", a->expires, "Lifetime: 90d, 12h, 30m");
    CLI::App* l = keys->add_subcommand("list", "List keys (never their secrets)");
    l->add_flag("--json", a->json, "JSON output");
    CLI::App* r = keys->add_subcommand("revoke", "Revoke a key (by id or name)");
    r->add_option("key", a->target, "Key id or name")->required();
    CLI::App* o =
        keys->add_subcommand("rotate", "Give a key a new secret; the old one stops working");
    o->add_option("key", a->target, "Key id or name")->required();
    for (CLI::App* sub : {c, l, r, o}) sub->add_option("--db", a->db, "Key store file");
    return [a, c, l, r, o] {
        if (c->parsed()) return create(*a);
        if (l->parsed()) return list(*a);
        if (r->parsed()) return revoke(*a);
        return rotate(*a);
    };
}

}  // namespace citadel::cli
