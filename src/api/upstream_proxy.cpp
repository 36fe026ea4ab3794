// GCC 12 reports a false -Wmaybe-uninitialized inside Beast's parser (see
// gateway/classifier_call.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "api/upstream_proxy.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <optional>
#include <random>
#include <set>
#include <thread>

#include "api/upstream_call.h"
#include "core/log.h"

namespace citadel::api {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

bool valid_port(std::string_view text) {
    if (text.empty() || text.size() > 5) return false;
    int v = 0;
    for (char c : text) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + (c - '0');
    }
    return v > 0 && v <= 65535;
}

}  // namespace

Result<UpstreamEndpoint> parse_upstream_url(const std::string& url) {
    auto bad = [&](const std::string& why) {
        return Status::error("upstream url \"" + url + "\": " + why);
    };
    const bool tls = url.starts_with("https://");
    if (!tls && !url.starts_with("http://"))
        return bad("expected http[s]://host[:port][/base-path]");
    const std::string_view default_port = tls ? "443" : "80";
    for (unsigned char c : url) {
        if (c <= ' ' || c == 0x7f) return bad("contains spaces or control characters");
    }
    std::string rest = url.substr(tls ? 8 : 7);
    const size_t slash = std::min(rest.find('/'), rest.size());
    UpstreamEndpoint e;
    e.url = url;
    e.tls = tls;
    e.host_header = rest.substr(0, slash);
    e.base = rest.substr(slash);
    while (e.base.ends_with('/')) e.base.pop_back();
    if (e.base.ends_with("/v1"))
        e.base.resize(e.base.size() - 3);  // ".../v1" as OpenAI SDKs take it
    if (e.base.find_first_of("?#@") != std::string::npos ||
        e.host_header.find('@') != std::string::npos)
        return bad("no query, fragment or user@ allowed");
    const std::string& a = e.host_header;
    if (a.starts_with('[')) {
        const size_t close = a.find(']');
        if (close == std::string::npos) return bad("unclosed [ in the host");
        e.host = a.substr(1, close - 1);
        const std::string after = a.substr(close + 1);
        e.port = after.empty() ? std::string(default_port) : after.substr(1);
        if (!after.empty() && (after[0] != ':' || !valid_port(e.port))) return bad("bad port");
    } else {
        const size_t colon = a.find(':');
        e.host = a.substr(0, colon);
        e.port = colon == std::string::npos ? std::string(default_port) : a.substr(colon + 1);
        if (!valid_port(e.port)) return bad("bad port");
    }
    if (e.host.empty()) return bad("no host");
    return e;
}

Result<UpstreamSpec> parse_upstream_arg(const std::string& arg) {
    const size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
        return Status::error("--upstream '" + arg + "': expected NAME=URL[,URL...]");
    UpstreamSpec spec;
    spec.name = arg.substr(0, eq);
    std::string urls = arg.substr(eq + 1);
    size_t at = 0;
    while (at <= urls.size()) {
        const size_t comma = std::min(urls.find(',', at), urls.size());
        const std::string url = urls.substr(at, comma - at);
        if (url.empty()) return Status::error("--upstream '" + arg + "': an empty URL");
        spec.urls.push_back(url);
        at = comma + 1;
    }
    return spec;
}

// A health check: GET health_path on one endpoint, under one deadline.
class HealthProbe : public std::enable_shared_from_this<HealthProbe> {
  public:
    HealthProbe(UpstreamShared& shared, UpstreamEntry& entry, size_t index)
        : shared_(shared),
          entry_(entry),
          index_(index),
          stream_(shared.io),
          resolver_(shared.io),
          deadline_(shared.io) {}

    void start() {
        const UpstreamEndpoint& at = entry_.endpoints[index_];
        request_.method(http::verb::get);
        request_.target(at.base + shared_.health_path);
        request_.version(11);
        request_.set(http::field::host, at.host_header);
        if (!entry_.spec.api_key.empty())
            request_.set(http::field::authorization, "Bearer " + entry_.spec.api_key);
        request_.keep_alive(false);
        stream_.reset(at.tls ? shared_.tls.get() : nullptr);
        deadline_.expires_after(std::chrono::milliseconds(shared_.timeouts.connect_ms + 2000));
        deadline_.async_wait([self = shared_from_this()](const error_code& ec) {
            if (!ec) self->done(false, "no answer within the deadline");
        });
        resolver_.async_resolve(
            at.host, at.port, [self = shared_from_this()](const error_code& ec, auto eps) {
                if (ec) return self->done(false, "cannot resolve the host: " + ec.message());
                asio::async_connect(
                    self->stream_.socket(), eps, [self](const error_code& ec, const auto&) {
                        if (ec) return self->done(false, "cannot connect: " + ec.message());
                        self->handshake();
                    });
            });
    }

