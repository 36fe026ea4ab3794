#include "gateway/redis_client.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/time.h>

#include <cctype>
#include <optional>

namespace citadel::gateway {
namespace {

constexpr std::string_view kScheme = "redis://";

std::optional<int> parse_int(std::string_view text, int max_value) {
    if (text.empty() || text.size() > 9) return std::nullopt;
    int value = 0;
    for (char c : text) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
        value = value * 10 + (c - '0');
    }
    if (value > max_value) return std::nullopt;
    return value;
}

std::optional<std::string> percent_decode(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        if (i + 2 >= text.size() || !std::isxdigit(static_cast<unsigned char>(text[i + 1])) ||
            !std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
            return std::nullopt;
        }
        out += char(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
        i += 2;
    }
    return out;
}

// The URL as it may appear in a message: the password replaced by "***".
std::string masked(std::string_view url) {
    const size_t start = url.find("://");
    const size_t at = url.rfind('@');
    if (start == std::string_view::npos || at == std::string_view::npos || at < start) {
        return std::string(url);
    }
    const size_t colon = url.find(':', start + 3);
    if (colon == std::string_view::npos || colon > at) return std::string(url);
    return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

Status url_error(std::string_view url, const std::string& why) {
    return Status::error("invalid Redis URL '" + masked(url) + "': " + why);
}

Status parse_userinfo(std::string_view url, std::string_view userinfo, RedisUrl& out) {
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
        return url_error(url, "put the password after a colon: redis://:password@host");
    }
    auto user = percent_decode(userinfo.substr(0, colon));
    auto password = percent_decode(userinfo.substr(colon + 1));
    if (!user || !password) return url_error(url, "bad %-escape in the user or password");
    out.username = *user;
    out.password = *password;
    return ok_status();
}

Status parse_host_port(std::string_view url, std::string_view hostport, RedisUrl& out) {
    std::string_view port_text;
    if (!hostport.empty() && hostport.front() == '[') {  // [IPv6]:port
        const size_t close = hostport.find(']');
        if (close == std::string_view::npos) return url_error(url, "unclosed '[' in the host");
        out.host = std::string(hostport.substr(1, close - 1));
        const std::string_view rest = hostport.substr(close + 1);
        if (!rest.empty() && rest.front() != ':') return url_error(url, "junk after ']'");
        if (!rest.empty()) port_text = rest.substr(1);
        if (rest == ":") return url_error(url, "empty port");
    } else {
        const size_t colon = hostport.find(':');
        out.host = std::string(hostport.substr(0, colon));
        if (colon != std::string_view::npos) {
            port_text = hostport.substr(colon + 1);
            if (port_text.empty()) return url_error(url, "empty port");
        }
    }
    if (out.host.empty()) return url_error(url, "no host");
    if (!port_text.empty()) {
        const auto port = parse_int(port_text, 65535);
        if (!port || *port == 0) return url_error(url, "port must be 1-65535");
        out.port = *port;
    }
    return ok_status();
}

// Turns a hiredis reply tree into an owned RedisReply.
RedisReply convert(const redisReply& reply) {
    RedisReply out;
    switch (reply.type) {
        case REDIS_REPLY_INTEGER:
            out.type = RedisReply::Type::kInteger;
            out.integer = reply.integer;
            break;
        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
        case REDIS_REPLY_ERROR:
            out.type = reply.type == REDIS_REPLY_STRING   ? RedisReply::Type::kString
                       : reply.type == REDIS_REPLY_STATUS ? RedisReply::Type::kStatus
                                                          : RedisReply::Type::kError;
            out.text.assign(reply.str, reply.len);
            break;
        case REDIS_REPLY_ARRAY:
            out.type = RedisReply::Type::kArray;
            for (size_t i = 0; i < reply.elements; ++i)
                out.elements.push_back(convert(*reply.element[i]));
            break;
        default:
            out.type = RedisReply::Type::kNil;
    }
    return out;
}

std::string io_error(const redisContext& context, int timeout_ms) {
    const std::string why = context.errstr;
    if (why.find("temporarily unavailable") != std::string::npos) {
        return "no answer within " + std::to_string(timeout_ms) + " ms";
    }
    return why.empty() ? "connection lost" : why;
}

// One command on one connection. An error Status: the connection is broken (drop it).
Result<RedisReply> run_on(redisContext* context, const std::vector<std::string>& argv,
                          int timeout_ms) {
    std::vector<const char*> args;
    std::vector<size_t> lengths;
    for (const auto& arg : argv) {
        args.push_back(arg.data());
        lengths.push_back(arg.size());
    }
    auto* reply = static_cast<redisReply*>(
        redisCommandArgv(context, int(args.size()), args.data(), lengths.data()));
    if (reply == nullptr) return Status::error(io_error(*context, timeout_ms));
    RedisReply out = convert(*reply);
    freeReplyObject(reply);
    return out;
}

// An idle connection has nothing to read; if it has, Redis closed it (restart, timeout).
bool looks_alive(const redisContext* context) {
    pollfd fd{};
    fd.fd = context->fd;
    fd.events = POLLIN | POLLRDHUP;
    return poll(&fd, 1, 0) == 0;
}

Status authenticate(redisContext* context, const RedisUrl& url, int timeout_ms) {
    if (url.password.empty()) return ok_status();
    std::vector<std::string> argv = {"AUTH"};
    if (!url.username.empty()) argv.push_back(url.username);
    argv.push_back(url.password);
    auto reply = run_on(context, argv, timeout_ms);
    if (!reply.ok()) return reply.status();
    if (reply->is_error()) return Status::error("AUTH refused: " + reply->text);
    return ok_status();
}

Status select_db(redisContext* context, const RedisUrl& url, int timeout_ms) {
    if (url.db == 0) return ok_status();
    auto reply = run_on(context, {"SELECT", std::to_string(url.db)}, timeout_ms);
    if (!reply.ok()) return reply.status();
    if (reply->is_error())
        return Status::error("SELECT " + std::to_string(url.db) + ": " + reply->text);
    return ok_status();
}

}  // namespace

