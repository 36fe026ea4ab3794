#include "loadgen/runner.h"

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>

#include "loadgen/sse.h"

namespace citadel::loadgen {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

auto with(error_code& ec) {
    return asio::redirect_error(asio::use_awaitable, ec);
}

bool refused_for_good(int status) {
    return status == 401 || status == 403 || status == 404;
}

// The state of one phase (warm-up or the measured run). One thread: nothing is locked.
struct Phase {
    asio::io_context& io;
    const Target& target;
    const Schedule& schedule;
    const std::vector<Prompt>& prompts;
    std::shared_ptr<asio::ssl::context> tls;
    bool warmup = false;
    int64_t limit = 0;  // requests to send at most
    Clock::time_point start = Clock::now();
    Clock::time_point last_end = start;
    int64_t next = 0, in_flight = 0, done = 0, failed = 0, live_chunks = 0;
    int tasks = 0;  // coroutines still running
    bool stop = false;
    std::string fatal;
    std::vector<RequestRecord> records;
    std::vector<std::unique_ptr<Connection>> idle;
    asio::steady_timer wake{io};      // cancelled whenever a request ends
    asio::steady_timer progress{io};  // cancelled when the last task ends
    std::function<void()> on_chunk = [this] { ++live_chunks; };

    const Prompt& prompt(int64_t i) const {
        // The warm-up takes prompts from the other end of the order, so the measured requests
        // do not find theirs in a prefix cache.
        const int64_t n = int64_t(schedule.prompt_order.size());
        return prompts[schedule.prompt_for(warmup ? n - 1 - (i % n) : i)];
    }
    bool time_is_up() const {
        const double d = schedule.shape.duration_s;
        return !warmup && d > 0 && Clock::now() >= start + std::chrono::duration<double>(d);
    }
    void finish(RequestRecord r) {
        last_end = Clock::now();
        ++done;
        if (!r.ok) ++failed;
        if (!r.ok && refused_for_good(r.http_status) && fatal.empty()) {
            fatal = r.error;
            stop = true;
        }
        if (!warmup) records.push_back(std::move(r));
        wake.cancel();
    }
    void task_ended() {
        if (--tasks == 0) progress.cancel();
    }
    std::unique_ptr<Connection> take_connection() {
        if (idle.empty()) return std::make_unique<Connection>(io, target, tls);
        std::unique_ptr<Connection> c = std::move(idle.back());
        idle.pop_back();
        return c;
    }
};

asio::awaitable<void> closed_loop_client(Phase& p) {
    Connection conn(p.io, p.target, p.tls);
    while (!p.stop && p.next < p.limit && !p.time_is_up()) {
        const int64_t i = p.next++;
        ++p.in_flight;
        RequestRecord r = co_await send_request(conn, p.prompt(i), p.start, p.on_chunk);
        --p.in_flight;
        p.finish(std::move(r));
    }
    conn.close();
    p.task_ended();
}

asio::awaitable<void> open_loop_request(Phase& p, int64_t i) {
    std::unique_ptr<Connection> c = p.take_connection();
    RequestRecord r = co_await send_request(*c, p.prompt(i), p.start, p.on_chunk);
    if (c->is_open()) p.idle.push_back(std::move(c));
    --p.in_flight;
    p.finish(std::move(r));
    p.task_ended();
}

// Sends request i at start + arrival_s[i] (a request held back by the cap goes when a slot
// frees; its latency counts from when it was sent).
asio::awaitable<void> open_loop_dispatcher(Phase& p) {
    asio::steady_timer timer(p.io);
    const int cap = p.schedule.shape.max_concurrency;
    error_code ec;
    for (int64_t i = 0; i < p.limit && !p.stop; ++i) {
        timer.expires_at(p.start + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(p.schedule.arrival_s[i])));
        co_await timer.async_wait(with(ec));
        while (cap > 0 && p.in_flight >= cap && !p.stop) {
            p.wake.expires_at(Clock::time_point::max());
            co_await p.wake.async_wait(with(ec));
        }
        if (p.stop) break;
        ++p.in_flight;
        ++p.tasks;
        asio::co_spawn(p.io, open_loop_request(p, i), asio::detached);
    }
    p.task_ended();
}

