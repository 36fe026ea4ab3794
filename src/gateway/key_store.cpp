#include "gateway/key_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/log.h"
#include "gateway/crypto.h"
#include "gateway/sqlite_db.h"

namespace citadel::gateway {
namespace {

constexpr int kSchemaVersion = 1;
constexpr size_t kIdLength = 12;
constexpr size_t kSecretBytes = 32;
constexpr size_t kSecretLength = 43;  // base64url of 32 bytes, unpadded
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;
constexpr size_t kMaxNameLength = 64;
constexpr size_t kMaxModelPatternLength = 256;
constexpr std::string_view kKeyPrefix = "ck_";
constexpr std::string_view kIdentityPrefix = "key:";
constexpr char kBase32[] = "abcdefghijklmnopqrstuvwxyz234567";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS keys (
  id             TEXT PRIMARY KEY NOT NULL,
  name           TEXT NOT NULL UNIQUE,
  role           TEXT NOT NULL,
  models         TEXT NOT NULL DEFAULT '[]',  -- JSON array of glob patterns; [] = every model
  rpm            INTEGER NOT NULL DEFAULT 0,
  tpm            INTEGER NOT NULL DEFAULT 0,
  max_concurrent INTEGER NOT NULL DEFAULT 0,
  daily_tokens   INTEGER NOT NULL DEFAULT 0,
  salt           BLOB NOT NULL,               -- 16 random bytes
  hash           BLOB NOT NULL,               -- SHA-256(salt || secret)
  created_unix   INTEGER NOT NULL,
  expires_unix   INTEGER NOT NULL DEFAULT 0,  -- 0 = never
  revoked_unix   INTEGER NOT NULL DEFAULT 0,  -- 0 = active
  rotated_unix   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS usage (
  key_id            TEXT NOT NULL,
  day               TEXT NOT NULL,            -- 'YYYY-MM-DD', UTC
  requests          INTEGER NOT NULL DEFAULT 0,
  prompt_tokens     INTEGER NOT NULL DEFAULT 0,
  completion_tokens INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (key_id, day)
);
)sql";

// Column order shared by every SELECT of a whole key and by the INSERT.
constexpr const char* kColumns =
    "id, name, role, models, rpm, tpm, max_concurrent, daily_tokens, created_unix, "
    "expires_unix, revoked_unix, rotated_unix, salt, hash";

bool in_alphabet(std::string_view text, bool (*allowed)(char)) {
    return std::all_of(text.begin(), text.end(), allowed);
}
bool is_base32(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '2' && c <= '7');
}
bool is_base64url(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}
bool is_name_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

struct KeyParts {
    std::string_view id, secret;
};

// "ck_<12 base32>_<43 base64url>"; nullopt for anything else.
std::optional<KeyParts> split_key_text(std::string_view text) {
    if (text.size() != kKeyPrefix.size() + kIdLength + 1 + kSecretLength) return std::nullopt;
    if (!text.starts_with(kKeyPrefix) || text[kKeyPrefix.size() + kIdLength] != '_') {
        return std::nullopt;
    }
    KeyParts parts;
    parts.id = text.substr(kKeyPrefix.size(), kIdLength);
    parts.secret = text.substr(kKeyPrefix.size() + kIdLength + 1);
    if (!in_alphabet(parts.id, is_base32) || !in_alphabet(parts.secret, is_base64url)) {
        return std::nullopt;
    }
    return parts;
}

std::string salted_hash(std::string_view salt, std::string_view secret) {
    char input[kSaltBytes + kSecretLength];  // no allocation on the hot path
    CITADEL_CHECK(salt.size() == kSaltBytes && secret.size() == kSecretLength);
    std::memcpy(input, salt.data(), kSaltBytes);
    std::memcpy(input + kSaltBytes, secret.data(), kSecretLength);
    return crypto::sha256(std::string_view(input, sizeof input));
}

struct Secret {
    std::string text, salt, hash;
};

Secret new_secret() {
    Secret secret;
    secret.text = crypto::base64url_encode(crypto::random_bytes(kSecretBytes));
    secret.salt = crypto::random_bytes(kSaltBytes);
    secret.hash = salted_hash(secret.salt, secret.text);
    return secret;
}

std::string random_id() {
    const std::string bytes = crypto::random_bytes(kIdLength);
    std::string id(kIdLength, 'a');
    for (size_t i = 0; i < kIdLength; ++i) id[i] = kBase32[uint8_t(bytes[i]) % 32];  // unbiased
    return id;
}

std::string key_text(std::string_view id, std::string_view secret) {
    std::string text(kKeyPrefix);
    text.append(id).append(1, '_').append(secret);
    return text;
}

int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

Status validate_new_key(const NewKey& spec, int64_t now_unix) {
    if (spec.name.empty() || spec.name.size() > kMaxNameLength ||
        !in_alphabet(spec.name, is_name_char)) {
        return Status::error("invalid key name '" + spec.name +
                             "': use 1 to 64 of A-Z a-z 0-9 . _ -");
    }
    for (const auto& pattern : spec.models) {
        if (pattern.empty() || pattern.size() > kMaxModelPatternLength) {
            return Status::error("invalid model pattern '" + pattern + "' for key '" + spec.name +
                                 "': 1 to 256 characters");
        }
    }
    const KeyLimits& l = spec.limits;
    if (l.rpm < 0 || l.tpm < 0 || l.max_concurrent < 0 || l.daily_tokens < 0) {
        return Status::error("limits for key '" + spec.name + "' must be 0 (unlimited) or more");
    }
    if (spec.expires_in_s < 0 || now_unix > INT64_MAX - spec.expires_in_s) {
        return Status::error("invalid expiry for key '" + spec.name +
                             "': " + std::to_string(spec.expires_in_s) + " s");
    }
    return ok_status();
}

// Creates the file with mode 0600 when missing (SQLite gives its -wal and -shm files the
// same mode) and warns when an existing file is readable by others.
Status ensure_private_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        return Status::error("cannot open key database '" + path + "': " + std::strerror(errno));
    }
    struct stat st {};
    const bool stat_ok = ::fstat(fd, &st) == 0;
    ::close(fd);
    if (stat_ok && (st.st_mode & 077) != 0) {
        CITADEL_LOG_WARN("key database '%s' is accessible to other users (mode %03o); chmod 600 it",
                         path.c_str(), unsigned(st.st_mode & 0777));
    }
    return ok_status();
}

