#!/bin/bash
# `xtask check` (the pre-commit hook) against the process floor
# (`xtask --version`), in a fresh repo locked for Colab (the embedded
# compat-db, what a consumer's hook runs, no docs/matrix.html): the check as
# a hook meets it (a passed check recorded in gpu-env's cache, the inputs
# unchanged) and the full check (no record can be written: compat-db
# loaded, the lock re-resolved, every file re-rendered). The commands run
# interleaved, round by round, so machine load hits them alike; prints the
# load, median wall times and their ratios to the floor, and, where
# valgrind is installed, instruction counts (callgrind), which load does not
# change. Asserts nothing (the goal: check <= 3x the floor).
# Usage: scripts/bench-check.sh [XTASK_BINARY]   (default: a release build
# without the optional features, what `init` writes). Needs python3.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
x=${1:-}
if [ -z "$x" ]; then
    (cd "$root" && cargo build --release -p xtask --no-default-features -q)
    x=$root/target/release/xtask
fi
x=$(realpath "$x")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
repo=$work/repo
mkdir -p "$repo"
printf '[workspace]\nmembers = []\n\n[workspace.metadata.gpu-env]\ntargets = ["colab"]\n' >"$repo/Cargo.toml"
export GPU_ENV_CACHE_DIR=$work/cache
(cd "$repo" && "$x" resolve --target colab --offline >/dev/null)
(cd "$repo" && "$x" check >/dev/null) || { echo "check fails in the Colab repo" >&2; exit 1; }
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); binary $x"
cd "$repo"
python3 - "$x" <<'EOF'
import os, shutil, statistics, subprocess, sys, tempfile, time
x = sys.argv[1]
# A cache path under a regular file: no record is read or written.
nocache = os.path.join(os.environ["GPU_ENV_CACHE_DIR"], "..", "repo", "Cargo.toml", "cache")
rows = [
    ("floor: xtask --version", [x, "--version"], {}),
    ("check, recorded pass (the hook)", [x, "check"], {}),
    ("check, full (no record)", [x, "check"], {"GPU_ENV_CACHE_DIR": nocache}),
]
def run(cmd, env):
    e = dict(os.environ, **env)
    r = subprocess.run(cmd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {r.returncode}")
times = {name: [] for name, _, _ in rows}
for _ in range(3):
    for _, cmd, env in rows:
        run(cmd, env)
for _ in range(40):
    for name, cmd, env in rows:
        t = time.perf_counter()
        run(cmd, env)
        times[name].append(time.perf_counter() - t)
floor = statistics.median(times[rows[0][0]])
low = min(times[rows[0][0]])
print("wall time of 40 interleaved runs, median and min (the min is the least disturbed by load):")
for name, _, _ in rows:
    m, n = statistics.median(times[name]), min(times[name])
    print(f"  {name}: median {m*1e3:.2f} ms, {m/floor:.1f}x the floor; min {n*1e3:.2f} ms, {n/low:.1f}x")
if shutil.which("valgrind") is None:
    print("instructions: valgrind not installed")
    sys.exit(0)
# valgrind's CPU has no SHA extensions: sha256 is counted in software there.
print("instructions (valgrind --tool=callgrind; sha256 without the CPU's SHA extensions):")
counts = {}
for name, cmd, env in rows:
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        e = dict(os.environ, **env)
        subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + cmd,
                       env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        summary = [l for l in open(out) if l.startswith(("summary:", "totals:"))]
        counts[name] = int(summary[0].split()[1])
base = counts[rows[0][0]]
for name, _, _ in rows:
    print(f"  {name}: {counts[name]:,}; {counts[name]/base:.1f}x the floor")
EOF
