#!/bin/bash
# Reruns the coexistence experiments for one runtime's CUDA 12 wheels.
# RUNTIME=colab-2026.08 (default): torch 2.10.0 with its cu12 wheels, then Colab's nccl-cu12 2.28.9 and
#   cudnn-cu12 9.19.0.56 over torch's pins, so every overlapping cu12 file is Colab's.
# RUNTIME=kaggle-2026.08: torch 2.10.0 with exactly its own pins (nccl-cu12 2.27.5, cudnn-cu12 9.10.2.21):
#   Kaggle's image keeps the Colab base image's torch 2.10.0 stack (compat-db/runtimes/kaggle-2026.08.toml).
# Both: numpy, requests, mxnet-cu112 1.9.1 --no-deps in $COEXIST_ROOT/venv, and $COEXIST_ROOT/cu11 (pip --target
# of the lock's cu11 wheels). COEXIST_ROOT is /tmp/coexist for Colab, /tmp/coexist-kaggle for Kaggle.
# Copies this folder's scripts there and works there; report: docs/coexistence.md.
# Pass SETUP=1 to (re)create the venv and the cu11 dir from PyPI first.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
RUNTIME=${RUNTIME:-colab-2026.08}
case "$RUNTIME" in
  colab-2026.08) export COEXIST_ROOT=/tmp/coexist; OVER="nvidia-nccl-cu12==2.28.9 nvidia-cudnn-cu12==9.19.0.56" ;;
  kaggle-2026.08) export COEXIST_ROOT=/tmp/coexist-kaggle; OVER="" ;;
  *) echo "RUNTIME must be colab-2026.08 or kaggle-2026.08" >&2; exit 2 ;;
esac
export COEXIST_CELL=$REPO/colab/setup_cell.py
mkdir -p "$COEXIST_ROOT/scripts" "$COEXIST_ROOT/stub"
cp "$HERE"/*.py "$HERE"/build_stub.sh "$HERE"/others.sh "$COEXIST_ROOT/scripts/"
cd "$COEXIST_ROOT"
if [ "${SETUP:-0}" = 1 ]; then
  python3 -m venv venv && venv/bin/pip install -q torch==2.10.0 numpy==2.1.3 requests
  [ -z "$OVER" ] || venv/bin/pip install -q --no-deps $OVER
  mkdir -p wheels && python3 -c "
import tomllib
d=tomllib.load(open('$REPO/gpu-env.lock','rb'))
for p in d['target'][0]['package']: print(f\"{p['name']} @ {p['url']} --hash=sha256:{p['sha256']}\")" > wheels/reqs.txt
  (cd wheels && ../venv/bin/pip download -q --no-deps --require-hashes -r reqs.txt -d .)
  grep -v '^mxnet' wheels/reqs.txt > wheels/redist.txt
  rm -rf cu11 && venv/bin/pip install -q --no-deps --require-hashes --target cu11 -r wheels/redist.txt
  venv/bin/pip install -q --no-deps wheels/mxnet_cu112-1.9.1-py3-none-manylinux2014_x86_64.whl
fi
mkdir -p logs
python3 scripts/analyze.py > analysis.md
scripts/build_stub.sh > logs/stub.txt
mkdir -p logs
for s in a b c d; do
  echo "################ scenario $s, no driver"
  venv/bin/python scripts/exp.py $s 2>&1 | grep -v '^  preloaded' | tee logs/$s.plain.txt
  echo "################ scenario $s, stub libcuda.so.1 + LD_BIND_NOW=1 + LD_DEBUG=bindings"
  rm -f logs/dbg.$s.*
  LD_LIBRARY_PATH=$COEXIST_ROOT/stub LD_BIND_NOW=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT=$COEXIST_ROOT/logs/dbg.$s \
    venv/bin/python scripts/exp.py $s 2>&1 | grep -v '^  preloaded' | grep -v '^    /' | tee logs/$s.stub.txt
  echo "  -- bindings into the overlapping sonames (from LD_DEBUG):"
  python3 scripts/bindings.py logs/dbg.$s.* | tee logs/$s.bindings.txt
  rm -f logs/dbg.$s.*
done