Status configure(sqlite::Database& db) {
    auto mode = db.prepare("PRAGMA journal_mode=WAL");
    if (!mode.ok()) return mode.status();
    auto row = mode->step();
    if (!row.ok()) return row.status();
    if (*row && mode->column_text(0) != "wal") {
        CITADEL_LOG_WARN("key database '%s': WAL journal unavailable (got '%s')", db.path().c_str(),
                         mode->column_text(0).c_str());
    }
    return db.exec("PRAGMA synchronous=NORMAL");
}

// Creates or upgrades the schema inside one write transaction (two processes opening a new
// file at once both see a consistent result).
Status migrate(sqlite::Database& db) {
    auto tx = sqlite::Transaction::begin(db);
    if (!tx.ok()) return tx.status();
    auto version = db.query_int("PRAGMA user_version");
    if (!version.ok()) return version.status();
    if (*version > kSchemaVersion) {
        return Status::error("key database '" + db.path() + "' has schema version " +
                             std::to_string(*version) + "; this citadel understands up to " +
                             std::to_string(kSchemaVersion) + " (upgrade citadel)");
    }
    if (*version < kSchemaVersion) {
        CITADEL_TRY(db.exec(kSchema));
        CITADEL_TRY(db.exec(("PRAGMA user_version = " + std::to_string(kSchemaVersion)).c_str()));
    }
    return (*tx)->commit();
}

Result<std::vector<std::string>> parse_models(const std::string& text) {
    const auto json = nlohmann::json::parse(text, nullptr, false);
    if (!json.is_array()) return Status::error("models is not a JSON array");
    std::vector<std::string> models;
    for (const auto& item : json) {
        if (!item.is_string()) return Status::error("models holds a non-string");
        models.push_back(item.get<std::string>());
    }
    return models;
}

// Expects the columns in kColumns order; salt and hash are read by the snapshot loader.
Result<KeyRecord> read_record(const sqlite::Statement& row) {
    KeyRecord r;
    r.id = row.column_text(0);
    r.name = row.column_text(1);
    const std::string role = row.column_text(2);
    const auto parsed_role = parse_role(role);
    if (!parsed_role) {
        return Status::error("key '" + r.id + "' has unknown role '" + role + "' in the database");
    }
    auto models = parse_models(row.column_text(3));
    if (!models.ok()) {
        return Status::error("key '" + r.id + "' is damaged in the database: " + models.error());
    }
    r.role = *parsed_role;
    r.models = std::move(*models);
    r.limits.rpm = row.column_int(4);
    r.limits.tpm = row.column_int(5);
    r.limits.max_concurrent = row.column_int(6);
    r.limits.daily_tokens = row.column_int(7);
    r.created_unix = row.column_int(8);
    r.expires_unix = row.column_int(9);
    r.revoked_unix = row.column_int(10);
    r.rotated_unix = row.column_int(11);
    return r;
}

