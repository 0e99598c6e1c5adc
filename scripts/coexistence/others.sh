#!/bin/bash
# Static check of cupy-cuda12x 14.0.1 / jax-cuda12 0.7.2 (downloaded with pip download --no-deps into others/).
cd "${COEXIST_ROOT:-/tmp/coexist}/others"
for w in *.whl; do mkdir -p x/$w && unzip -q -o $w '*.so*' -d x/$w 2>/dev/null; done
for f in $(find x -name "*.so*" -type f); do
  n=$(readelf -dW $f 2>/dev/null | grep NEEDED | grep -oE "lib(curand|cusolver|cusolverMg|nccl|nvToolsExt)\.so[.0-9]*" | tr '\n' ' ')
  [ -n "$n" ] && echo "DT_NEEDED ${f#x/}: $n"
done
