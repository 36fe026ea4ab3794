// The audit log on real files: line format round trip, the hash chain and its head file,
// tamper detection by verify_audit_log, crash recovery on reopen, sealed text, concurrency,
// durability of flush(), file modes, write errors (RLIMIT_FSIZE).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <thread>

#include "gateway/audit_chain.h"
#include "gateway/audit_cipher.h"
#include "gateway/audit_log.h"
#include "gateway/audit_verify.h"
#include "gateway/crypto.h"

namespace citadel::gateway {
namespace {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << data;
}

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
    std::string data;
    for (const std::string& line : lines) data += line + "\n";
    write_file(path, data);
}

AuditRecord make_record(int i) {
    AuditRecord r;
    r.time_ms = 1795255200123 + i;
    r.request_id = "req-" + std::to_string(i);
    r.identity = "key:k" + std::to_string(i % 3);
    r.role = "user";
    r.model = "qwen";
    r.route = "POST /v1/chat/completions";
    r.client = "127.0.0.1:51234";
    r.status = 200;
    r.latency_ms = 12 + i;
    r.prompt_tokens = 5;
    r.completion_tokens = 7;
    r.guards = {"pii.input:redact:EMAIL"};
    r.prompt = "prompt number " + std::to_string(i);
    r.completion = "completion number " + std::to_string(i);
    return r;
}

class AuditLogTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/citadel-audit-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/audit.log";
    }
    void TearDown() override { fs::remove_all(dir_); }

    AuditOptions options() const {
        AuditOptions o;
        o.path = path_;
        return o;
    }
    std::unique_ptr<AuditLog> open(AuditOptions o) {
        auto log = AuditLog::open(std::move(o));
        EXPECT_TRUE(log.ok()) << log.error();
        return log.ok() ? std::move(*log) : nullptr;
    }
    // Writes records first..last (1-based, inclusive) through a fresh AuditLog.
    void write_records(int first, int last, AuditOptions o) {
        auto log = open(std::move(o));
        ASSERT_TRUE(log);
        for (int i = first; i <= last; ++i) log->append(make_record(i));
    }
    void write_records(int first, int last) { write_records(first, last, options()); }
    std::string write_key(const std::string& name, const std::string& contents) {
        const std::string path = dir_ + "/" + name;
        write_file(path, contents);
        ::chmod(path.c_str(), 0600);
        return path;
    }
    void expect_problem(const std::string& part) {
        const AuditVerifyReport report = verify_audit_log(path_);
        EXPECT_FALSE(report.ok);
        EXPECT_NE(report.problem.find(part), std::string::npos) << report.problem;
    }

    std::string dir_, path_;
};

TEST(AuditRecordTest, TimeFormatsBothWays) {
    EXPECT_EQ(format_utc_ms(0), "1970-01-01T00:00:00.000Z");
    EXPECT_EQ(format_utc_ms(1795255200123), "2026-11-21T10:00:00.123Z");
    EXPECT_EQ(format_utc_ms(-1), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(parse_utc_ms("2026-11-21T10:00:00.123Z"), 1795255200123);
    EXPECT_EQ(parse_utc_ms("1969-12-31T23:59:59.999Z"), -1);
    EXPECT_FALSE(parse_utc_ms("2026-11-21 10:00:00.123Z"));
    EXPECT_FALSE(parse_utc_ms("2026-11-21T10:00:00Z"));
}

TEST(AuditRecordTest, LineKeepsKeyOrderAndEscapesText) {
    AuditRecord r = make_record(1);
    r.prompt = "two\nlines \"quoted\" ünïcode";
    r.identity = std::string("bad\xff utf8");
    AuditTextPolicy text;
    text.record_text = true;
    const std::string line = format_audit_line(1, r, text, kAuditZeroHash);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_EQ(line.rfind("{\"seq\":1,\"time\":\"2026-11-21T10:00:00.124Z\",\"request_id\":", 0), 0u)
        << line;
    EXPECT_NE(line.find(",\"prev\":\"" + std::string(kAuditZeroHash) + "\"}"), std::string::npos);
    auto parsed = parse_audit_line(line);
    ASSERT_TRUE(parsed.ok()) << parsed.error();
    EXPECT_EQ(parsed->record.prompt, r.prompt);
    EXPECT_EQ(parsed->record.identity, "bad\xef\xbf\xbd utf8");  // U+FFFD for the bad byte
}

TEST(AuditRecordTest, ParseNamesTheBadField) {
    auto bad = parse_audit_line("{\"seq\":1,\"prev\":\"" + std::string(kAuditZeroHash) + "\"}");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().find("\"time\""), std::string::npos) << bad.error();
    EXPECT_EQ(parse_audit_line("{\"seq\":1,").error(), "not valid JSON");
    EXPECT_NE(parse_audit_line("{\"seq\":-1}").error().find("\"seq\""), std::string::npos);
}