KeyCheck check_at(const KeyRecord& record, int64_t now_unix) {
    if (record.revoked_unix != 0) return KeyCheck::kRevoked;
    if (record.expires_unix != 0 && now_unix >= record.expires_unix) return KeyCheck::kExpired;
    return KeyCheck::kOk;
}

}  // namespace

const char* key_check_name(KeyCheck check) {
    switch (check) {
        case KeyCheck::kOk:
            return "ok";
        case KeyCheck::kMalformed:
            return "malformed";
        case KeyCheck::kUnknown:
            return "unknown";
        case KeyCheck::kRevoked:
            return "revoked";
        case KeyCheck::kExpired:
            return "expired";
    }
    return "unknown";
}

Identity identity_of(const KeyRecord& record) {
    Identity identity;
    identity.id = std::string(kIdentityPrefix) + record.id;
    identity.name = record.name;
    identity.role = record.role;
    identity.models = record.models;
    identity.limits = record.limits;
    return identity;
}

// ---- opening and closing ----

Result<std::unique_ptr<KeyStore>> KeyStore::open(const std::string& path, KeyStoreOptions options) {
    if (options.refresh_ms < 0 || options.usage_flush_ms < 0 || options.busy_timeout_ms < 0) {
        return Status::error("key store options must not be negative");
    }
    CITADEL_TRY(ensure_private_file(path));
    auto db = sqlite::Database::open(path, options.busy_timeout_ms);
    if (!db.ok()) return db.status();
    CITADEL_TRY(configure(**db));
    CITADEL_TRY(migrate(**db));
    std::unique_ptr<KeyStore> store(new KeyStore(path, options, std::move(*db)));
    {
        std::lock_guard lock(store->db_mutex_);
        CITADEL_TRY(store->sync_snapshot_locked(/*force=*/true));
    }
    store->next_refresh_ns_ = steady_ns() + int64_t(options.refresh_ms) * 1'000'000;
    if (options.usage_flush_ms > 0) {
        store->flusher_ = std::thread([s = store.get()] { s->flusher_loop(); });
    }
    return store;
}

KeyStore::KeyStore(std::string path, KeyStoreOptions options, std::unique_ptr<sqlite::Database> db)
    : path_(std::move(path)), options_(options), db_(std::move(db)) {}

KeyStore::~KeyStore() {
    if (flusher_.joinable()) {
        {
            std::lock_guard lock(flusher_mutex_);
            stopping_ = true;
        }
        flusher_wake_.notify_all();
        flusher_.join();
    }
    std::lock_guard lock(db_mutex_);
    const Status status = flush_usage_locked();
    if (!status.ok()) {
        CITADEL_LOG_WARN("usage counts lost at close: %s", status.message().c_str());
    }
}

// ---- the snapshot ----

// Reads data_version before the keys, so a commit racing with the load shows up as a new
// version at the next check rather than being missed.
Status KeyStore::sync_snapshot_locked(bool force) {
    auto version = db_->query_int("PRAGMA data_version");
    if (!version.ok()) return version.status();
    if (!force && *version == data_version_) return ok_status();
    CITADEL_TRY(load_snapshot_locked());
    data_version_ = *version;
    return ok_status();
}

Status KeyStore::load_snapshot_locked() {
    auto stmt = db_->prepare(std::string("SELECT ") + kColumns + " FROM keys");
    if (!stmt.ok()) return stmt.status();
    Snapshot fresh;
    for (;;) {
        auto row = stmt->step();
        if (!row.ok()) return row.status();
        if (!*row) break;
        auto record = read_record(*stmt);
        Entry entry;
        entry.salt = stmt->column_blob(12);
        entry.hash = stmt->column_blob(13);
        if (!record.ok() || entry.salt.size() != kSaltBytes || entry.hash.size() != kHashBytes) {
            CITADEL_LOG_WARN("key '%s' is damaged in '%s' and is refused (%s)",
                             stmt->column_text(0).c_str(), path_.c_str(), record.error().c_str());
            continue;
        }
        entry.record = std::move(*record);
        std::string id = entry.record.id;
        fresh.emplace(std::move(id), std::move(entry));
    }
    std::unique_lock lock(snapshot_mutex_);
    snapshot_.swap(fresh);
    return ok_status();
}

