#include "gateway/audit_log.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "core/log.h"
#include "gateway/audit_chain.h"
#include "gateway/audit_cipher.h"
#include "gateway/crypto.h"

namespace citadel::gateway {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kMaxBackoff(5000);

std::string errno_text() {
    return std::strerror(errno);
}

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string dir_of(const std::string& path) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    return slash == 0 ? "/" : path.substr(0, slash);
}

// Writes all of `data` at `offset`.
bool pwrite_all(int fd, std::string_view data, uint64_t offset) {
    while (!data.empty()) {
        const ssize_t n = ::pwrite(fd, data.data(), data.size(), off_t(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(size_t(n));
        offset += uint64_t(n);
    }
    return true;
}

// Replaces `path` with `data`: temp file, fsync, rename, fsync of the directory.
Status replace_file(const std::string& path, std::string_view data, int dir_fd) {
    const std::string tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return Status::error("cannot create " + tmp + ": " + errno_text());
    const bool written = pwrite_all(fd, data, 0) && ::fsync(fd) == 0;
    const std::string why = errno_text();
    ::close(fd);
    if (!written) return Status::error("cannot write " + tmp + ": " + why);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        return Status::error("cannot rename " + tmp + " to " + path + ": " + errno_text());
    }
    if (::fsync(dir_fd) != 0) return Status::error("cannot fsync the directory of " + path);
    return ok_status();
}

Status validate(const AuditOptions& o) {
    if (o.path.empty()) return Status::error("the audit log needs a path");
    if (o.flush_interval_ms <= 0) return Status::error("audit flush_interval_ms must be > 0");
    if (o.max_batch == 0) return Status::error("audit max_batch must be > 0");
    if (o.max_queue == 0) return Status::error("audit max_queue must be > 0");
    return ok_status();
}

}  // namespace

struct AuditLog::Impl {
    AuditOptions options;
    AuditTextPolicy text;
    size_t batch_records = 0;  // a batch is due at this many: min(max_batch, max_queue)
    std::string head_path;
    int fd = -1;
    int dir_fd = -1;

    // Writer thread only (and open() before the thread starts).
    uint64_t file_bytes = 0;  // the durable part of the file: complete lines only
    uint64_t last_seq = 0;    // of the last line in the file (or the head, after tail deletion)
    std::string last_hash;    // of the last line in the file
    std::string unwritten;    // formatted lines not yet durable (kept across failed attempts)
    size_t unwritten_records = 0;
    uint64_t unwritten_seq = 0;  // last_seq after `unwritten`
    std::string unwritten_hash;  // last_hash after `unwritten`
    bool head_stale = false;     // the head file lags the durable part of the log

    mutable std::mutex mu;
    std::condition_variable writer_cv;   // work for the writer
    std::condition_variable space_cv;    // room in the queue
    std::condition_variable durable_cv;  // records became durable, or a write failed
    std::deque<AuditRecord> queue;       // guarded by mu (a deque: growing it moves nothing)
    Clock::time_point oldest_waiting;    // when the oldest queued record arrived; mu
    uint64_t appended = 0;               // records appended so far; mu
    uint64_t durable = 0;                // records on disk so far (in append order); mu
    uint64_t flush_wanted = 0;           // flush() waits for durable >= this; mu
    uint64_t flush_calls = 0;          // flush() calls so far (one wakes a backing-off writer); mu
    uint64_t attempts = 0;             // write attempts started so far; mu
    uint64_t last_failed_attempt = 0;  // mu
    std::string last_error;            // mu
    bool stopping = false;             // mu
    std::thread writer;

    ~Impl() {
        if (fd >= 0) ::close(fd);
        if (dir_fd >= 0) ::close(dir_fd);
    }

    Status open_files();
    Status continue_chain();
    void run();
    bool wait_for_work(std::unique_lock<std::mutex>& lock);
    void format(const std::deque<AuditRecord>& batch);
    Status write_batch(size_t& made_durable);
    Status write_head();
};

Status AuditLog::Impl::open_files() {
    const std::string& path = options.path;
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return Status::error("cannot open the audit log " + path + ": " + errno_text());
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        return Status::error("the audit log " + path + " is not a regular file");
    }
    if (st.st_mode & 077) {
        CITADEL_LOG_WARN("audit log %s is readable by group or others (mode %03o); chmod 600",
                         path.c_str(), unsigned(st.st_mode & 0777));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        return Status::error("the audit log " + path + " is in use by another process (locked)");
    }
    dir_fd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return Status::error("cannot open the directory of " + path);
    return ok_status();
}

