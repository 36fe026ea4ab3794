// A two-stage Dockerfile: debian:12 builds `citadel` from this repository (the -dev packages
// of scripts/bootstrap.sh, CMake Release, no tests); debian:12-slim runs it with only the
// runtime libraries, as a numeric non-root user (so Kubernetes can check runAsNonRoot),
// with a HEALTHCHECK on /health. Build from the repository root:
//   docker build -f deploy/Dockerfile -t citadel:0.1.0 .
#include "deploy/targets.h"

namespace citadel::deploy {
namespace {

constexpr const char* kBuildStage = R"(FROM debian:12 AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        build-essential cmake ninja-build pkg-config ca-certificates \
        nlohmann-json3-dev libcli11-dev libpcre2-dev libicu-dev libboost-dev \
        libboost-system-dev libyaml-cpp-dev libssl-dev libsqlite3-dev libre2-dev \
        libhiredis-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCITADEL_TESTS=OFF \
    && cmake --build build --target citadel \
    && install -m 0755 -s build/citadel /usr/local/bin/citadel

)";

// The shared libraries `ldd citadel` lists, by Debian 12 package.
constexpr const char* kRuntimeStage = R"(FROM debian:12-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libstdc++6 libssl3 libsqlite3-0 libre2-9 libhiredis0.14 libyaml-cpp0.7 \
        libpcre2-8-0 libicu72 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 citadel \
    && useradd --system --uid 10001 --gid citadel --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin citadel \
    && mkdir -p /models /data \
    && chown citadel:citadel /data \
    && chmod 0750 /data
COPY --from=build /usr/local/bin/citadel /usr/local/bin/citadel
USER 10001:10001
WORKDIR /data
)";

std::string dockerfile(const DeploySpec& spec) {
    const std::string port = std::to_string(spec.port);
    std::string out = "# syntax=docker/dockerfile:1\n" + generated_header(spec, "# ") +
                      "# Build from the repository root:\n"
                      "#   docker build -f deploy/Dockerfile -t " +
                      spec.image + " .\n\n" + kBuildStage + kRuntimeStage;
    out += "EXPOSE " + port + "\n";
    out += "VOLUME [\"/models\", \"/data\"]\n";
    // The image does not know whether TLS is on: try HTTP, then HTTPS (self-signed is fine).
    out +=
        "HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \\\n"
        "    CMD curl -fsS http://127.0.0.1:" +
        port +
        "/health \\\n"
        "        || curl -fsSk https://127.0.0.1:" +
        port + "/health || exit 1\n";
    out += "ENTRYPOINT [\"/usr/local/bin/citadel\"]\n";
    out += "CMD [\"serve\", \"--host\", \"0.0.0.0\", \"--port\", \"" + port +
           "\", \"--models-dir\", \"/models\", \"--data-dir\", \"/data\"]\n";
    return out;
}

// BuildKit reads <Dockerfile>.dockerignore next to the Dockerfile: keep builds, models and
// node_modules out of the context.
constexpr const char* kDockerignore =
    ".git\nbuild\nbuild-*\n**/*.gguf\n**/node_modules\nmodels\ncitadel-data\nbench/out\n";

}  // namespace

std::vector<GeneratedFile> dockerfile_files(const DeploySpec& spec) {
    return {{"Dockerfile", dockerfile(spec)}, {"Dockerfile.dockerignore", kDockerignore}};
}

}  // namespace citadel::deploy