// After a commit through this instance. The change is made, so a failed reload is not the
// caller's error: it is logged and the next verify() retries.
void KeyStore::reload_after_write_locked() {
    const Status status = sync_snapshot_locked(/*force=*/true);
    if (status.ok()) return;
    CITADEL_LOG_WARN("key snapshot not reloaded after a change (will retry): %s",
                     status.message().c_str());
    data_version_ = -1;
    next_refresh_ns_.store(0);
}

// At most every refresh_ms, one caller checks for outside changes; the others go on with the
// current snapshot. If the connection is busy (a write or flush through this instance), the
// check is retried by the next caller instead of waiting.
void KeyStore::maybe_refresh() {
    const int64_t now = steady_ns();
    int64_t due = next_refresh_ns_.load(std::memory_order_relaxed);
    if (now < due) return;
    const int64_t next = now + int64_t(options_.refresh_ms) * 1'000'000;
    if (!next_refresh_ns_.compare_exchange_strong(due, next)) return;
    std::unique_lock lock(db_mutex_, std::try_to_lock);
    if (!lock.owns_lock()) {
        next_refresh_ns_.store(now, std::memory_order_relaxed);
        return;
    }
    const Status status = sync_snapshot_locked(/*force=*/false);
    if (!status.ok()) CITADEL_LOG_WARN("key snapshot not refreshed: %s", status.message().c_str());
}

KeyVerdict KeyStore::verify(std::string_view presented_key, int64_t now_unix) {
    static const std::string kDummySalt(kSaltBytes, '\0');
    KeyVerdict verdict;
    const auto parts = split_key_text(presented_key);
    if (!parts) {
        verdict.check = KeyCheck::kMalformed;
        return verdict;
    }
    maybe_refresh();
    std::shared_lock lock(snapshot_mutex_);
    const auto it = snapshot_.find(parts->id);
    const Entry* entry = it == snapshot_.end() ? nullptr : &it->second;
    // Hash even for an unknown id, so both refusals take about the same time.
    const std::string digest = salted_hash(entry ? entry->salt : kDummySalt, parts->secret);
    if (!entry || !crypto::constant_time_equal(digest, entry->hash)) return verdict;  // kUnknown
    verdict.record = entry->record;
    verdict.check = check_at(entry->record, now_unix);
    return verdict;
}

// ---- administration ----

Result<KeyRecord> KeyStore::find_locked(std::string_view id_or_name) {
    std::string_view wanted = id_or_name;
    const bool id_only = wanted.starts_with(kIdentityPrefix);
    if (id_only) wanted.remove_prefix(kIdentityPrefix.size());
    auto stmt = db_->prepare(std::string("SELECT ") + kColumns +
                             " FROM keys WHERE id = ?1 OR (?2 = 0 AND name = ?1)"
                             " ORDER BY id = ?1 DESC LIMIT 1");
    if (!stmt.ok()) return stmt.status();
    stmt->bind_text(1, wanted).bind(2, id_only ? 1 : 0);
    auto row = stmt->step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::error("no key '" + std::string(id_or_name) + "'");
    return read_record(*stmt);
}

Result<std::string> KeyStore::fresh_id_locked() {
    auto stmt = db_->prepare("SELECT count(*) FROM keys WHERE id = ?1 OR name = ?1");
    if (!stmt.ok()) return stmt.status();
    for (int attempt = 0; attempt < 8; ++attempt) {  // 60 random bits: a clash is a fluke
        std::string id = random_id();
        stmt->reset();
        stmt->bind_text(1, id);
        auto row = stmt->step();
        if (!row.ok()) return row.status();
        if (stmt->column_int(0) == 0) return id;
    }
    return Status::error("could not pick an unused key id");
}