  private:
    void handshake() {
        const UpstreamEndpoint& at = entry_.endpoints[index_];
        stream_.handshake(at.host, [self = shared_from_this()](const error_code& ec) {
            if (ec) return self->done(false, "TLS handshake failed: " + ec.message());
            http::async_write(self->stream_, self->request_, [self](const error_code& ec, size_t) {
                if (ec) return self->done(false, "cannot send: " + ec.message());
                self->parser_.body_limit(64 * 1024);
                http::async_read(self->stream_, self->buffer_, self->parser_,
                                 [self](const error_code& ec, size_t) { self->on_answer(ec); });
            });
        });
    }

    void on_answer(const error_code& ec) {
        if (ec) return done(false, "cannot read the answer: " + ec.message());
        const unsigned status = parser_.get().result_int();
        done(status == 200,
             "GET " + shared_.health_path + " answered HTTP " + std::to_string(status));
    }

    void done(bool healthy, const std::string& why) {
        if (finished_) return;
        finished_ = true;
        deadline_.cancel();
        resolver_.cancel();
        stream_.close();
        const auto before = entry_.pool->snapshot()[index_].healthy;
        entry_.pool->set_health(index_, healthy, why);
        if (before != healthy) {
            CITADEL_LOG_INFO("upstream %s: %s is %s%s", entry_.spec.name.c_str(),
                             entry_.endpoints[index_].url.c_str(),
                             healthy ? "healthy again" : "unhealthy: ", healthy ? "" : why.c_str());
        }
    }

    UpstreamShared& shared_;
    UpstreamEntry& entry_;
    const size_t index_;
    UpstreamStream stream_;
    asio::ip::tcp::resolver resolver_;
    asio::steady_timer deadline_;
    http::request<http::empty_body> request_;
    boost::beast::flat_buffer buffer_;
    http::response_parser<http::string_body> parser_;
    bool finished_ = false;
};

UpstreamProxy::UpstreamProxy(RoutingConfig config) : config_(std::move(config)) {}

Result<std::unique_ptr<UpstreamProxy>> UpstreamProxy::create(
    RoutingConfig config, const std::vector<std::string>& local_models) {
    std::unique_ptr<UpstreamProxy> p(new UpstreamProxy(config));
    p->shared_ = std::make_shared<UpstreamShared>();
    UpstreamShared& s = *p->shared_;
    s.timeouts = config.timeouts;
    s.health_path = config.health_path;
    std::set<std::string> known(local_models.begin(), local_models.end());
    for (UpstreamSpec& spec : config.upstreams) {
        if (spec.urls.empty())
            return Status::error("upstream model '" + spec.name + "' has no URL");
        if (known.count(spec.name))
            return Status::error("model name '" + spec.name + "' is given twice");
        known.insert(spec.name);
        UpstreamEntry entry;
        for (const std::string& url : spec.urls) {
            Result<UpstreamEndpoint> e = parse_upstream_url(url);
            if (!e) return Status::error("upstream model '" + spec.name + "': " + e.error());
            entry.endpoints.push_back(std::move(*e));
        }
        if (spec.upstream_model.empty()) spec.upstream_model = spec.name;
        for (const UpstreamEndpoint& e : entry.endpoints) {
            if (!e.tls || s.tls) continue;
            Result<std::shared_ptr<asio::ssl::context>> tls = make_upstream_tls(config.ca_file);
            if (!tls) return tls.status();
            s.tls = std::move(*tls);
        }
        entry.pool = std::make_unique<ops::UpstreamPool>(spec.urls, config.pool, nullptr);
        entry.spec = spec;
        s.upstreams.emplace(spec.name, std::move(entry));
    }
    for (const RouteSpec& r : config.routes) {
        if (known.count(r.name)) return Status::error("model name '" + r.name + "' is given twice");
        double total = 0;
        for (const WeightedRoute& w : r.routes) {
            if (!known.count(w.model))
                return Status::error("routed model '" + r.name + "': route to '" + w.model +
                                     "', which is no configured model (local or upstream)");
            if (!(w.weight >= 0))
                return Status::error("routed model '" + r.name + "': a negative weight");
            total += w.weight;
        }
        if (!(total > 0))
            return Status::error("routed model '" + r.name + "': the weights add up to 0");
        s.routes.emplace(r.name, r);
    }
    for (const RouteSpec& r : config.routes) known.insert(r.name);
    p->start();
    return p;
}