// Reads the existing log (if any): where its chain ends, whether it is intact, and whether a
// crash left a partial last line (cut off here).
Status AuditLog::Impl::continue_chain() {
    const std::string& path = options.path;
    auto head = read_audit_head(head_path);
    if (!head) return head.status();
    AuditChainChecker checker(AuditChainChecker::Depth::kChainOnly, "", *head ? (*head)->seq : 0);
    auto scan = scan_audit_file(path, checker);
    if (!scan) return scan.status();
    if (scan->partial_bytes > 0) {
        CITADEL_LOG_WARN(
            "audit log %s: cutting off a partial last line (%llu bytes, a crash "
            "mid-write)",
            path.c_str(), (unsigned long long)scan->partial_bytes);
        if (::ftruncate(fd, off_t(scan->complete_bytes)) != 0 || ::fdatasync(fd) != 0) {
            return Status::error("cannot cut the partial last line off " + path + ": " +
                                 errno_text());
        }
    }
    if (!checker.problem().empty()) {
        CITADEL_LOG_WARN(
            "audit log %s: the chain is broken (%s); appending continues after "
            "line %llu",
            path.c_str(), checker.problem().c_str(), (unsigned long long)checker.lines());
    }
    const std::string head_problem = checker.head_problem(*head);
    if (!head_problem.empty() && (checker.lines() > 0 || *head)) {
        CITADEL_LOG_WARN("audit log %s: %s", path.c_str(), head_problem.c_str());
    }
    file_bytes = scan->complete_bytes;
    // After records were cut from the end, numbering goes on after the head's seq: the gap
    // stays in the file for verify to see.
    last_seq = std::max(checker.max_seq(), *head ? (*head)->seq : 0);
    last_hash = checker.last_hash();
    unwritten_seq = last_seq;
    unwritten_hash = last_hash;
    if (!*head && checker.lines() == 0) return write_head();  // a new log
    return ok_status();
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(AuditOptions options) {
    CITADEL_TRY(validate(options));
    auto impl = std::make_unique<Impl>();
    if (options.record_text && !options.text_key_file.empty()) {
        auto key = load_audit_key(options.text_key_file);
        if (!key) return key.status();
        impl->text.key32 = std::move(*key);
    }
    impl->text.record_text = options.record_text;
    impl->head_path = audit_head_path(options.path);
    impl->batch_records = std::min(options.max_batch, options.max_queue);
    impl->options = std::move(options);
    CITADEL_TRY(impl->open_files());
    CITADEL_TRY(impl->continue_chain());
    Impl* raw = impl.get();
    impl->writer = std::thread([raw] { raw->run(); });
    return std::unique_ptr<AuditLog>(new AuditLog(std::move(impl)));
}

AuditLog::AuditLog(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AuditLog::~AuditLog() {
    {
        std::lock_guard lock(impl_->mu);
        impl_->stopping = true;
    }
    impl_->writer_cv.notify_all();
    impl_->writer.join();
}

void AuditLog::append(AuditRecord record) {
    if (record.time_ms == 0) record.time_ms = now_ms();
    Impl& s = *impl_;
    {
        std::unique_lock lock(s.mu);
        s.space_cv.wait(lock, [&] { return s.queue.size() < s.options.max_queue; });
        const bool first = s.queue.empty();
        if (first) s.oldest_waiting = Clock::now();
        s.queue.push_back(std::move(record));
        ++s.appended;
        // The writer sleeps until a record arrives (then it times the batch) or a batch is full.
        if (!first && s.queue.size() < s.batch_records) return;
    }
    s.writer_cv.notify_one();
}

Status AuditLog::flush() {
    Impl& s = *impl_;
    std::unique_lock lock(s.mu);
    const uint64_t target = s.appended;
    if (s.durable >= target) return ok_status();
    // Only an attempt that starts after this call can fail it (not one already under way).
    const uint64_t first_attempt = s.attempts + 1;
    s.flush_wanted = std::max(s.flush_wanted, target);
    ++s.flush_calls;
    s.writer_cv.notify_one();
    s.durable_cv.wait(
        lock, [&] { return s.durable >= target || s.last_failed_attempt >= first_attempt; });
    if (s.durable >= target) return ok_status();
    return Status::error("audit log " + s.options.path + ": " + s.last_error);
}

uint64_t AuditLog::records_written() const {
    std::lock_guard lock(impl_->mu);
    return impl_->durable;
}

std::string AuditLog::path() const {
    return impl_->options.path;
}

// Waits until a batch is due: max_batch records waiting, flush_interval_ms since the oldest
// arrived, a flush() waiting, or shutdown. False when there is nothing left to do at all.
bool AuditLog::Impl::wait_for_work(std::unique_lock<std::mutex>& lock) {
    const auto interval = std::chrono::milliseconds(options.flush_interval_ms);
    const auto due = [&] {
        return stopping || queue.size() >= batch_records || flush_wanted > durable;
    };
    const bool retry = unwritten_records > 0 || head_stale;  // the back-off was waited out
    if (!retry) {
        writer_cv.wait(lock, [&] { return stopping || !queue.empty() || flush_wanted > durable; });
        if (!queue.empty()) writer_cv.wait_until(lock, oldest_waiting + interval, due);
    }
    return !(stopping && queue.empty() && !retry);
}

void AuditLog::Impl::format(const std::deque<AuditRecord>& batch) {
    for (const AuditRecord& record : batch) {
        const std::string line = format_audit_line(++unwritten_seq, record, text, unwritten_hash);
        unwritten_hash = crypto::sha256_hex(line);
        unwritten += line;
        unwritten += '\n';
    }
    unwritten_records += batch.size();
}

// Makes `unwritten` durable (written at the end of the durable part, fdatasync), then replaces
// the head file. On failure the file is cut back to its durable part; `unwritten` stays.
Status AuditLog::Impl::write_batch(size_t& made_durable) {
    made_durable = 0;
    if (!unwritten.empty()) {
        if (!pwrite_all(fd, unwritten, file_bytes) || ::fdatasync(fd) != 0) {
            const std::string why = errno_text();
            (void)!::ftruncate(fd, off_t(file_bytes));  // best effort; the retry overwrites
            return Status::error("cannot write " + options.path + ": " + why);
        }
        file_bytes += unwritten.size();
        last_seq = unwritten_seq;
        last_hash = unwritten_hash;
        made_durable = unwritten_records;
        unwritten.clear();
        unwritten_records = 0;
        head_stale = true;
    }
    if (head_stale) CITADEL_TRY(write_head());
    return ok_status();
}

Status AuditLog::Impl::write_head() {
    AuditHead head;
    head.seq = last_seq;
    head.hash = last_hash;
    Status s = replace_file(head_path, format_audit_head(head), dir_fd);
    head_stale = !s.ok();
    return s;
}

void AuditLog::Impl::run() {
    constexpr std::chrono::milliseconds kFirstBackoff(50);
    auto backoff = kFirstBackoff;
    int failures_in_a_row = 0;
    std::unique_lock lock(mu);
    while (wait_for_work(lock)) {
        std::deque<AuditRecord> batch;
        batch.swap(queue);
        const uint64_t attempt = ++attempts;
        space_cv.notify_all();
        lock.unlock();
        format(batch);
        size_t made_durable = 0;
        const Status s = write_batch(made_durable);
        lock.lock();
        durable += made_durable;
        durable_cv.notify_all();
        if (s.ok()) {
            if (failures_in_a_row > 0) {
                CITADEL_LOG_WARN("audit log %s: writing again after %d failed attempts",
                                 options.path.c_str(), failures_in_a_row);
            }
            failures_in_a_row = 0;
            backoff = kFirstBackoff;
            continue;
        }
        last_failed_attempt = attempt;
        last_error = s.message();
        if (++failures_in_a_row == 1 || backoff == kMaxBackoff) {
            CITADEL_LOG_WARN("audit log: %s (retrying)", s.message().c_str());
        }
        if (stopping && failures_in_a_row >= 2) break;  // one more try at shutdown, then give up
        const uint64_t calls = flush_calls;             // a new flush() cuts the back-off short
        writer_cv.wait_for(lock, backoff, [&] { return stopping || flush_calls != calls; });
        backoff = std::min(backoff * 2, kMaxBackoff);
    }
    const size_t lost = unwritten_records + queue.size();
    if (lost > 0) {
        log_message(LogLevel::kError, "audit log %s: %zu records lost: %s", options.path.c_str(),
                    lost, last_error.c_str());
    }
}

}  // namespace citadel::gateway