Result<std::pair<KeyRecord, std::string>> KeyStore::create(const NewKey& spec, int64_t now_unix) {
    CITADEL_TRY(validate_new_key(spec, now_unix));
    std::lock_guard lock(db_mutex_);
    auto tx = sqlite::Transaction::begin(*db_);
    if (!tx.ok()) return tx.status();
    if (auto existing = find_locked(spec.name); existing.ok()) {
        if (existing->name == spec.name) {
            return Status::error("a key named '" + spec.name + "' already exists");
        }
        return Status::error("'" + spec.name + "' is the id of another key; pick another name");
    }
    auto id = fresh_id_locked();
    if (!id.ok()) return id.status();
    KeyRecord record;
    record.id = std::move(*id);
    record.name = spec.name;
    record.role = spec.role;
    record.models = spec.models;
    record.limits = spec.limits;
    record.created_unix = now_unix;
    record.expires_unix = spec.expires_in_s == 0 ? 0 : now_unix + spec.expires_in_s;
    const Secret secret = new_secret();

    auto insert = db_->prepare(std::string("INSERT INTO keys (") + kColumns +
                               ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
                               "?13, ?14)");
    if (!insert.ok()) return insert.status();
    insert->bind_text(1, record.id).bind_text(2, record.name).bind_text(3, role_name(record.role));
    insert->bind_text(4, nlohmann::json(record.models).dump());
    insert->bind(5, record.limits.rpm).bind(6, record.limits.tpm);
    insert->bind(7, record.limits.max_concurrent).bind(8, record.limits.daily_tokens);
    insert->bind(9, record.created_unix).bind(10, record.expires_unix);
    insert->bind(11, 0).bind(12, 0).bind_blob(13, secret.salt).bind_blob(14, secret.hash);
    CITADEL_TRY(insert->run());
    CITADEL_TRY((*tx)->commit());
    reload_after_write_locked();
    std::string text = key_text(record.id, secret.text);
    return std::pair{std::move(record), std::move(text)};
}

Result<std::vector<KeyRecord>> KeyStore::list() {
    std::lock_guard lock(db_mutex_);
    auto stmt =
        db_->prepare(std::string("SELECT ") + kColumns + " FROM keys ORDER BY created_unix, name");
    if (!stmt.ok()) return stmt.status();
    std::vector<KeyRecord> records;
    for (;;) {
        auto row = stmt->step();
        if (!row.ok()) return row.status();
        if (!*row) return records;
        auto record = read_record(*stmt);
        if (!record.ok()) return record.status();
        records.push_back(std::move(*record));
    }
}

Result<KeyRecord> KeyStore::get(std::string_view id_or_name) {
    std::lock_guard lock(db_mutex_);
    return find_locked(id_or_name);
}

Result<KeyRecord> KeyStore::revoke(std::string_view id_or_name, int64_t now_unix) {
    std::lock_guard lock(db_mutex_);
    auto tx = sqlite::Transaction::begin(*db_);
    if (!tx.ok()) return tx.status();
    auto found = find_locked(id_or_name);
    if (!found.ok()) return found.status();
    KeyRecord& record = *found;
    if (record.revoked_unix != 0) {
        return Status::error("key '" + record.name + "' is already revoked");
    }
    record.revoked_unix = std::max<int64_t>(now_unix, 1);  // 0 means active
    auto update = db_->prepare("UPDATE keys SET revoked_unix = ?1 WHERE id = ?2");
    if (!update.ok()) return update.status();
    update->bind(1, record.revoked_unix).bind_text(2, record.id);
    CITADEL_TRY(update->run());
    CITADEL_TRY((*tx)->commit());
    reload_after_write_locked();
    return std::move(record);
}

Result<std::pair<KeyRecord, std::string>> KeyStore::rotate(std::string_view id_or_name,
                                                           int64_t now_unix) {
    std::lock_guard lock(db_mutex_);
    auto tx = sqlite::Transaction::begin(*db_);
    if (!tx.ok()) return tx.status();
    auto found = find_locked(id_or_name);
    if (!found.ok()) return found.status();
    KeyRecord& record = *found;
    if (record.revoked_unix != 0) {
        return Status::error("key '" + record.name + "' is revoked; create a new key instead");
    }
    record.rotated_unix = std::max<int64_t>(now_unix, 1);
    const Secret secret = new_secret();
    auto update =
        db_->prepare("UPDATE keys SET salt = ?1, hash = ?2, rotated_unix = ?3 WHERE id = ?4");
    if (!update.ok()) return update.status();
    update->bind_blob(1, secret.salt).bind_blob(2, secret.hash);
    update->bind(3, record.rotated_unix).bind_text(4, record.id);
    CITADEL_TRY(update->run());
    CITADEL_TRY((*tx)->commit());
    reload_after_write_locked();
    std::string text = key_text(record.id, secret.text);
    return std::pair{std::move(record), std::move(text)};
}

}  // namespace citadel::gateway