TEST_F(AuditLogTest, RecordsRoundTrip) {
    AuditOptions o = options();
    o.record_text = true;
    write_records(1, 3, o);
    const auto lines = read_lines(path_);
    ASSERT_EQ(lines.size(), 3u);
    for (int i = 1; i <= 3; ++i) {
        auto parsed = parse_audit_line(lines[i - 1]);
        ASSERT_TRUE(parsed.ok()) << parsed.error();
        const AuditRecord want = make_record(i), &got = parsed->record;
        EXPECT_EQ(parsed->seq, uint64_t(i));
        EXPECT_EQ(got.time_ms, want.time_ms);
        EXPECT_EQ(got.request_id, want.request_id);
        EXPECT_EQ(got.identity, want.identity);
        EXPECT_EQ(got.role, want.role);
        EXPECT_EQ(got.model, want.model);
        EXPECT_EQ(got.route, want.route);
        EXPECT_EQ(got.client, want.client);
        EXPECT_EQ(got.status, want.status);
        EXPECT_EQ(got.latency_ms, want.latency_ms);
        EXPECT_EQ(got.prompt_tokens, want.prompt_tokens);
        EXPECT_EQ(got.completion_tokens, want.completion_tokens);
        EXPECT_EQ(got.guards, want.guards);
        EXPECT_EQ(got.error, want.error);
        EXPECT_EQ(got.prompt, want.prompt);
        EXPECT_EQ(got.completion, want.completion);
        const std::string prev =
            i == 1 ? std::string(kAuditZeroHash) : crypto::sha256_hex(lines[i - 2]);
        EXPECT_EQ(parsed->prev, prev);
    }
}

TEST_F(AuditLogTest, AppendFillsInTheTime) {
    const auto before = std::chrono::system_clock::now();
    {
        auto log = open(options());
        AuditRecord r = make_record(1);
        r.time_ms = 0;
        log->append(r);
    }
    auto parsed = parse_audit_line(read_lines(path_).at(0));
    ASSERT_TRUE(parsed.ok());
    const int64_t before_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(before.time_since_epoch()).count();
    EXPECT_GE(parsed->record.time_ms, before_ms);
    EXPECT_LT(parsed->record.time_ms, before_ms + 60000);
}

TEST_F(AuditLogTest, ChainVerifiesAndHeadMatches) {
    write_records(1, 10);
    const AuditVerifyReport report = verify_audit_log(path_);
    EXPECT_TRUE(report.ok) << report.problem;
    EXPECT_EQ(report.records, 10u);
    auto head = read_audit_head(path_ + ".head");
    ASSERT_TRUE(head.ok() && head->has_value());
    EXPECT_EQ((*head)->seq, 10u);
    EXPECT_EQ((*head)->hash, crypto::sha256_hex(read_lines(path_).back()));
}

TEST_F(AuditLogTest, EmptyLogVerifies) {
    { auto log = open(options()); }
    const AuditVerifyReport report = verify_audit_log(path_);
    EXPECT_TRUE(report.ok) << report.problem;
    EXPECT_EQ(report.records, 0u);
}

