#!/bin/bash
# Reruns the coexistence experiments. Needs: /tmp/coexist/venv (torch 2.10.0 + cu12 wheels, nccl-cu12 2.28.9,
# cudnn-cu12 9.19.0.56, numpy 2.1.3, mxnet-cu112 1.9.1 --no-deps), /tmp/coexist/cu11 (pip --target of the lock's cu11 wheels).
# Copies this folder's scripts to /tmp/coexist and works there; report: docs/coexistence.md.
# Pass SETUP=1 to (re)create them from PyPI first.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
mkdir -p /tmp/coexist/scripts
cp "$HERE"/*.py "$HERE"/build_stub.sh "$HERE"/others.sh /tmp/coexist/scripts/
cd /tmp/coexist
if [ "${SETUP:-0}" = 1 ]; then
  python3 -m venv venv && venv/bin/pip install -q torch==2.10.0 numpy==2.1.3 requests
  venv/bin/pip install -q --no-deps nvidia-nccl-cu12==2.28.9 nvidia-cudnn-cu12==9.19.0.56
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
  LD_LIBRARY_PATH=/tmp/coexist/stub LD_BIND_NOW=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT=/tmp/coexist/logs/dbg.$s \
    venv/bin/python scripts/exp.py $s 2>&1 | grep -v '^  preloaded' | grep -v '^    /' | tee logs/$s.stub.txt
  echo "  -- bindings into the overlapping sonames (from LD_DEBUG):"
  python3 scripts/bindings.py logs/dbg.$s.* | tee logs/$s.bindings.txt
  rm -f logs/dbg.$s.*
done
