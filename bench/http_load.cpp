// Open-loop HTTP load at a fixed rate, for latency at a given request rate
// (bench/gateway_bench.sh). Each of --connections threads keeps one keep-alive connection and sends
// its share of the rate on a fixed schedule; a request's latency is measured from when it was
// *scheduled*, not when it was sent, so a slow server cannot hide its queueing (no coordinated
// omission). Prints one JSON line: counts, statuses and latency percentiles in microseconds.
//
// Build: g++ -std=c++20 -O2 bench/http_load.cpp -lpthread -o /tmp/http_load
// Run:   /tmp/http_load --url http://127.0.0.1:8080/v1/chat/completions --rate 1000
//          --seconds 10 --connections 8 --body req.json [--header 'authorization: Bearer K']
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

struct Options {
    std::string host = "127.0.0.1", port = "8080", target = "/";
    double rate = 1000, seconds = 10;
    int connections = 8;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
};

struct Tally {
    std::vector<double> latencies_us;
    std::map<int, long> statuses;
    long errors = 0;
};

bool parse_url(const std::string& url, Options& o) {
    const std::string prefix = "http://";
    if (url.rfind(prefix, 0) != 0) return false;
    const std::string rest = url.substr(prefix.size());
    const size_t slash = rest.find('/');
    const std::string hostport = rest.substr(0, slash);
    o.target = slash == std::string::npos ? "/" : rest.substr(slash);
    const size_t colon = hostport.rfind(':');
    o.host = hostport.substr(0, colon);
    o.port = colon == std::string::npos ? "80" : hostport.substr(colon + 1);
    return true;
}

bool parse_args(int argc, char** argv, Options& o) {
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--url") {
            if (!parse_url(v, o)) return false;
        } else if (k == "--rate") {
            o.rate = std::stod(v);
        } else if (k == "--seconds") {
            o.seconds = std::stod(v);
        } else if (k == "--connections") {
            o.connections = std::stoi(v);
        } else if (k == "--body") {
            std::ifstream f(v);
            std::stringstream ss;
            ss << f.rdbuf();
            o.body = ss.str();
        } else if (k == "--header") {
            const size_t colon = v.find(':');
            if (colon == std::string::npos) return false;
            std::string value = v.substr(colon + 1);
            value.erase(0, value.find_first_not_of(' '));
            o.headers.emplace_back(v.substr(0, colon), value);
        } else {
            return false;
        }
    }
    return o.rate > 0 && o.seconds > 0 && o.connections > 0;
}

// One connection's share: requests at start + (i * connections + index) / rate.
void run_connection(const Options& o, int index, Clock::time_point start, Tally& out) {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    const auto endpoints = resolver.resolve(o.host, o.port);
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;
    const double period_s = o.connections / o.rate;
    const long n = long(o.seconds / period_s);
    for (long i = 0; i < n; ++i) {
        const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(i * period_s + index / o.rate));
        std::this_thread::sleep_until(due);
        try {
            if (!stream) {
                stream.emplace(io);
                stream->connect(endpoints);
                stream->socket().set_option(tcp::no_delay(true));
            }
            http::request<http::string_body> req(
                o.body.empty() ? http::verb::get : http::verb::post, o.target, 11);
            req.set(http::field::host, o.host);
            if (!o.body.empty()) req.set(http::field::content_type, "application/json");
            for (const auto& [name, value] : o.headers) req.set(name, value);
            req.body() = o.body;
            req.prepare_payload();
            http::write(*stream, req);
            http::response<http::string_body> res;
            http::read(*stream, buffer, res);
            out.latencies_us.push_back(
                std::chrono::duration<double, std::micro>(Clock::now() - due).count());
            ++out.statuses[res.result_int()];
            if (!res.keep_alive()) stream.reset();
        } catch (const std::exception&) {
            ++out.errors;
            stream.reset();
        }
    }
}

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    const size_t k = std::min(v.size() - 1, size_t(p / 100.0 * double(v.size())));
    std::nth_element(v.begin(), v.begin() + long(k), v.end());
    return v[k];
}

int main(int argc, char** argv) {
    Options o;
    if (!parse_args(argc, argv, o)) {
        std::fprintf(stderr,
                     "usage: http_load --url http://HOST:PORT/PATH --rate R --seconds S "
                     "--connections C [--body FILE] [--header 'name: value']...\n");
        return 2;
    }
    std::vector<Tally> tallies(size_t(o.connections));
    std::vector<std::thread> threads;
    const auto start = Clock::now() + std::chrono::milliseconds(100);
    for (int i = 0; i < o.connections; ++i)
        threads.emplace_back(run_connection, std::cref(o), i, start, std::ref(tallies[size_t(i)]));
    for (auto& t : threads) t.join();
    const double wall = std::chrono::duration<double>(Clock::now() - start).count();
    Tally all;
    for (Tally& t : tallies) {
        all.latencies_us.insert(all.latencies_us.end(), t.latencies_us.begin(),
                                t.latencies_us.end());
        for (auto [s, n] : t.statuses) all.statuses[s] += n;
        all.errors += t.errors;
    }
    std::string statuses;
    for (auto [s, n] : all.statuses)
        statuses +=
            (statuses.empty() ? "" : ",") + ("\"" + std::to_string(s) + "\":" + std::to_string(n));
    std::vector<double>& l = all.latencies_us;
    std::printf(
        "{\"requests\":%zu,\"errors\":%ld,\"statuses\":{%s},\"rps\":%.1f,\"p50_us\":%.0f,"
        "\"p90_us\":%.0f,\"p99_us\":%.0f,\"p999_us\":%.0f,\"max_us\":%.0f}\n",
        l.size(), all.errors, statuses.c_str(), double(l.size()) / wall, percentile(l, 50),
        percentile(l, 90), percentile(l, 99), percentile(l, 99.9), percentile(l, 100));
    return 0;
}