TEST_F(AuditLogTest, ReopenContinuesTheChain) {
    write_records(1, 5);
    write_records(6, 9);
    const auto lines = read_lines(path_);
    ASSERT_EQ(lines.size(), 9u);
    for (size_t i = 0; i < lines.size(); ++i) EXPECT_EQ(parse_audit_line(lines[i])->seq, i + 1);
    const AuditVerifyReport report = verify_audit_log(path_);
    EXPECT_TRUE(report.ok) << report.problem;
    EXPECT_EQ(report.records, 9u);
}

TEST_F(AuditLogTest, DeletedMiddleLineIsDetected) {
    write_records(1, 8);
    auto lines = read_lines(path_);
    lines.erase(lines.begin() + 4);  // seq 5
    write_lines(path_, lines);
    expect_problem("line 5: seq jumps from 4 to 6 — 1 record deleted");
}

TEST_F(AuditLogTest, EditedFieldIsDetected) {
    write_records(1, 8);
    auto lines = read_lines(path_);
    const size_t at = lines[5].find("\"status\":200");
    ASSERT_NE(at, std::string::npos);
    lines[5].replace(at, 12, "\"status\":201");
    write_lines(path_, lines);
    expect_problem(
        "line 7: prev does not match the hash of line 6 — line 6 was edited, or lines were "
        "removed or reordered");
}

TEST_F(AuditLogTest, SwappedLinesAreDetected) {
    write_records(1, 8);
    auto lines = read_lines(path_);
    std::swap(lines[2], lines[3]);
    write_lines(path_, lines);
    expect_problem("line 3: seq 4 comes before seq 3 (line 4) — lines were swapped or reordered");
}

TEST_F(AuditLogTest, DeletedFirstLineIsDetected) {
    write_records(1, 4);
    auto lines = read_lines(path_);
    lines.erase(lines.begin());
    write_lines(path_, lines);
    expect_problem("line 1: the log starts at seq 2, not 1 — 1 record deleted from its start");
}

TEST_F(AuditLogTest, DeletedLastLinesAreDetectedByTheHead) {
    write_records(1, 12);
    auto lines = read_lines(path_);
    lines.resize(10);
    write_lines(path_, lines);
    expect_problem(
        "the log ends at seq 10 but its head file says 12 — records were removed from the end");
}

TEST_F(AuditLogTest, EditedLastLineIsDetectedByTheHead) {
    write_records(1, 6);
    auto lines = read_lines(path_);
    lines[5].replace(lines[5].find("req-6"), 5, "req-X");
    write_lines(path_, lines);
    expect_problem("line 6: its hash does not match the head file — line 6 was edited");
}

TEST_F(AuditLogTest, LineThatIsNotJsonIsReported) {
    write_records(1, 4);
    auto lines = read_lines(path_);
    lines[1] = "not json at all";
    write_lines(path_, lines);
    expect_problem("line 2: not valid JSON");
    testing::internal::CaptureStderr();
    write_records(5, 5);  // the writer warns about line 2 and carries on
    testing::internal::GetCapturedStderr();
    EXPECT_EQ(parse_audit_line(read_lines(path_).back())->seq, 5u);
    expect_problem("line 2: not valid JSON");
}

TEST_F(AuditLogTest, MissingHeadIsReported) {
    write_records(1, 3);
    fs::remove(path_ + ".head");
    expect_problem("the head file is missing");
}

TEST_F(AuditLogTest, HeadOneBatchBehindPasses) {
    // A crash between the log's fsync and the head's rename leaves the head behind the log.
    write_records(1, 5);
    const std::string head = read_file(path_ + ".head");
    write_records(6, 8);
    write_file(path_ + ".head", head);
    const AuditVerifyReport report = verify_audit_log(path_);
    EXPECT_TRUE(report.ok) << report.problem;
    EXPECT_EQ(report.records, 8u);
}

