// The tamper-evident audit log: one JSON line per request (format: audit_record.h), each line
// holding the SHA-256 of the line before it, so an edited, deleted or reordered line breaks the
// chain. A head file `<path>.head` ({"seq":N,"hash":"<64 hex>"}, replaced atomically after every
// batch) records where the log ends, so records cut from the end are detected too
// (audit_verify.h checks all of this).
//
// What the chain proves: it detects changes made without recomputing the hashes after the edit.
// Someone who can rewrite both files can forge a consistent log; against that, copy the head's
// hash somewhere they cannot write (another machine, a write-once store) now and then.
//
// Threading: append() may be called from any thread and never touches the disk; one writer
// thread owned by the AuditLog formats, seals, writes, flushes and fsyncs batches, in the order
// the records were appended. append() blocks only while max_queue records are already waiting.
//
// Durability bound: a batch is written and fsynced when max_batch records are waiting or
// flush_interval_ms after its first record arrived, whichever comes first. A crash (of the
// process or the machine) therefore loses at most the records appended since the last completed
// fsync: normally at most max_batch records or flush_interval_ms worth. If the disk is slower
// than the request rate, records queue up and the bound grows to what is queued (at most
// max_queue records plus the batch being written).
//
// Write errors (disk full, I/O error): the failed batch is cut off the file again (so the file
// never holds a half-written line), kept in memory and retried with growing back-off (up to 5 s).
// Records keep queuing meanwhile; once max_queue are waiting, append() blocks: requests stall
// rather than go unaudited. flush() reports the error. The destructor gives up after one more
// failed attempt and logs how many records were lost.
//
// Opening an existing log continues its chain: seq and prev come from its last complete line.
//  - A partial last line (a crash mid-write) is cut off, with a warning naming the bytes.
//  - The whole file is checked once (one pass hashing every line; seq and prev are read from
//    their fixed places, so this runs at about SHA-256 speed); a broken chain is a warning, not
//    an error: appending continues after the last line. Sealed text is not opened here.
//  - When the head file says the log went further than its last line (records cut from the
//    end), numbering continues after the head's seq, so the gap stays visible to verify.
// To rotate, move the log and its head file away together while no AuditLog has them open.
//
// Files are created with mode 0600 and locked (flock) against a second writer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"
#include "gateway/audit_record.h"

namespace citadel::gateway {

struct AuditOptions {
    std::string path;
    int flush_interval_ms = 100;  // a batch is written, flushed and fsynced at least this often
    size_t max_batch = 512;       // ... or when this many records are waiting
    size_t max_queue = 65536;     // append() waits when the writer is this far behind
    bool record_text = false;     // keep prompt/completion text at all
    // When set, text is AES-256-GCM encrypted with this key (32 raw bytes, or 64 hex chars +
    // optional newline). Ignored without record_text.
    std::string text_key_file;
};

class AuditLog {
  public:
    // Opens or creates options.path (and its head file) and starts the writer thread. Fails on
    // bad options, an unreadable key file, a file that cannot be opened, read or locked.
    static Result<std::unique_ptr<AuditLog>> open(AuditOptions options);
    ~AuditLog();  // drains the queue, fsyncs, joins the writer thread

    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    // Any thread. Never blocks on disk (only while max_queue records are waiting).
    void append(AuditRecord record);
    // Waits until everything appended before the call is on disk (written, fsynced, head file
    // replaced). Returns the writer's error when a write failed meanwhile.
    Status flush();
    uint64_t records_written() const;  // records this AuditLog has put on disk (fsynced)
    std::string path() const;

  private:
    struct Impl;
    explicit AuditLog(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

}  // namespace citadel::gateway
