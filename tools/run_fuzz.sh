#!/usr/bin/env bash
# Runs one libFuzzer target over its seed corpus, then for a bounded time on new inputs.
# A crashing input is kept in the current directory (the build tree) as crash-*.
# Usage: run_fuzz.sh BINARY CORPUS_DIR SECONDS
set -euo pipefail
bin=$1; corpus=$2; secs=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dirs=("$work")
[[ -d $corpus ]] && dirs+=("$corpus")
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$PWD/" "${dirs[@]}"
