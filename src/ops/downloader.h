// Model downloads for `citadel pull`: an HTTP(S) GET streamed to `<dir>/<name>.part`, resumed
// with a Range request when a partial file is there, following redirects (Hugging Face sends
// files from a CDN), checked against a SHA-256 (given, or Hugging Face's X-Linked-Etag for
// large files), and renamed into place only when complete and correct. HTTPS verifies the
// server certificate against the system's CA store and the host name.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/status.h"

namespace citadel::ops {

struct DownloadOptions {
    std::string dir = "models";  // where the file goes
    std::string name;            // file name (default: the URL's last path segment)
    std::string sha256;          // expected hex digest; empty: from the server if it says
    std::string bearer_token;    // Authorization: Bearer (Hugging Face tokens)
    std::string s3_endpoint;     // s3://BUCKET/KEY -> ENDPOINT/BUCKET/KEY (path style)
    int max_redirects = 5;
    int timeout_ms = 30000;  // per connect / read
    // Progress: bytes so far (including a resumed part) and the total (0: unknown).
    std::function<void(uint64_t done, uint64_t total)> progress;
};

struct DownloadResult {
    std::string path;       // the final file
    uint64_t bytes = 0;     // its size
    uint64_t resumed = 0;   // bytes that were already there from an earlier attempt
    std::string sha256;     // hex digest of the whole file
    bool verified = false;  // matched an expected digest
};

// hf://ORG/REPO/FILE (hf://ORG/REPO@REVISION/FILE), s3://BUCKET/KEY, http(s)://... -> URL.
Result<std::string> resolve_source(const std::string& source, const DownloadOptions& options);

Result<DownloadResult> download(const std::string& source, const DownloadOptions& options);

}  // namespace citadel::ops
