#!/bin/bash
# What a consumer repo's first commands cost: copies of examples/consumer
# pointed at this checkout, each from an empty target dir (registry cache
# warm), one after another in one run: the first `cargo xtask resolve
# --target colab --offline` with what `init` writes (the light build), the
# first `cargo xtask check` of the same (the pre-commit hook's first run),
# the first resolve with the optional `net` and `cuda` features, and a
# clap-only xtask as the baseline every Rust xtask pays. Prints the load,
# wall and CPU seconds (CPU time moves less with load), each as a ratio to
# the baseline's;
# asserts nothing. Goals on a 2-core machine: resolve <= 45 s, check <= 25 s.
# With ROUNDS=N the four builds run N times in turn, each ratio is taken
# against the same round's baseline, and the medians are printed (one
# cold build varies by 10% or more on a shared machine).
# Usage: [ROUNDS=N] scripts/bench-build.sh
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
secs() { # runs "$@"; prints its wall seconds and CPU seconds (user + system, children included)
    python3 -c '
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], stdout=sys.stderr, stderr=sys.stderr, check=True)
wall = time.perf_counter() - t
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(f"{wall:.1f} {r.ru_utime + r.ru_stime:.1f}")
' "$@" 2>"$work/log" || { echo "failed: $*" >&2; tail -20 "$work/log" >&2; }
}
consumer() { # $1: the gpu-env dependency's features; prints the copy's path
    local c
    c=$(mktemp -d -p "$work")
    cp -r "$root/examples/consumer/." "$c/"
    sed -i "s|path = \"../../../resolver\", default-features = false, features = \[\"cli\"\]|path = \"$root/resolver\", default-features = false, features = [$1]|" "$c/xtask/Cargo.toml"
    grep -q "path = \"$root/resolver\"" "$c/xtask/Cargo.toml" || { echo "examples/consumer/xtask/Cargo.toml changed: update this script" >&2; exit 1; }
    echo "$c"
}
baseline=$(mktemp -d -p "$work")
mkdir -p "$baseline/src"
printf '[package]\nname = "xtask"\nversion = "0.0.0"\nedition = "2021"\n\n[dependencies]\nclap = { version = "4", features = ["derive"] }\n\n[workspace]\n' >"$baseline/Cargo.toml"
printf 'use clap::Parser;\n#[derive(Parser)]\nstruct Cli {\n    #[arg(long)]\n    x: Option<String>,\n}\nfn main() {\n    let _ = Cli::parse().x;\n}\n' >"$baseline/src/main.rs"
(cd "$baseline" && cargo generate-lockfile --offline -q 2>/dev/null || cargo generate-lockfile -q)

rounds=${ROUNDS:-1}
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; load average at start $(cut -d' ' -f1-3 /proc/loadavg); $(cargo --version); $rounds round(s)"
declare -A t
add() { # $1: a row, $2: "wall cpu" of one round; rounds are kept comma-separated
    t[$1]="${t[$1]:+${t[$1]},}$2"
}
for r in $(seq "$rounds"); do
    d=$work/r$r
    add base "$(cd "$baseline" && CARGO_TARGET_DIR=$d/t0 secs cargo build)"
    c=$(consumer '"cli"')
    add resolve "$(cd "$c" && CARGO_TARGET_DIR=$d/t1 secs cargo --locked xtask resolve --target colab --offline)"
    c=$(consumer '"cli"')
    (cd "$c" && CARGO_TARGET_DIR=$d/t1 cargo --locked xtask resolve --target colab --offline >/dev/null 2>&1)
    add check "$(cd "$c" && CARGO_TARGET_DIR=$d/t2 secs cargo --locked xtask check)"
    c=$(consumer '"cli", "net", "cuda"')
    add full "$(cd "$c" && CARGO_TARGET_DIR=$d/t3 secs cargo --offline xtask resolve --target colab --offline)"
    rm -rf "$d"
done
echo "load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
show() { # $1: a row; its wall and CPU seconds, each with its ratio to the same round's baseline (medians over rounds)
    python3 -c '
import statistics, sys
rows = [tuple(map(float, x.split())) for x in sys.argv[1].split(",")]
base = [tuple(map(float, x.split())) for x in sys.argv[2].split(",")]
med = statistics.median
w, c = med(r[0] for r in rows), med(r[1] for r in rows)
rw = [r[0] / b[0] for r, b in zip(rows, base)]
rc = [r[1] / b[1] for r, b in zip(rows, base)]
each = "" if len(rows) == 1 else " [wall ratios per round: " + ", ".join(f"{x:.1f}x" for x in rw) + "]"
print(f"{w:.0f} s wall ({med(rw):.1f}x the baseline), {c:.0f} s CPU ({med(rc):.1f}x){each}")
' "${t[$1]}" "${t[base]}"
}
echo "clap-only xtask, cold cargo build (baseline): $(show base)"
echo "consumer as init writes it (features [\"cli\"]), first cargo xtask resolve --offline: $(show resolve); goal 45 s wall"
echo "same, first cargo xtask check (the pre-commit hook): $(show check); goal 25 s wall"
echo "consumer with features [\"cli\", \"net\", \"cuda\"], first cargo xtask resolve --offline: $(show full)"
