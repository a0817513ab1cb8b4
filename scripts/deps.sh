#!/usr/bin/env bash
# Installs every Debian package the build, the demo and the tests need. Idempotent: when all is
# present it prints nothing and touches nothing.
set -euo pipefail

APT_PACKAGES=(
    build-essential cmake pkg-config clang libclang-rt-14-dev
    libuv1-dev libwebsockets-dev libwebsockets-evlib-uv libjansson-dev libsqlite3-dev
    libsodium-dev libssl-dev libcmocka-dev
    sqlite3 curl wrk python3
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}"
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
