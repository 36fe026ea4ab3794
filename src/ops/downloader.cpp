#include "ops/downloader.h"

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>

namespace citadel::ops {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using tcp = asio::ip::tcp;

struct Url {
    bool tls = false;
    std::string host, port, target;
};

Result<Url> parse_url(const std::string& text) {
    Url u;
    std::string rest;
    if (text.rfind("https://", 0) == 0) {
        u.tls = true;
        rest = text.substr(8);
    } else if (text.rfind("http://", 0) == 0) {
        rest = text.substr(7);
    } else {
        return Status::error("'" + text + "' is not an http(s):// URL");
    }
    const size_t slash = rest.find('/');
    const std::string hostport = rest.substr(0, slash);
    u.target = slash == std::string::npos ? "/" : rest.substr(slash);
    const size_t colon = hostport.rfind(':');
    const bool has_port =
        colon != std::string::npos && hostport.find(']', colon) == std::string::npos;
    u.host = has_port ? hostport.substr(0, colon) : hostport;
    u.port = has_port ? hostport.substr(colon + 1) : (u.tls ? "443" : "80");
    if (u.host.size() > 2 && u.host.front() == '[') u.host = u.host.substr(1, u.host.size() - 2);
    if (u.host.empty()) return Status::error("'" + text + "' has no host");
    return u;
}

// A Location header against the URL it came from.
std::string absolute(const Url& from, const std::string& location) {
    if (location.rfind("http://", 0) == 0 || location.rfind("https://", 0) == 0) return location;
    const std::string origin =
        std::string(from.tls ? "https://" : "http://") + from.host + ":" + from.port;
    if (!location.empty() && location.front() == '/') return origin + location;
    const std::string base = from.target.substr(0, from.target.rfind('/') + 1);
    return origin + base + location;
}

std::string last_segment(const std::string& url) {
    std::string path = url.substr(0, url.find_first_of("?#"));
    return path.substr(path.rfind('/') + 1);
}

Result<std::string> file_sha256(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::error("cannot read " + path);
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
    std::vector<char> buf(1 << 20);
    while (in) {
        in.read(buf.data(), std::streamsize(buf.size()));
        if (in.gcount() > 0) EVP_DigestUpdate(ctx, buf.data(), size_t(in.gcount()));
    }
    unsigned char md[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    static const char kHex[] = "0123456789abcdef";
    std::string hex;
    for (unsigned i = 0; i < len; ++i) {
        hex += kHex[md[i] >> 4];
        hex += kHex[md[i] & 15];
    }
    return hex;
}

bool is_hex64(const std::string& s) {
    if (s.size() != 64) return false;
    for (char c : s) {
        if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
    }
    return true;
}

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

// Runs the io_context until the pending operation completes or the stream's timer expires.
void run(asio::io_context& io) {
    io.restart();
    io.run();
}

// What one GET answered, and its body written to `out` from `offset` on.
struct Fetched {
    unsigned status = 0;
    std::string location;
    std::string linked_etag;  // Hugging Face: the LFS file's SHA-256
    uint64_t total = 0;       // the whole file's size, when known
};

// GET `url` into `part_path`: appended after a 206 (the rest of a partial file), written
// afresh after a 200.
template <typename Stream>
Result<Fetched> get(Stream& stream, asio::io_context& io, const Url& url, const DownloadOptions& o,
                    bool send_token, uint64_t offset, const std::string& part_path) {
    auto& lowest = beast::get_lowest_layer(stream);
    http::request<http::empty_body> req(http::verb::get, url.target, 11);
    req.set(http::field::host, url.host);
    req.set(http::field::user_agent, "citadel-pull/0.1");
    if (offset > 0) req.set(http::field::range, "bytes=" + std::to_string(offset) + "-");
    if (send_token && !o.bearer_token.empty())
        req.set(http::field::authorization, "Bearer " + o.bearer_token);
    beast::error_code ec;
    lowest.expires_after(std::chrono::milliseconds(o.timeout_ms));
    http::async_write(stream, req, [&](beast::error_code e, size_t) { ec = e; });
    run(io);
    if (ec) return Status::error("sending to " + url.host + ": " + ec.message());
    beast::flat_buffer buffer;
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    lowest.expires_after(std::chrono::milliseconds(o.timeout_ms));
    http::async_read_header(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
    run(io);
    if (ec) return Status::error("reading from " + url.host + ": " + ec.message());
    Fetched f;
    const auto& head = parser.get();
    f.status = head.result_int();
    if (auto it = head.find(http::field::location); it != head.end())
        f.location = std::string(it->value());
    if (auto it = head.find("x-linked-etag"); it != head.end())
        f.linked_etag = std::string(it->value());
    if (f.status != 200 && f.status != 206) return f;
    const bool partial = f.status == 206;
    if (parser.content_length()) f.total = *parser.content_length() + (partial ? offset : 0);
    std::ofstream file(part_path, std::ios::binary | (partial ? std::ios::app : std::ios::trunc));
    if (!file) return Status::error("cannot write " + part_path);
    std::ofstream* out = &file;
    uint64_t done = partial ? offset : 0;
    std::vector<char> chunk(1 << 16);
    while (!parser.is_done()) {
        parser.get().body().data = chunk.data();
        parser.get().body().size = chunk.size();
        lowest.expires_after(std::chrono::milliseconds(o.timeout_ms));
        http::async_read(stream, buffer, parser, [&](beast::error_code e, size_t) { ec = e; });
        run(io);
        if (ec == http::error::need_buffer) ec = {};
        if (ec)
            return Status::error("download from " + url.host + " broke off after " +
                                 std::to_string(done) + " bytes: " + ec.message() +
                                 " (run the same command again to resume)");
        const size_t n = chunk.size() - parser.get().body().size;
        out->write(chunk.data(), std::streamsize(n));
        if (!*out) return Status::error("cannot write the download to disk");
        done += n;
        if (o.progress) o.progress(done, f.total);
    }
    return f;
}

}  // namespace

Result<std::string> resolve_source(const std::string& source, const DownloadOptions& o) {
    if (source.rfind("hf://", 0) == 0) {
        // hf://ORG/REPO[@REVISION]/PATH/TO/FILE
        const std::string rest = source.substr(5);
        const size_t a = rest.find('/');
        const size_t b = a == std::string::npos ? a : rest.find('/', a + 1);
        if (b == std::string::npos || b + 1 >= rest.size())
            return Status::error("'" + source + "': expected hf://ORG/REPO/FILE");
        std::string repo = rest.substr(0, b), revision = "main";
        if (const size_t at = repo.find('@'); at != std::string::npos) {
            revision = repo.substr(at + 1);
            repo = repo.substr(0, at);
        }
        return "https://huggingface.co/" + repo + "/resolve/" + revision + "/" + rest.substr(b + 1);
    }
    if (source.rfind("s3://", 0) == 0) {
        if (o.s3_endpoint.empty())
            return Status::error("'" + source +
                                 "': s3:// needs --s3-endpoint (e.g. http://minio:9000)");
        std::string endpoint = o.s3_endpoint;
        while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
        return endpoint + "/" + source.substr(5);
    }
    if (source.rfind("http://", 0) == 0 || source.rfind("https://", 0) == 0) return source;
    return Status::error("'" + source +
                         "': expected hf://ORG/REPO/FILE, s3://BUCKET/KEY or an http(s) URL");
}

Result<DownloadResult> download(const std::string& source, const DownloadOptions& o) {
    Result<std::string> first = resolve_source(source, o);
    if (!first) return first.status();
    const std::string name = o.name.empty() ? last_segment(*first) : o.name;
    if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
        return Status::error("cannot tell a file name from '" + source + "' (give --output NAME)");
    std::error_code fec;
    fs::create_directories(o.dir, fec);
    const std::string final_path = (fs::path(o.dir) / name).string();
    const std::string part_path = final_path + ".part";
    if (fs::exists(final_path)) return Status::error(final_path + " already exists");
    DownloadResult r;
    r.path = final_path;
    r.resumed = fs::exists(part_path) ? uint64_t(fs::file_size(part_path)) : 0;
    std::string expected = lower(o.sha256);
    if (!expected.empty() && !is_hex64(expected))
        return Status::error("--sha256 must be 64 hex characters");

    asio::io_context io;
    asio::ssl::context tls(asio::ssl::context::tls_client);
    tls.set_default_verify_paths();
    tls.set_verify_mode(asio::ssl::verify_peer);
    Result<Url> first_url = parse_url(*first);
    if (!first_url) return first_url.status();
    std::string url_text = *first;
    for (int hop = 0; hop <= o.max_redirects; ++hop) {
        Result<Url> url = parse_url(url_text);
        if (!url) return url.status();
        const bool same_host = url->host == first_url->host;
        tcp::resolver resolver(io);
        beast::error_code ec;
        const auto endpoints = resolver.resolve(url->host, url->port, ec);
        if (ec) return Status::error("cannot resolve " + url->host + ": " + ec.message());
        const uint64_t offset = fs::exists(part_path) ? uint64_t(fs::file_size(part_path)) : 0;
        Result<Fetched> f = Status::error("unreachable");
        auto connect = [&](beast::tcp_stream& s) -> Status {
            s.expires_after(std::chrono::milliseconds(o.timeout_ms));
            s.async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
            run(io);
            if (ec)
                return Status::error("cannot connect to " + url->host + ":" + url->port + ": " +
                                     ec.message());
            return ok_status();
        };
        if (url->tls) {
            beast::ssl_stream<beast::tcp_stream> stream(io, tls);
            if (!SSL_set_tlsext_host_name(stream.native_handle(), url->host.c_str()))
                return Status::error("TLS: cannot set the server name " + url->host);
            stream.set_verify_callback(asio::ssl::host_name_verification(url->host));
            CITADEL_TRY(connect(beast::get_lowest_layer(stream)));
            stream.async_handshake(asio::ssl::stream_base::client,
                                   [&](beast::error_code e) { ec = e; });
            run(io);
            if (ec) return Status::error("TLS with " + url->host + ": " + ec.message());
            f = get(stream, io, *url, o, same_host, offset, part_path);
        } else {
            beast::tcp_stream stream(io);
            CITADEL_TRY(connect(stream));
            f = get(stream, io, *url, o, same_host, offset, part_path);
        }
        if (!f) return f.status();
        std::string etag = f->linked_etag;
        if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"')
            etag = etag.substr(1, etag.size() - 2);
        if (expected.empty() && is_hex64(etag)) expected = lower(etag);
        if (f->status >= 300 && f->status < 400 && !f->location.empty()) {
            url_text = absolute(*url, f->location);
            continue;
        }
        if (f->status == 416 && offset > 0) break;  // the partial file is already whole
        if (f->status != 200 && f->status != 206)
            return Status::error("HTTP " + std::to_string(f->status) + " from " + url->host +
                                 " for " + url->target);
        break;
    }
    if (!fs::exists(part_path)) return Status::error("nothing was downloaded from " + *first);
    Result<std::string> digest = file_sha256(part_path);
    if (!digest) return digest.status();
    r.sha256 = *digest;
    if (!expected.empty() && expected != r.sha256) {
        fs::remove(part_path, fec);
        return Status::error("checksum mismatch for " + name + ": expected " + expected + ", got " +
                             r.sha256 + "; the download was removed");
    }
    r.verified = !expected.empty();
    char magic[4] = {};
    std::ifstream(part_path, std::ios::binary).read(magic, 4);
    if (name.size() > 5 && name.ends_with(".gguf") && std::string(magic, 4) != "GGUF") {
        fs::remove(part_path, fec);
        return Status::error(name +
                             " is not a GGUF file (the server sent something else); removed");
    }
    fs::rename(part_path, final_path, fec);
    if (fec)
        return Status::error("cannot move the download to " + final_path + ": " + fec.message());
    r.bytes = uint64_t(fs::file_size(final_path));
    return r;
}

}  // namespace citadel::ops
