#!/bin/bash
# The wheel path against the cargo path, first run on a fresh machine
# (prints sizes and seconds, asserts nothing):
#   wheel: its size; `pip install` of it into a fresh venv; then the first
#          `gpu-env resolve --target colab --offline` in a scratch repo.
#   cargo: a consumer repo's first `cargo xtask resolve --target colab
#          --offline` (the cold build of its xtask included; registry
#          cache warm), as examples/consumer is set up.
# Usage: scripts/bench-wheel.sh WHEEL [--no-cargo]
# (WHEEL: `python3 -m pip wheel --no-deps -w dist ./resolver` makes one.)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
wheel=${1:?usage: scripts/bench-wheel.sh WHEEL [--no-cargo]}
wheel=$(cd "$(dirname "$wheel")" && pwd)/$(basename "$wheel")
t() { # prints "<seconds> s (exit <status>)" for the command
    local s e rc
    s=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    rc=$?
    e=$(date +%s.%N)
    printf '%.1f s (exit %d)\n' "$(echo "$e - $s" | bc)" "$rc"
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'wheel %s: %.1f MB\n' "$(basename "$wheel")" "$(echo "$(stat -c %s "$wheel") / 1000000" | bc -l)"
python3 -m venv "$work/venv"
echo -n "pip install of the wheel (fresh venv, --no-index): "
t "$work/venv/bin/pip" install -q --no-index --disable-pip-version-check "$wheel"
mkdir "$work/repo"
printf '[workspace]\n\n[workspace.metadata.gpu-env]\ntargets = ["colab"]\n' >"$work/repo/Cargo.toml"
echo -n "gpu-env resolve --target colab --offline (first run): "
(cd "$work/repo" && t "$work/venv/bin/gpu-env" resolve --target colab --offline)
[ "${2:-}" = --no-cargo ] && exit 0
mkdir "$work/consumer"
cp -r "$root/examples/consumer/." "$work/consumer/"
sed -i "s|path = \"../../../resolver\"|path = \"$root/resolver\"|" "$work/consumer/xtask/Cargo.toml"
echo -n "cargo path: cargo xtask resolve --target colab --offline in a consumer repo (cold build included): "
(cd "$work/consumer" && CARGO_TARGET_DIR=$work/target t cargo xtask resolve --target colab --offline)
