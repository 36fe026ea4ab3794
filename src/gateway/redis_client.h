// A small synchronous Redis client on hiredis 0.14: URL parsing, a thread-safe pool of
// connections with connect and command timeouts (AUTH and SELECT from the URL on every new
// connection; a connection that fails is dropped and the next call connects afresh), and Lua
// scripts run by EVALSHA with a SCRIPT LOAD fallback when Redis has forgotten them (restart,
// SCRIPT FLUSH).
//
// Threading: RedisPool and RedisScript are thread-safe; a connection is used by one thread at a
// time. Ownership: the pool owns its connections and frees them when destroyed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct redisContext;

namespace citadel::gateway {

struct RedisUrl {
    std::string host;
    int port = 6379;
    std::string username;  // Redis 6 ACL user; empty: the default user
    std::string password;  // empty: no AUTH
    int db = 0;
    std::string describe() const;  // "redis://host:port/db", never the password
};
// redis://[[user]:password@]host[:port][/db]; user and password may be %-encoded; an IPv6 host
// goes in brackets. The error quotes the URL with its password masked.
Result<RedisUrl> parse_redis_url(std::string_view url);

// One reply, copied out of hiredis. An error reply ("ERR ...", "NOSCRIPT ...") is a reply of
// type kError, not a failed call: the call failed only when Redis could not be reached.
struct RedisReply {
    enum class Type { kNil, kInteger, kString, kStatus, kError, kArray };
    Type type = Type::kNil;
    int64_t integer = 0;
    std::string text;  // kString, kStatus, kError
    std::vector<RedisReply> elements;
    bool is_error() const { return type == Type::kError; }
};

struct RedisPoolOptions {
    RedisUrl url;
    int timeout_ms = 250;  // connect, and each command
    int pool_size = 4;
    // After a failed connect, calls fail at once for this long instead of each waiting out a
    // connect timeout against a Redis that is down.
    int reconnect_backoff_ms = 100;
};

class RedisPool {
  public:
    explicit RedisPool(RedisPoolOptions options);  // connects lazily
    ~RedisPool();
    RedisPool(const RedisPool&) = delete;
    RedisPool& operator=(const RedisPool&) = delete;

    // Runs one command on a pooled connection; an error Status when Redis cannot be reached,
    // times out, or every connection stays busy for timeout_ms.
    Result<RedisReply> command(const std::vector<std::string>& argv);
    const RedisUrl& url() const { return options_.url; }

  private:
    Result<redisContext*> acquire();
    Result<redisContext*> connect_new();
    void give_back(redisContext* context);
    void discard(redisContext* context);

    RedisPoolOptions options_;
    std::mutex mu_;
    std::condition_variable idle_or_freed_;
    std::vector<redisContext*> idle_;
    int open_ = 0;  // idle + lent out + being connected
    std::chrono::steady_clock::time_point retry_connect_at_{};
    std::string last_connect_error_;
};

class RedisScript {
  public:
    explicit RedisScript(std::string source) : source_(std::move(source)) {}
    // EVALSHA with `keys` and `args`; loads the script first when Redis does not know it.
    Result<RedisReply> run(RedisPool& pool, const std::vector<std::string>& keys,
                           const std::vector<std::string>& args);
    Result<std::string> load(RedisPool& pool);  // SCRIPT LOAD; remembers the SHA-1

  private:
    std::string source_;
    std::mutex mu_;
    std::string sha_;
};

}  // namespace citadel::gateway