std::string RedisUrl::describe() const {
    const bool ipv6 = host.find(':') != std::string::npos;
    const std::string shown_host = ipv6 ? "[" + host + "]" : host;
    return std::string(kScheme) + shown_host + ":" + std::to_string(port) + "/" +
           std::to_string(db);
}

Result<RedisUrl> parse_redis_url(std::string_view url) {
    if (url.substr(0, kScheme.size()) != kScheme) {
        return url_error(url, url.substr(0, 9) == "rediss://"
                                  ? "TLS (rediss://) is not supported; use redis:// on a "
                                    "private network or through a TLS tunnel"
                                  : "it must start with redis://");
    }
    std::string_view rest = url.substr(kScheme.size());
    if (rest.find_first_of("?#") != std::string_view::npos) {
        return url_error(url, "query strings and fragments are not supported");
    }
    RedisUrl out;
    const size_t slash = rest.find('/');
    const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash + 1);
    std::string_view authority = rest.substr(0, slash);
    const size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
        CITADEL_TRY(parse_userinfo(url, authority.substr(0, at), out));
        authority = authority.substr(at + 1);
    }
    CITADEL_TRY(parse_host_port(url, authority, out));
    if (!path.empty()) {
        const auto db = parse_int(path, 1 << 20);
        if (!db) return url_error(url, "the database after '/' must be a number");
        out.db = *db;
    }
    return out;
}

RedisPool::RedisPool(RedisPoolOptions options) : options_(std::move(options)) {}

RedisPool::~RedisPool() {
    for (redisContext* context : idle_) redisFree(context);
}

Result<RedisReply> RedisPool::command(const std::vector<std::string>& argv) {
    auto context = acquire();
    if (!context.ok()) return context.status();
    auto reply = run_on(*context, argv, options_.timeout_ms);
    if (!reply.ok()) {
        discard(*context);
        return Status::error("Redis at " + options_.url.describe() + ": " + reply.error());
    }
    give_back(*context);
    return reply;
}

