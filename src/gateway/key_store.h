// API keys: the SQLite-backed store behind `citadel keys create|list|revoke|rotate` and the
// per-request check of `Authorization: Bearer ck_<id>_<secret>`, plus per-key daily usage.
//
// Key text is `ck_<id>_<secret>`: <id> is 12 lower-case base32 characters (public: listed,
// and the identity "key:<id>" in limits and audit), <secret> is base64url of 32 random bytes.
// Only salt (16 random bytes) and SHA-256(salt || secret) are stored; the plaintext key is
// returned once by create()/rotate() and never stored or logged.
//
// Hot path: verify() reads an in-memory snapshot of every key under a shared lock and never
// touches SQLite, except that at most every `refresh_ms` one caller asks SQLite's
// `PRAGMA data_version` whether another process (the CLI) changed the file and, if so,
// reloads the snapshot. Changes made through this instance apply to it at once.
// add_usage() only adds to an in-memory buffer; a background thread writes it in one
// transaction every `usage_flush_ms`, and the destructor writes what is left.
//
// Threading: every method is thread-safe. Several KeyStore instances (in one or several
// processes) may share a file; SQLite's locking (WAL mode, busy_timeout) arbitrates.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "gateway/duration.h"
#include "gateway/identity.h"

namespace citadel::gateway {

namespace sqlite {
class Database;
}

struct KeyStoreOptions {
    int refresh_ms = 1000;       // at most this often verify() asks SQLite for outside changes
    int usage_flush_ms = 1000;   // background usage flush period; 0: no background thread
    int busy_timeout_ms = 5000;  // how long to wait for another connection's write lock
};

struct NewKey {
    std::string name;  // [A-Za-z0-9._-]{1,64}, unique among all keys (revoked ones included)
    Role role = Role::kUser;
    std::vector<std::string> models;  // glob patterns; empty: every model
    KeyLimits limits;
    int64_t expires_in_s = 0;  // 0 = never
};

struct KeyRecord {
    std::string id;  // 12 base32 characters
    std::string name;
    Role role = Role::kUser;
    std::vector<std::string> models;
    KeyLimits limits;
    int64_t created_unix = 0;
    int64_t expires_unix = 0;  // 0 = never
    int64_t revoked_unix = 0;  // 0 = active
    int64_t rotated_unix = 0;  // 0 = never rotated
};

enum class KeyCheck { kOk, kMalformed, kUnknown, kRevoked, kExpired };
const char* key_check_name(KeyCheck check);  // "ok", "malformed", "unknown", "revoked", "expired"

struct KeyVerdict {
    KeyCheck check = KeyCheck::kUnknown;
    KeyRecord record;  // filled unless kMalformed / kUnknown
};

struct UsageRow {
    std::string key_id, name, day;  // day: "YYYY-MM-DD" (UTC)
    int64_t requests = 0, prompt_tokens = 0, completion_tokens = 0;
};

class KeyStore {
  public:
    // Opens or creates the database (file mode 0600, WAL, schema migrated to the current
    // version) and loads the key snapshot.
    static Result<std::unique_ptr<KeyStore>> open(const std::string& path,
                                                  KeyStoreOptions options = {});
    ~KeyStore();  // stops the flusher, writes buffered usage, closes the database
    KeyStore(const KeyStore&) = delete;
    KeyStore& operator=(const KeyStore&) = delete;

    // Returns the record and the plaintext key (shown once).
    Result<std::pair<KeyRecord, std::string>> create(const NewKey& spec, int64_t now_unix);
    Result<std::vector<KeyRecord>> list();  // oldest first
    // `id_or_name`: a key id, "key:<id>", or a name (an id wins over an equal name).
    Result<KeyRecord> get(std::string_view id_or_name);
    Result<KeyRecord> revoke(std::string_view id_or_name, int64_t now_unix);
    // A new secret for the same id (name, role, models, limits and expiry stay); the old key
    // stops working at once. Revoked keys cannot be rotated.
    Result<std::pair<KeyRecord, std::string>> rotate(std::string_view id_or_name, int64_t now_unix);

    // The hot path (see the file comment). A wrong secret for an existing id is kUnknown.
    KeyVerdict verify(std::string_view presented_key, int64_t now_unix);

    // Counts one request and its tokens for the UTC day of `now_unix`; buffered in memory.
    void add_usage(const std::string& key_id, int64_t prompt_tokens, int64_t completion_tokens,
                   int64_t now_unix);
    // Days "YYYY-MM-DD", both inclusive; includes counts not yet flushed. Sorted by day, name.
    Result<std::vector<UsageRow>> usage(std::string_view day_from, std::string_view day_to);
    Status flush_usage();

  private:
    struct Entry {
        KeyRecord record;
        std::string salt, hash;  // 16 and 32 raw bytes
    };
    struct StringHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    using Snapshot = std::unordered_map<std::string, Entry, StringHash, std::equal_to<>>;
    struct UsageCounts {
        int64_t requests = 0, prompt_tokens = 0, completion_tokens = 0;
    };
    using UsageBuffer = std::map<std::pair<std::string, std::string>, UsageCounts>;  // (id, day)

    KeyStore(std::string path, KeyStoreOptions options, std::unique_ptr<sqlite::Database> db);

    // Everything named *_locked expects db_mutex_ held.
    Status sync_snapshot_locked(bool force);
    Status load_snapshot_locked();
    void reload_after_write_locked();
    Result<KeyRecord> find_locked(std::string_view id_or_name);
    Result<std::string> fresh_id_locked();
    Status write_usage_locked(const UsageBuffer& pending);
    Status flush_usage_locked();
    Result<std::vector<UsageRow>> stored_usage_locked(std::string_view from, std::string_view to);

    void maybe_refresh();
    void flusher_loop();

    const std::string path_;
    const KeyStoreOptions options_;

    std::mutex db_mutex_;  // guards db_ and data_version_
    std::unique_ptr<sqlite::Database> db_;
    int64_t data_version_ = -1;

    std::shared_mutex snapshot_mutex_;  // guards snapshot_
    Snapshot snapshot_;
    std::atomic<int64_t> next_refresh_ns_{0};  // steady clock

    std::mutex usage_mutex_;  // guards pending_usage_
    UsageBuffer pending_usage_;

    std::mutex flusher_mutex_;  // guards stopping_
    std::condition_variable flusher_wake_;
    bool stopping_ = false;
    std::thread flusher_;
};

// The identity a verified key authenticates as: id "key:<id>", name, role, models, limits.
Identity identity_of(const KeyRecord& record);

}  // namespace citadel::gateway
