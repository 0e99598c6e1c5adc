#!/bin/bash
# Build a stub libcuda.so.1 exporting (as functions returning CUDA_ERROR_NO_DEVICE=100) every cu* symbol
# that libmxnet.so and torch's libs import from libcuda.so.1. For load/relocation checks only.
set -e
cd "${COEXIST_ROOT:-/tmp/coexist}"
SP=$(echo venv/lib/python3.*/site-packages)
syms=$(for f in $SP/mxnet/libmxnet.so $SP/torch/lib/libcaffe2_nvrtc.so; do
  readelf --dyn-syms -W $f | awk '$7=="UND"{print $8}' | sed 's/@.*//' | grep -E '^cu[A-Z]'; done | sort -u)
{ echo "/* generated stub */"; for s in $syms; do echo "int $s(void){return 100;}"; done; } > stub/libcuda_stub.c
gcc -shared -fPIC -O1 -Wl,-soname,libcuda.so.1 -o stub/libcuda.so.1 stub/libcuda_stub.c
echo "stub exports $(echo $syms | wc -w) symbols: $syms"