void print_progress(const Phase& p, const std::string& label, double tok_s) {
    std::string total =
        p.limit == std::numeric_limits<int64_t>::max() ? "" : "/" + std::to_string(p.limit);
    std::fprintf(stderr, "\r\033[K[%s%s] %lld%s done, %lld failed, %lld in flight, %.1f tok/s",
                 label.c_str(), p.warmup ? " warm-up" : "", (long long)p.done, total.c_str(),
                 (long long)p.failed, (long long)p.in_flight, tok_s);
    std::fflush(stderr);
}

asio::awaitable<void> progress_line(Phase& p, std::string label) {
    error_code ec;
    int64_t chunks_before = 0;
    Clock::time_point before = Clock::now();
    while (p.tasks > 0) {
        p.progress.expires_after(std::chrono::milliseconds(500));
        co_await p.progress.async_wait(with(ec));
        const Clock::time_point now = Clock::now();
        const double dt = std::chrono::duration<double>(now - before).count();
        const double tok_s = dt > 0 ? double(p.live_chunks - chunks_before) / dt : 0;
        print_progress(p, label, tok_s);
        chunks_before = p.live_chunks;
        before = now;
    }
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
}

void run_phase(Phase& p, const RunOptions& o) {
    const LoadShape& shape = p.schedule.shape;
    p.start = p.last_end = Clock::now();
    if (!p.warmup && p.schedule.open_loop()) {
        p.tasks = 1;
        asio::co_spawn(p.io, open_loop_dispatcher(p), asio::detached);
    } else {
        int64_t clients = shape.concurrency;
        if (p.schedule.open_loop()) clients = shape.max_concurrency > 0 ? shape.max_concurrency : 1;
        clients = std::max<int64_t>(1, std::min(clients, p.limit));
        p.tasks = int(clients);
        for (int64_t c = 0; c < clients; ++c)
            asio::co_spawn(p.io, closed_loop_client(p), asio::detached);
    }
    if (o.progress) asio::co_spawn(p.io, progress_line(p, o.progress_label), asio::detached);
    p.io.restart();
    p.io.run();
    p.idle.clear();
}

}  // namespace

RunResult run_load(const Target& target, const Schedule& schedule,
                   const std::vector<Prompt>& prompts, const RunOptions& options) {
    asio::io_context io;
    const std::shared_ptr<asio::ssl::context>& tls = target.tls;
    RunResult out;
    if (options.warmup > 0) {
        Phase w{io, target, schedule, prompts, tls, true, options.warmup};
        run_phase(w, options);
        out.warmup_failed = w.failed;
        if (!w.fatal.empty()) {
            out.fatal = w.fatal;
            return out;
        }
    }
    Phase p{io, target, schedule, prompts, tls, false, schedule.max_requests()};
    run_phase(p, options);
    out.records = std::move(p.records);
    out.duration_s = std::chrono::duration<double>(p.last_end - p.start).count();
    out.fatal = p.fatal;
    return out;
}

Status check_target(Target& target) {
    if (target.endpoint.tls && !target.tls) {
        auto tls = make_tls_context(target);
        if (!tls) return tls.status();
        target.tls = *tls;
    }
    asio::io_context io;
    Connection conn(io, target, target.tls);
    std::pair<int, std::string> answer;
    asio::co_spawn(io, get_json(conn, "/v1/models"),
                   [&](std::exception_ptr e, std::pair<int, std::string> a) {
                       answer = e ? std::pair{0, std::string("internal error")} : std::move(a);
                   });
    io.run();
    conn.close();
    const auto& [status, body] = answer;
    const std::string& url = target.endpoint.url;
    if (status == 0) return Status::error("cannot reach " + url + ": " + body);
    if (status == 401 || status == 403) {
        return Status::error(url + " refused the credentials (HTTP " + std::to_string(status) +
                             "): " + error_message_of(body) +
                             " -- give --api-key or set OPENAI_API_KEY");
    }
    if (!target.model.empty()) return ok_status();  // some servers have no /v1/models
    if (status != 200) {
        return Status::error("no --model given and GET /v1/models on " + url + " answered HTTP " +
                             std::to_string(status) + ": " + error_message_of(body));
    }
    const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_object() && j.contains("data") && j["data"].is_array() && !j["data"].empty() &&
        j["data"][0].is_object() && j["data"][0].contains("id") && j["data"][0]["id"].is_string()) {
        target.model = j["data"][0]["id"].get<std::string>();
        return ok_status();
    }
    return Status::error("no --model given and GET /v1/models on " + url +
                         " lists no models; give --model NAME");
}

}  // namespace citadel::loadgen
