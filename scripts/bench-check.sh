#!/bin/bash
# `xtask check` (the pre-commit hook) against the process floor
# (`xtask --version`), side by side in one hyperfine run: in a fresh repo
# locked for Colab (the embedded compat-db, what a consumer's hook runs) and
# in this repository (which also keeps docs/matrix.html). Prints mean times
# and the ratios; asserts nothing (the goal is check <= 3x the floor).
# Usage: scripts/bench-check.sh [XTASK_BINARY]   (default: a release build)
# Needs hyperfine and python3.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
x=${1:-}
if [ -z "$x" ]; then
    (cd "$root" && cargo build --release -p xtask -q)
    x=$root/target/release/xtask
fi
x=$(realpath "$x")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo=$work/repo
mkdir -p "$repo"
printf '[workspace]\nmembers = []\n\n[workspace.metadata.gpu-env]\ntargets = ["colab"]\n' >"$repo/Cargo.toml"
(cd "$repo" && "$x" resolve --target colab --offline >/dev/null)
(cd "$repo" && "$x" check >/dev/null) || { echo "check fails in the Colab repo" >&2; exit 1; }
ratio() { # $1: hyperfine JSON; prints each command's mean and its ratio to the first
    python3 - "$1" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
floor = r[0]["mean"]
for x in r:
    print(f"  {x['command']}: {x['mean']*1e3:.2f} ms ± {x['stddev']*1e3:.2f}; {x['mean']/floor:.2f}x the floor")
EOF
}
echo "binary: $x"
echo "Colab repo (embedded compat-db):"
(cd "$repo" && hyperfine -N -w 3 -m 30 --export-json "$work/a.json" "$x --version" "$x check" >/dev/null 2>&1)
ratio "$work/a.json"
echo "this repository (lock, Colab files and docs/matrix.html):"
(cd "$root" && hyperfine -N -w 1 -m 3 --export-json "$work/b.json" "$x --version" "$x check" >/dev/null 2>&1)
ratio "$work/b.json"
