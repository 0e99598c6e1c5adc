#!/bin/bash
# The three costs users wait for, side by side in one run on one machine:
# 1. a consumer repo's first cold build and command (scripts/bench-build.sh:
#    resolve <= 45 s, check <= 25 s on a 2-core machine);
# 2. the bytes the Colab cell downloads on the replayed colab-2026.08
#    runtimes, and the Kaggle cell's plan on kaggle-2026.08 (<= 1.8 GB);
# 3. `check` as the pre-commit hook against the process floor
#    (scripts/bench-check.sh: <= 3x).
# Prints each script's rows; asserts nothing. Run it on an otherwise idle
# machine: wall times follow the load (each script prints it).
# Usage: scripts/bench-all.sh
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
echo "=== $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; $(git rev-parse --short HEAD)"
echo "=== 1. first cold build of a consumer repo (scripts/bench-build.sh)"
scripts/bench-build.sh
echo "=== 2. what the setup cell downloads (tests/tests/colab_runtime.rs, replayed runtimes)"
cargo test --locked -q -p gpu-env-tests --test colab_runtime -- --nocapture 2>&1 |
    grep -E 'the cell downloads|cell plans' || { echo "colab_runtime printed no download line" >&2; exit 1; }
echo "=== 3. check as the pre-commit hook vs the process floor (scripts/bench-check.sh)"
scripts/bench-check.sh
