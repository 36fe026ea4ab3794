#!/usr/bin/env bash
# Installs every Debian 12 package that building and testing Citadel needs.
# Idempotent; runs as root (no sudo needed) or through sudo when not root.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git python3
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libpcre2-dev libicu-dev
  clang-14 libclang-rt-14-dev clang-format
  libboost-dev libboost-system-dev libyaml-cpp-dev libssl-dev wrk
  libsqlite3-dev libre2-dev libhiredis-dev redis-server nginx-light openssl ca-certificates
  prometheus  # promtool: the metrics tests check GET /metrics with it
  # citadel deploy's tests: yamllint, and Go + Sprig + yaml.v3 to render the Helm chart as
  # Helm does (tests/deploy/helmrender; Debian 12 has no helm package)
  yamllint golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
  systemd  # systemd-analyze verify checks the generated unit
)
# The end-to-end tests run on Node.js (20 where the machine has it; Debian's 18 otherwise).
command -v node >/dev/null 2>&1 || PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || PACKAGES+=(npm)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "bootstrap: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "bootstrap: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