TEST_F(AuditLogTest, PartialLastLineIsCutOffOnReopen) {
    write_records(1, 5);
    const std::string partial = "{\"seq\":6,\"time\":\"2026-11";
    write_file(path_, read_file(path_) + partial);
    expect_problem("line 6 is incomplete (" + std::to_string(partial.size()) + " bytes");

    testing::internal::CaptureStderr();
    { auto log = open(options()); }
    const std::string warnings = testing::internal::GetCapturedStderr();
    EXPECT_NE(warnings.find("partial last line (" + std::to_string(partial.size()) + " bytes"),
              std::string::npos)
        << warnings;
    AuditVerifyReport report = verify_audit_log(path_);
    EXPECT_TRUE(report.ok) << report.problem;
    EXPECT_EQ(report.records, 5u);

    write_records(6, 7);
    report = verify_audit_log(path_);
    EXPECT_TRUE(report.ok) << report.problem;
    EXPECT_EQ(report.records, 7u);
    EXPECT_EQ(parse_audit_line(read_lines(path_).back())->seq, 7u);
}

TEST_F(AuditLogTest, ReopenAfterTailDeletionKeepsTheGapVisible) {
    write_records(1, 10);
    auto lines = read_lines(path_);
    lines.resize(8);
    write_lines(path_, lines);
    testing::internal::CaptureStderr();
    write_records(11, 11);
    const std::string warnings = testing::internal::GetCapturedStderr();
    EXPECT_NE(warnings.find("records were removed from the end"), std::string::npos) << warnings;
    expect_problem("line 9: seq jumps from 8 to 11 — 2 records deleted");
}

TEST_F(AuditLogTest, ReopenOfABrokenChainWarnsAndAppends) {
    write_records(1, 4);
    auto lines = read_lines(path_);
    lines[1].replace(lines[1].find("req-2"), 5, "req-Y");
    write_lines(path_, lines);
    testing::internal::CaptureStderr();
    write_records(5, 6);
    const std::string warnings = testing::internal::GetCapturedStderr();
    EXPECT_NE(warnings.find("the chain is broken (line 3: prev does not match the hash of line 2"),
              std::string::npos)
        << warnings;
    EXPECT_EQ(read_lines(path_).size(), 6u);
    expect_problem("line 3: prev does not match the hash of line 2");
}

TEST_F(AuditLogTest, NoTextWithoutRecordText) {
    write_records(1, 3);  // records carry prompt and completion; record_text is off
    const std::string data = read_file(path_);
    EXPECT_EQ(data.find("prompt number"), std::string::npos);
    EXPECT_EQ(data.find("completion number"), std::string::npos);
    EXPECT_EQ(data.find("\"prompt\""), std::string::npos);
    EXPECT_EQ(data.find("_enc\""), std::string::npos);
}

TEST_F(AuditLogTest, SealedTextRoundTripsAndVerifiesOnlyWithItsKey) {
    const std::string key = crypto::random_bytes(32);
    AuditOptions o = options();
    o.record_text = true;
    o.text_key_file = write_key("text.key", crypto::to_hex(key) + "\n");
    write_records(1, 3, o);

    const std::string data = read_file(path_);
    EXPECT_EQ(data.find("prompt number"), std::string::npos);
    EXPECT_EQ(data.find("\"prompt\":"), std::string::npos);
    const auto lines = read_lines(path_);
    for (int i = 1; i <= 3; ++i) {
        auto parsed = parse_audit_line(lines[i - 1]);
        ASSERT_TRUE(parsed.ok() && parsed->prompt_enc && parsed->completion_enc);
        const std::string id = "req-" + std::to_string(i);
        auto prompt = decrypt_audit_text(*parsed->prompt_enc, key, id + "prompt");
        auto completion = decrypt_audit_text(*parsed->completion_enc, key, id + "completion");
        ASSERT_TRUE(prompt.ok() && completion.ok());
        EXPECT_EQ(*prompt, *make_record(i).prompt);
        EXPECT_EQ(*completion, *make_record(i).completion);
    }
    AuditVerifyReport report = verify_audit_log(path_, o.text_key_file);
    EXPECT_TRUE(report.ok) << report.problem;
    EXPECT_TRUE(verify_audit_log(path_).ok);  // without a key the chain still verifies

    const std::string wrong = write_key("wrong.key", crypto::random_bytes(32));
    report = verify_audit_log(path_, wrong);
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.problem, "line 1: prompt_enc does not decrypt with this key");
}

