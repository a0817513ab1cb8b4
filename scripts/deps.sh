#!/usr/bin/env bash
# Installs every Debian and npm package the build, the demo and the tests need. Idempotent: when
# everything is present it prints nothing and changes nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
    # build
    build-essential cmake pkg-config clang libclang-rt-14-dev
    libuv1-dev libwebsockets-dev libwebsockets-evlib-uv libjansson-dev libsqlite3-dev
    libsodium-dev libssl-dev libcmocka-dev libicu-dev libre-dev libspandsp-dev libsndfile1-dev
    libspeexdsp-dev libcurl4-openssl-dev libgmime-3.0-dev libxml2-dev
    # tests, demo and benchmarks
    sqlite3 curl wrk python3 openssl chromium sip-tester baresip sox espeak-ng
    dovecot-imapd opensmtpd
)

SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
updated=0
apt_install() {
    if ((updated == 0)); then
        $SUDO apt-get update -qq
        updated=1
    fi
    echo "deps: installing $*"
    $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
for p in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# Node.js may come from another packaging of the same program; only the commands matter.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
    apt_install "${missing[@]}"
fi

# Browser-test driver (playwright-core only: the browser is Debian's Chromium).
lock=tests/browser/package-lock.json
stamp=tests/browser/node_modules/.blend-installed
if [[ ! -f $stamp || $lock -nt $stamp ]]; then
    echo "deps: installing browser-test packages (npm ci)"
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$stamp"
fi