Result<redisContext*> RedisPool::acquire() {
    using Clock = std::chrono::steady_clock;
    const auto deadline = Clock::now() + std::chrono::milliseconds(options_.timeout_ms);
    std::unique_lock lock(mu_);
    while (true) {
        while (!idle_.empty()) {
            redisContext* context = idle_.back();
            idle_.pop_back();
            if (looks_alive(context)) return context;
            redisFree(context);
            --open_;
        }
        if (open_ < options_.pool_size) {
            if (Clock::now() < retry_connect_at_) return Status::error(last_connect_error_);
            ++open_;
            lock.unlock();
            auto context = connect_new();
            if (context.ok()) return context;
            lock.lock();
            --open_;
            last_connect_error_ = context.error();
            retry_connect_at_ =
                Clock::now() + std::chrono::milliseconds(options_.reconnect_backoff_ms);
            idle_or_freed_.notify_one();
            return context.status();
        }
        if (idle_or_freed_.wait_until(lock, deadline) == std::cv_status::timeout) {
            return Status::error("all " + std::to_string(options_.pool_size) +
                                 " connections to Redis at " + options_.url.describe() +
                                 " stayed busy for " + std::to_string(options_.timeout_ms) + " ms");
        }
    }
}

Result<redisContext*> RedisPool::connect_new() {
    const RedisUrl& url = options_.url;
    timeval timeout{};
    timeout.tv_sec = options_.timeout_ms / 1000;
    timeout.tv_usec = (options_.timeout_ms % 1000) * 1000;
    redisContext* context = redisConnectWithTimeout(url.host.c_str(), url.port, timeout);
    const std::string where = "cannot connect to Redis at " + url.describe() + ": ";
    if (context == nullptr) return Status::error(where + "out of memory");
    Status status =
        context->err ? Status::error(io_error(*context, options_.timeout_ms)) : ok_status();
    if (status.ok() && redisSetTimeout(context, timeout) != REDIS_OK) {
        status = Status::error("cannot set the command timeout");
    }
    if (status.ok()) redisEnableKeepAlive(context);
    if (status.ok()) status = authenticate(context, url, options_.timeout_ms);
    if (status.ok()) status = select_db(context, url, options_.timeout_ms);
    if (!status.ok()) {
        redisFree(context);
        return Status::error(where + status.message());
    }
    return context;
}

void RedisPool::give_back(redisContext* context) {
    std::lock_guard lock(mu_);
    idle_.push_back(context);
    idle_or_freed_.notify_one();
}

void RedisPool::discard(redisContext* context) {
    redisFree(context);
    std::lock_guard lock(mu_);
    --open_;
    idle_or_freed_.notify_one();
}

Result<std::string> RedisScript::load(RedisPool& pool) {
    auto reply = pool.command({"SCRIPT", "LOAD", source_});
    if (!reply.ok()) return reply.status();
    if (reply->type != RedisReply::Type::kString) {
        return Status::error("Redis at " + pool.url().describe() +
                             " would not load a script: " + reply->text);
    }
    std::lock_guard lock(mu_);
    sha_ = reply->text;
    return sha_;
}

Result<RedisReply> RedisScript::run(RedisPool& pool, const std::vector<std::string>& keys,
                                    const std::vector<std::string>& args) {
    std::string sha;
    {
        std::lock_guard lock(mu_);
        sha = sha_;
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (sha.empty()) {
            auto loaded = load(pool);
            if (!loaded.ok()) return loaded.status();
            sha = *loaded;
        }
        std::vector<std::string> argv = {"EVALSHA", sha, std::to_string(keys.size())};
        argv.insert(argv.end(), keys.begin(), keys.end());
        argv.insert(argv.end(), args.begin(), args.end());
        auto reply = pool.command(argv);
        if (!reply.ok() || !reply->is_error() || reply->text.rfind("NOSCRIPT", 0) != 0) {
            return reply;
        }
        sha.clear();  // Redis restarted or flushed its scripts: load and try once more
    }
    return Status::error("Redis at " + pool.url().describe() + " keeps forgetting its scripts");
}

}  // namespace citadel::gateway
