#!/bin/bash
# Cold build times of what consumers compile (empty target dirs, registry
# cache warm); prints seconds, asserts nothing. Usage: scripts/bench-build.sh
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
t() {
    local s e
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    local rc=$?
    e=$(date +%s.%N)
    printf '%.0f s (exit %d)\n' "$(echo "$e - $s" | bc)" "$rc"
}
consumer() { # $1: the gpu-env dependency's extra keys
    local c
    c=$(mktemp -d)
    cp -r "$root/examples/consumer/." "$c/"
    sed -i "s|gpu-env = { path = \"../../../resolver\", features = \[\"cli\"\] }|gpu-env = { path = \"$root/resolver\"$1, features = [\"cli\"] }|" "$c/xtask/Cargo.toml"
    echo "$c"
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
c=$(consumer "")
echo -n "consumer, default features (what \`cargo xtask resolve\` compiles): "
(cd "$c" && CARGO_TARGET_DIR=$work/a t cargo build -p xtask)
c=$(consumer ", default-features = false")
echo -n "consumer, default-features = false + cli (pre-commit \`check\`, offline resolve): "
(cd "$c" && CARGO_TARGET_DIR=$work/b t cargo build -p xtask)
echo -n "this repo, cargo build -p xtask --no-default-features: "
(cd "$root" && CARGO_TARGET_DIR=$work/c t cargo build -p xtask --no-default-features)
echo -n "this repo, cargo build -p xtask: "
(cd "$root" && CARGO_TARGET_DIR=$work/d t cargo build -p xtask)