TEST_F(AuditLogTest, SealedTextIsBoundToItsRecordAndField) {
    const std::string key = crypto::random_bytes(32);
    AuditOptions o = options();
    o.record_text = true;
    o.text_key_file = write_key("raw.key", key);  // 32 raw bytes
    write_records(1, 3, o);
    auto lines = read_lines(path_);
    const auto first = parse_audit_line(lines[0]);
    const auto second = parse_audit_line(lines[1]);
    ASSERT_TRUE(first.ok() && second.ok());
    // Another record's AAD, or the other field's, does not open it.
    EXPECT_FALSE(decrypt_audit_text(*first->prompt_enc, key, "req-2prompt").ok());
    EXPECT_FALSE(decrypt_audit_text(*first->prompt_enc, key, "req-1completion").ok());
    EXPECT_TRUE(decrypt_audit_text(*first->prompt_enc, key, "req-1prompt").ok());
    // Moving record 1's sealed prompt into record 2 is caught by verify with the key.
    lines[1].replace(lines[1].find(*second->prompt_enc), second->prompt_enc->size(),
                     *first->prompt_enc);
    write_lines(path_, lines);
    const AuditVerifyReport report = verify_audit_log(path_, o.text_key_file);
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.problem, "line 2: prompt_enc does not decrypt with this key");
}

TEST_F(AuditLogTest, BadKeyFileFailsOpen) {
    AuditOptions o = options();
    o.record_text = true;
    o.text_key_file = write_key("short.key", "0123456789");
    auto log = AuditLog::open(o);
    ASSERT_FALSE(log.ok());
    EXPECT_NE(log.error().find("expected 32 raw bytes or 64 hex characters"), std::string::npos)
        << log.error();
    o.text_key_file = dir_ + "/absent.key";
    EXPECT_NE(AuditLog::open(o).error().find("cannot read the audit key file"), std::string::npos);
}

TEST_F(AuditLogTest, CipherRejectsTamperingAndShortInput) {
    const std::string key = crypto::random_bytes(32);
    std::string sealed = seal_audit_text(key, "secret", "aad");
    EXPECT_EQ(sealed.size(), kAuditNonceBytes + 6 + kAuditTagBytes);
    EXPECT_EQ(*open_audit_text(key, sealed, "aad"), "secret");
    EXPECT_NE(seal_audit_text(key, "secret", "aad"), sealed);  // a fresh nonce every time
    sealed[kAuditNonceBytes] ^= 1;
    EXPECT_FALSE(open_audit_text(key, sealed, "aad").ok());
    EXPECT_FALSE(open_audit_text(key, "short", "aad").ok());
    EXPECT_EQ(*open_audit_text(key, seal_audit_text(key, "", "a"), "a"), "");
}

TEST_F(AuditLogTest, ConcurrentAppendsAreAllPresentInOrder) {
    constexpr int kThreads = 8, kPerThread = 1000;
    auto log = open(options());
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&log, t] {
            for (int i = 0; i < kPerThread; ++i) {
                AuditRecord r = make_record(i);
                r.request_id = std::to_string(t) + "-" + std::to_string(i);  // (GCC 12
                // warns falsely about "t" + std::string here)
                log->append(std::move(r));
            }
        });
    }
    for (auto& thread : threads) thread.join();
    ASSERT_TRUE(log->flush().ok());
    EXPECT_EQ(log->records_written(), uint64_t(kThreads * kPerThread));
    const auto lines = read_lines(path_);
    ASSERT_EQ(lines.size(), size_t(kThreads * kPerThread));
    std::set<std::string> ids;
    for (size_t i = 0; i < lines.size(); ++i) {
        auto parsed = parse_audit_line(lines[i]);
        ASSERT_TRUE(parsed.ok());
        ASSERT_EQ(parsed->seq, i + 1);
        ids.insert(parsed->record.request_id);
    }
    EXPECT_EQ(ids.size(), size_t(kThreads * kPerThread));
    const AuditVerifyReport report = verify_audit_log(path_);
    EXPECT_TRUE(report.ok) << report.problem;
    EXPECT_EQ(report.records, uint64_t(kThreads * kPerThread));
}

