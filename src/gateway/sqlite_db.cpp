#include "gateway/sqlite_db.h"

#include <sqlite3.h>

#include <utility>

namespace citadel::gateway::sqlite {

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement::~Statement() {
    if (stmt_) sqlite3_finalize(stmt_);
}

Statement& Statement::bind(int index, int64_t value) {
    CITADEL_CHECK(sqlite3_bind_int64(stmt_, index, value) == SQLITE_OK);
    return *this;
}

Statement& Statement::bind_text(int index, std::string_view value) {
    CITADEL_CHECK(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                                      SQLITE_UTF8) == SQLITE_OK);
    return *this;
}

Statement& Statement::bind_blob(int index, std::string_view value) {
    CITADEL_CHECK(sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT) ==
                  SQLITE_OK);
    return *this;
}

Result<bool> Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    Status status = db_->error("statement failed");
    sqlite3_reset(stmt_);
    return status;
}

Status Statement::run() {
    for (;;) {
        auto row = step();
        if (!row.ok()) return row.status();
        if (!*row) return ok_status();
    }
}

void Statement::reset() {
    sqlite3_reset(stmt_);
}

int64_t Statement::column_int(int index) const {
    return sqlite3_column_int64(stmt_, index);
}

std::string Statement::column_text(int index) const {
    const auto* text = sqlite3_column_text(stmt_, index);
    const int size = sqlite3_column_bytes(stmt_, index);
    return text ? std::string(reinterpret_cast<const char*>(text), size_t(size)) : std::string();
}

std::string Statement::column_blob(int index) const {
    const void* blob = sqlite3_column_blob(stmt_, index);
    const int size = sqlite3_column_bytes(stmt_, index);
    return blob ? std::string(static_cast<const char*>(blob), size_t(size)) : std::string();
}

Result<std::unique_ptr<Database>> Database::open(const std::string& path, int busy_timeout_ms) {
    sqlite3* db = nullptr;
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string message = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
        sqlite3_close(db);
        return Status::error("database '" + path + "': cannot open: " + message);
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, busy_timeout_ms);
    return std::unique_ptr<Database>(new Database(db, path));
}

Database::~Database() {
    sqlite3_close(db_);  // every Statement is finalised by then (they never outlive a call)
}

Status Database::exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) == SQLITE_OK) return ok_status();
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    return Status::error("database '" + path_ + "': " + text);
}

Result<Statement> Database::prepare(std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.data(), int(sql.size()), &stmt, nullptr) != SQLITE_OK) {
        return error("cannot prepare a statement");
    }
    return Statement(*this, stmt);
}

Result<int64_t> Database::query_int(const char* sql) {
    auto stmt = prepare(sql);
    if (!stmt.ok()) return stmt.status();
    auto row = stmt->step();
    if (!row.ok()) return row.status();
    if (!*row) return Status::error("database '" + path_ + "': no result for " + sql);
    return stmt->column_int(0);
}

Status Database::error(std::string_view what) const {
    return Status::error("database '" + path_ + "': " + std::string(what) + ": " +
                         sqlite3_errmsg(db_));
}

Result<std::unique_ptr<Transaction>> Transaction::begin(Database& db) {
    CITADEL_TRY(db.exec("BEGIN IMMEDIATE"));
    return std::unique_ptr<Transaction>(new Transaction(db));
}

Status Transaction::commit() {
    CITADEL_TRY(db_.exec("COMMIT"));
    done_ = true;
    return ok_status();
}

Transaction::~Transaction() {
    if (!done_) db_.exec("ROLLBACK");
}

}  // namespace citadel::gateway::sqlite
