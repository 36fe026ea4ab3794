// A thin RAII layer over the SQLite C API for the gateway's small databases (API keys and
// usage): a connection, prepared statements with typed binds and columns, and a transaction
// guard that rolls back unless committed. Errors become Status values naming the file.
//
// Threading: a Database and its Statements belong to one thread at a time; callers serialise
// access with their own mutex (the connection is opened with SQLITE_OPEN_NOMUTEX).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace citadel::gateway::sqlite {

class Database;

// One prepared statement. Bind indexes start at 1, column indexes at 0 (as in SQLite).
class Statement {
  public:
    Statement(Database& db, sqlite3_stmt* stmt) : db_(&db), stmt_(stmt) {}
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&&) = delete;
    Statement(const Statement&) = delete;
    ~Statement();

    Statement& bind(int index, int64_t value);
    Statement& bind_text(int index, std::string_view value);
    Statement& bind_blob(int index, std::string_view value);

    Result<bool> step();  // true: a row is ready; false: done
    Status run();         // steps to completion, for statements without rows
    void reset();         // ready to run again; keeps the bindings

    int64_t column_int(int index) const;
    std::string column_text(int index) const;
    std::string column_blob(int index) const;

  private:
    Database* db_;
    sqlite3_stmt* stmt_;
};

class Database {
  public:
    // Opens (creating when missing) the file at `path` as given; file modes are the caller's.
    static Result<std::unique_ptr<Database>> open(const std::string& path, int busy_timeout_ms);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    Status exec(const char* sql);  // one or more statements without parameters or rows
    Result<Statement> prepare(std::string_view sql);
    Result<int64_t> query_int(const char* sql);  // the first column of the first row

    // "database '<path>': <what>: <SQLite's message>"
    Status error(std::string_view what) const;
    const std::string& path() const { return path_; }

  private:
    Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
    sqlite3* db_;
    std::string path_;
};

// BEGIN IMMEDIATE (take the write lock up front, so busy_timeout applies once) ... COMMIT;
// rolls back in the destructor unless commit() succeeded.
class Transaction {
  public:
    static Result<std::unique_ptr<Transaction>> begin(Database& db);
    Status commit();
    ~Transaction();

  private:
    explicit Transaction(Database& db) : db_(db) {}
    Database& db_;
    bool done_ = false;
};

}  // namespace citadel::gateway::sqlite
