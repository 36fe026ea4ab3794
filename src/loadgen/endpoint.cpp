#include "loadgen/endpoint.h"

#include <algorithm>
#include <cctype>

namespace citadel::loadgen {
namespace {

Status bad(const std::string& url, const std::string& why) {
    return Status::error("bad URL '" + url + "': " + why);
}

bool valid_port(const std::string& p) {
    if (p.empty() || p.size() > 5) return false;
    if (!std::all_of(p.begin(), p.end(), [](unsigned char c) { return std::isdigit(c); }))
        return false;
    const int n = std::stoi(p);
    return n > 0 && n < 65536;
}

}  // namespace

Result<Endpoint> parse_endpoint(const std::string& url) {
    Endpoint e;
    e.url = url;
    std::string rest;
    if (url.starts_with("http://")) {
        rest = url.substr(7);
    } else if (url.starts_with("https://")) {
        rest = url.substr(8);
        e.tls = true;
    } else {
        return bad(url, "expected http://host[:port] or https://host[:port]");
    }
    const size_t slash = rest.find_first_of("/?#");
    std::string authority = rest.substr(0, slash);
    e.base = slash == std::string::npos ? "" : rest.substr(slash);
    if (e.base.find_first_of("?#") != std::string::npos)
        return bad(url, "a query or fragment is not allowed");
    if (authority.find('@') != std::string::npos)
        return bad(url, "credentials in the URL are not supported (use --api-key)");
    if (authority.starts_with("[")) {
        const size_t close = authority.find(']');
        if (close == std::string::npos) return bad(url, "unclosed '[' in the IPv6 address");
        e.host = authority.substr(1, close - 1);
        const std::string after = authority.substr(close + 1);
        if (!after.empty() && !after.starts_with(":")) return bad(url, "junk after the ']'");
        e.port = after.empty() ? "" : after.substr(1);
    } else {
        const size_t colon = authority.rfind(':');
        e.host = authority.substr(0, colon);
        e.port = colon == std::string::npos ? "" : authority.substr(colon + 1);
    }
    if (e.host.empty()) return bad(url, "no host");
    if (e.port.empty()) e.port = e.tls ? "443" : "80";
    if (!valid_port(e.port)) return bad(url, "the port '" + e.port + "' is not 1-65535");
    e.host_header = authority;
    while (e.base.ends_with("/")) e.base.pop_back();
    if (e.base.ends_with("/v1")) e.base.resize(e.base.size() - 3);
    return e;
}

std::string api_path(const Endpoint& e, Api api) {
    return e.base + (api == Api::kChat ? "/v1/chat/completions" : "/v1/completions");
}

}  // namespace citadel::loadgen