void UpstreamProxy::start() {
    UpstreamShared& s = *shared_;
    s.work.emplace(asio::make_work_guard(s.io));
    s.thread = std::thread([&s] { s.io.run(); });
    if (!s.upstreams.empty()) asio::post(s.io, [this] { schedule_health_checks(); });
}

void UpstreamProxy::schedule_health_checks() {
    UpstreamShared& s = *shared_;
    if (s.stopping) return;
    for (auto& [name, entry] : s.upstreams) {
        for (size_t i = 0; i < entry.endpoints.size(); ++i)
            std::make_shared<HealthProbe>(s, entry, i)->start();
    }
    s.health_timer.expires_after(std::chrono::milliseconds(config_.health_interval_ms));
    s.health_timer.async_wait([this](const error_code& ec) {
        if (!ec) schedule_health_checks();
    });
}

UpstreamProxy::~UpstreamProxy() {
    UpstreamShared& s = *shared_;
    asio::post(s.io, [&s] {
        s.stopping = true;
        s.health_timer.cancel();
        auto active = s.active;
        for (const auto& [id, weak] : active) {
            if (auto call = weak.lock()) call->abort("the server is shutting down");
        }
        s.work.reset();
        s.io.stop();
    });
    if (s.thread.joinable()) s.thread.join();
}

bool UpstreamProxy::is_upstream(const std::string& name) const {
    return shared_->upstreams.count(name) > 0;
}

bool UpstreamProxy::is_routed(const std::string& name) const {
    return shared_->routes.count(name) > 0;
}

std::string UpstreamProxy::route(const std::string& name, double random) const {
    auto it = shared_->routes.find(name);
    if (it == shared_->routes.end()) return name;
    const std::vector<WeightedRoute>& routes = it->second.routes;
    double total = 0;
    for (const WeightedRoute& w : routes) total += w.weight;
    double at = random * total;
    for (const WeightedRoute& w : routes) {
        if (at < w.weight) return w.model;
        at -= w.weight;
    }
    for (auto r = routes.rbegin(); r != routes.rend(); ++r) {
        if (r->weight > 0) return r->model;
    }
    return routes.back().model;
}

std::string UpstreamProxy::upstream_model(const std::string& name) const {
    auto it = shared_->upstreams.find(name);
    return it == shared_->upstreams.end() ? name : it->second.spec.upstream_model;
}

std::vector<std::string> UpstreamProxy::names() const {
    std::vector<std::string> out;
    for (const auto& [name, entry] : shared_->upstreams) out.push_back(name);
    for (const auto& [name, route] : shared_->routes) out.push_back(name);
    return out;
}

const ops::UpstreamPool* UpstreamProxy::pool(const std::string& name) const {
    auto it = shared_->upstreams.find(name);
    return it == shared_->upstreams.end() ? nullptr : it->second.pool.get();
}

void UpstreamProxy::forward(const std::string& name, ProxiedRequest request, Scope scope,
                            std::shared_ptr<server::Responder> res) {
    UpstreamEntry& entry = shared_->upstreams.at(name);
    auto call =
        std::make_shared<UpstreamCall>(*shared_, entry, std::move(request), std::move(scope), res);
    std::weak_ptr<UpstreamCall> weak = call;
    UpstreamShared* shared = shared_.get();
    res->on_disconnect([weak, shared] {
        asio::post(shared->io, [weak] {
            if (auto c = weak.lock()) c->cancel();
        });
    });
    asio::post(shared_->io, [call] { call->start(); });
}

}  // namespace citadel::api