TEST_F(AuditLogTest, FlushPutsRecordsOnDiskBeforeTheInterval) {
    AuditOptions o = options();
    o.flush_interval_ms = 600000;  // only flush() (or the destructor) writes here
    auto log = open(o);
    for (int i = 1; i <= 3; ++i) log->append(make_record(i));
    EXPECT_EQ(read_lines(path_).size(), 0u);
    ASSERT_TRUE(log->flush().ok());
    EXPECT_EQ(read_lines(path_).size(), 3u);
    EXPECT_EQ(log->records_written(), 3u);
    EXPECT_EQ((*read_audit_head(path_ + ".head"))->seq, 3u);
    EXPECT_TRUE(verify_audit_log(path_).ok);
    EXPECT_TRUE(log->flush().ok());  // nothing new: returns at once
}

// One record and no flush(): written once the interval has passed (the writer must wake up
// for the first record of a batch, not only for a full batch).
TEST_F(AuditLogTest, ALoneRecordIsWrittenAfterTheInterval) {
    AuditOptions o = options();
    o.flush_interval_ms = 50;
    auto log = open(o);
    log->append(make_record(1));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (log->records_written() < 1 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling, bounded
    }
    EXPECT_EQ(log->records_written(), 1u);
    EXPECT_EQ(read_lines(path_).size(), 1u);
}

TEST_F(AuditLogTest, AFullBatchIsWrittenWithoutFlush) {
    AuditOptions o = options();
    o.flush_interval_ms = 600000;
    o.max_batch = 4;
    auto log = open(o);
    for (int i = 1; i <= 4; ++i) log->append(make_record(i));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (log->records_written() < 4 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling, bounded
    }
    EXPECT_EQ(log->records_written(), 4u);
    EXPECT_EQ(read_lines(path_).size(), 4u);
}

TEST_F(AuditLogTest, DestructorDrainsTheQueue) {
    AuditOptions o = options();
    o.flush_interval_ms = 600000;
    o.max_queue = 16;  // appends wait for the writer past this
    {
        auto log = open(o);
        for (int i = 1; i <= 100; ++i) log->append(make_record(i));
    }
    EXPECT_EQ(read_lines(path_).size(), 100u);
    EXPECT_TRUE(verify_audit_log(path_).ok);
}

