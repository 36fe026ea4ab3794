// citadel pull SOURCE: downloads a model into the models directory (hf://ORG/REPO/FILE,
// s3://BUCKET/KEY through --s3-endpoint, or an http(s) URL), resuming a partial download,
// with a progress bar on a terminal, and checks its SHA-256 (--sha256, or Hugging Face's).
#include <unistd.h>

#include <chrono>
#include <cstdlib>

#include "cli/common.h"
#include "cli/verbs.h"
#include "ops/downloader.h"

namespace citadel::cli {
namespace {

struct PullArgs {
    std::string source;
    ops::DownloadOptions options;
};

// "[#######.....]  42% 1.2 GiB / 2.9 GiB  85.3 MiB/s" on one terminal line.
void draw(uint64_t done, uint64_t total, std::chrono::steady_clock::time_point t0) {
    static auto last = std::chrono::steady_clock::time_point();
    const auto now = std::chrono::steady_clock::now();
    if (now - last < std::chrono::milliseconds(100) && done != total) return;
    last = now;
    const double secs = std::max(1e-3, std::chrono::duration<double>(now - t0).count());
    const std::string rate = format_bytes(double(done) / secs) + "/s";
    if (total == 0) {
        std::fprintf(stderr, "\r%s  %s   ", format_bytes(double(done)).c_str(), rate.c_str());
    } else {
        const int width = 30, filled = int(double(width) * double(done) / double(total));
        std::fprintf(stderr, "\r[%s%s] %3d%% %s / %s  %s   ",
                     std::string(size_t(filled), '#').c_str(),
                     std::string(size_t(width - filled), '.').c_str(),
                     int(100.0 * double(done) / double(total)), format_bytes(double(done)).c_str(),
                     format_bytes(double(total)).c_str(), rate.c_str());
    }
    std::fflush(stderr);
}

int pull(PullArgs& a) {
    if (a.options.bearer_token.empty()) {
        if (const char* t = std::getenv("HF_TOKEN")) a.options.bearer_token = t;
    }
    const auto t0 = std::chrono::steady_clock::now();
    if (::isatty(STDERR_FILENO))
        a.options.progress = [t0](uint64_t done, uint64_t total) { draw(done, total, t0); };
    Result<ops::DownloadResult> r = ops::download(a.source, a.options);
    if (a.options.progress) std::fprintf(stderr, "\n");
    if (!r) return fail(r.error());
    std::printf("%s\n", r->path.c_str());
    std::fprintf(
        stderr, "citadel: %s: %s%s, sha256 %s%s\n", r->path.c_str(),
        format_bytes(double(r->bytes)).c_str(),
        r->resumed ? (" (resumed after " + format_bytes(double(r->resumed)) + ")").c_str() : "",
        r->sha256.c_str(), r->verified ? " (verified)" : " (no checksum to compare with)");
    return 0;
}

}  // namespace

VerbRunner add_pull(CLI::App& app) {
    auto a = std::make_shared<PullArgs>();
    CLI::App* c = app.add_subcommand(
        "pull", "Download a model (hf://ORG/REPO/FILE, s3://BUCKET/KEY, https://...)");
    c->add_option("source", a->source, "What to download")->required();
    c->add_option("--dir", a->options.dir, "Models directory")->default_str("models");
    c->add_option("--output", a->options.name, "File name (default: the source's)");
    c->add_option("--sha256", a->options.sha256, "Expected SHA-256 (hex)");
    c->add_option("--token", a->options.bearer_token, "Bearer token (default: $HF_TOKEN)");
    c->add_option("--s3-endpoint", a->options.s3_endpoint,
                  "Object store endpoint for s3:// (e.g. http://minio:9000)");
    return [a] { return pull(*a); };
}

}  // namespace citadel::cli