TEST_F(AuditLogTest, FilesAreCreatedOwnerOnlyAndLocked) {
    const mode_t old_umask = ::umask(0);
    auto log = open(options());
    ::umask(old_umask);
    log->append(make_record(1));
    ASSERT_TRUE(log->flush().ok());
    struct stat st {};
    ASSERT_EQ(::stat(path_.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    ASSERT_EQ(::stat((path_ + ".head").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto second = AuditLog::open(options());
    ASSERT_FALSE(second.ok());
    EXPECT_NE(second.error().find("in use by another process"), std::string::npos);
}

TEST_F(AuditLogTest, BadOptionsAreRefused) {
    AuditOptions o = options();
    o.max_batch = 0;
    EXPECT_FALSE(AuditLog::open(o).ok());
    o = options();
    o.path = dir_ + "/missing-dir/audit.log";
    EXPECT_NE(AuditLog::open(o).error().find("cannot open the audit log"), std::string::npos);
}

// Lowers RLIMIT_FSIZE for the process (with SIGXFSZ ignored, writes past it fail with EFBIG).
class FileSizeLimit {
  public:
    explicit FileSizeLimit(rlim_t bytes) {
        old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
        ::getrlimit(RLIMIT_FSIZE, &old_);
        rlimit lowered = old_;
        lowered.rlim_cur = bytes;
        ::setrlimit(RLIMIT_FSIZE, &lowered);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &old_);
        std::signal(SIGXFSZ, old_handler_);
    }

  private:
    rlimit old_{};
    void (*old_handler_)(int) = nullptr;
};

TEST_F(AuditLogTest, WriteErrorsAreReportedRetriedAndLeaveNoPartialLine) {
    AuditOptions o = options();
    o.flush_interval_ms = 600000;
    auto log = open(o);
    log->append(make_record(1));
    ASSERT_TRUE(log->flush().ok());
    const uintmax_t size_before = fs::file_size(path_);
    Status failed;
    testing::internal::CaptureStderr();
    {
        FileSizeLimit limit(size_before + 100);  // room for part of one more line only
        for (int i = 2; i <= 5; ++i) log->append(make_record(i));
        failed = log->flush();
        EXPECT_EQ(fs::file_size(path_), size_before);  // the half-written batch was cut off
    }
    testing::internal::GetCapturedStderr();
    ASSERT_FALSE(failed.ok());
    EXPECT_NE(failed.message().find("cannot write"), std::string::npos) << failed.message();
    const Status retried = log->flush();  // the limit is gone: the retry succeeds
    ASSERT_TRUE(retried.ok()) << retried.message() << " / first: " << failed.message();
    EXPECT_EQ(log->records_written(), 5u);
    const AuditVerifyReport report = verify_audit_log(path_);
    EXPECT_TRUE(report.ok) << report.problem;
    EXPECT_EQ(report.records, 5u);
}

// Measurements, not checks: run with --gtest_also_run_disabled_tests.
TEST_F(AuditLogTest, DISABLED_Bench) {
    using Clock = std::chrono::steady_clock;
    auto seconds_since = [](Clock::time_point start) {
        return std::chrono::duration<double>(Clock::now() - start).count();
    };
    constexpr int kRecords = 100000;
    std::vector<AuditRecord> records;
    for (int i = 0; i < kRecords; ++i) records.push_back(make_record(i));
    {
        // The caller's cost alone: the writer sleeps until flush().
        AuditOptions o = options();
        o.max_queue = o.max_batch = kRecords + 1;
        o.flush_interval_ms = 600000;
        auto log = open(o);
        std::vector<AuditRecord> copy = records;
        const auto start = Clock::now();
        for (auto& r : copy) log->append(std::move(r));
        std::printf("append, writer idle: %.0f ns/record\n", seconds_since(start) * 1e9 / kRecords);
        ASSERT_TRUE(log->flush().ok());
    }
    fs::remove(path_);
    fs::remove(path_ + ".head");
    {
        // Defaults (batches of 512 or every 100 ms), the writer running alongside.
        AuditOptions o = options();
        o.max_queue = kRecords;
        auto log = open(o);
        const auto start = Clock::now();
        for (auto& r : records) log->append(std::move(r));
        const double appended = seconds_since(start);
        ASSERT_TRUE(log->flush().ok());
        const double written = seconds_since(start);
        std::printf(
            "append, writer busy: %.0f ns/record; written (formatted, fsynced in batches): "
            "%.0f records/s (%d records, %.2f s, %.1f MB)\n",
            appended * 1e9 / kRecords, kRecords / written, kRecords, written,
            double(fs::file_size(path_)) / 1e6);
    }
    auto start = Clock::now();
    { auto log = open(options()); }
    std::printf("reopen (chain check): %.0f records/s\n", kRecords / seconds_since(start));
    start = Clock::now();
    EXPECT_TRUE(verify_audit_log(path_).ok);
    std::printf("verify: %.0f records/s\n", kRecords / seconds_since(start));
}

}  // namespace
}  // namespace citadel::gateway
