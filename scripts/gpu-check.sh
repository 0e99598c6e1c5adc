#!/usr/bin/env bash
# GPU-machine check for `verify` / `doctor` / `probe`. Offline: no
# registry is needed; CuPy, PyTorch and nvcc are expected to be installed.
#
#   scripts/gpu-check.sh [LOCK]      (default: tests/fixtures/verify/cu112-h100.lock)
#
# Builds the release binary (cargo build --release -p xtask --offline), runs
# `probe --json`, `verify --json` and `doctor --json` against LOCK, then
# times the kernel layer (NVRTC saxpy compile + load + launch + check) next
# to the same work in CuPy (RawKernel compile + launch + check), each timed
# in a fresh process, five times. Outputs land in ${OUT:-target/gpu-check}.
# With the cu112/H100 fixture the gpu_code layer is expected to FAIL (the
# wheel has SASS up to sm_86 and no PTX: "no kernel image" for 9.0) and the
# kernel layer to PASS.
set -u
cd "$(dirname "$0")/.."
LOCK=${1:-tests/fixtures/verify/cu112-h100.lock}
OUT=${OUT:-target/gpu-check}
PY=${PYTHON:-python3}
mkdir -p "$OUT"
# A GPU machine has no registry: use a binary built elsewhere when given
# (XTASK=path, or a carried target/release/xtask), else build it here.
X=${XTASK:-target/release/xtask}
if [ ! -x "$X" ]; then
  cargo build --release -p xtask --offline -q || cargo build --release -p xtask -q || exit 2
fi
"$X" --version || true
nvidia-smi -L || true

echo "== probe --json"
timeout 120 $X probe --json >"$OUT/probe.json"; echo "probe exit $?"
echo "== verify --json ($LOCK)"
timeout 300 $X verify --json --lock "$LOCK" --python "$PY" >"$OUT/verify.json"; echo "verify exit $?"
echo "== verify (human)"
timeout 300 $X verify --lock "$LOCK" --python "$PY" | tee "$OUT/verify.txt"
# Lock format 4 judges a device by the wheel's own kernels, as the solver
# does. mxnet-cu80 1.5.0 (locked for a GTX 1080): its own kernels carry SASS
# sm_30..sm_61 and no PTX; the union of all fatbin modules has PTX compute_61
# (a statically linked library's), which a format-3 lock called "PTX JIT".
# Expected on a GPU of compute capability 7.0 or above: FAIL gpu_code.
FIT=tests/fixtures/verify/cu80-gtx1080.lock
echo "== verify, gpu_code layer only matters ($FIT)"
timeout 300 $X verify --lock "$FIT" --python "$PY" | tee "$OUT/verify-cu80.txt" | grep -E "gpu_code|kernel image|own kernels|PTX" || true
echo "== doctor --json"
timeout 300 $X doctor --json --python "$PY" >"$OUT/doctor.json"; echo "doctor exit $?"
timeout 300 $X doctor --python "$PY" | tee "$OUT/doctor.txt"

echo "== kernel layer: gpu-env verify (ms, from verify --json)"
for i in 1 2 3 4 5; do
  $X verify --json --no-python --lock "$LOCK" >"$OUT/verify-$i.json"
  "$PY" - "$OUT/verify-$i.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
k = [l for l in r["layers"] if l["name"] == "kernel"][0]
runs = k.get("data", {}).get("runs", [{}])
print("gpu-env kernel layer: %s %.1f ms (compile %.1f ms, load+launch+copy+check %.1f ms) [%s] process %.1f ms"
      % (k["status"], k["ms"], runs[0].get("compile_ms", -1), runs[0].get("run_ms", -1), runs[0].get("image"), r["elapsed_ms"]))
PYEOF
done

echo "== CuPy RawKernel: compile + launch + copy + check, same saxpy, 2^20 floats"
for i in 1 2 3 4 5; do
# A fresh kernel cache each run: CuPy would otherwise load the cached cubin.
CUPY_CACHE_DIR=$(mktemp -d) "$PY" - <<'PYEOF'
import time
t0 = time.perf_counter()
import cupy as cp, numpy as np
t_import = time.perf_counter()
src = r'''
extern "C" __global__ void saxpy(float a, const float *x, const float *y, float *out, unsigned int n) {
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a * x[i] + y[i];
}
'''
n = 1 << 20
t1 = time.perf_counter()
k = cp.RawKernel(src, "saxpy", backend="nvrtc")
k.compile()  # NVRTC + module load (cache dir is empty: a real compile)
t2 = time.perf_counter()
x = np.arange(n, dtype=np.float32); y = ((n - np.arange(n)) * 0.5).astype(np.float32)
dx, dy = cp.asarray(x), cp.asarray(y); do = cp.empty_like(dx)
k(((n + 255) // 256,), (256,), (np.float32(2.5), dx, dy, do, np.uint32(n)))
out = cp.asnumpy(do)
ok = np.allclose(out, 2.5 * x + y, rtol=1e-3)
t3 = time.perf_counter()
print("cupy RawKernel: %s compile+load %.1f ms, launch+copy+check %.1f ms (import cupy %.1f ms, total %.1f ms)"
      % ("PASS" if ok else "FAIL", (t2 - t1) * 1e3, (t3 - t2) * 1e3, (t_import - t0) * 1e3, (t3 - t0) * 1e3))
PYEOF
done
echo "== driver PTX JIT: which PTX ISA versions does this driver load? (the NVRTC rule, docs/solver.md)"
# NVRTC/nvcc of CUDA X.Y emit PTX ISA of X.Y; cuModuleLoadData JIT-compiles it
# in the driver. Minor-version compatibility does not cover this: a driver
# older than the PTX's CUDA answers CUDA_ERROR_UNSUPPORTED_PTX_VERSION (222).
timeout 120 "$PY" - <<'PYEOF'
import ctypes, re, subprocess, tempfile, os
src = r'extern "C" __global__ void k(float *x) { x[threadIdx.x] *= 2.0f; }'
d = tempfile.mkdtemp(); cu = os.path.join(d, "k.cu"); open(cu, "w").write(src)
ptx = subprocess.run(["nvcc", "-ptx", "-arch=compute_75", cu, "-o", "-"], capture_output=True, text=True).stdout
nv = subprocess.run(["nvcc", "--version"], capture_output=True, text=True).stdout.strip().splitlines()[-1]
cuda = ctypes.CDLL("libcuda.so.1")
assert cuda.cuInit(0) == 0
drv = ctypes.c_int(); cuda.cuDriverGetVersion(ctypes.byref(drv))
dev = ctypes.c_int(); cuda.cuDeviceGet(ctypes.byref(dev), 0)
ctx = ctypes.c_void_p(); cuda.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev); cuda.cuCtxSetCurrent(ctx)
own = re.search(r"^\.version (\S+)", ptx, re.M).group(1)
print("driver CUDA %d.%d, nvcc: %s, nvcc emits PTX ISA %s" % (drv.value // 1000, drv.value % 1000 // 10, nv, own))
for v in ["7.8", "8.0", "8.5", "8.7", "8.8", "9.0", "9.1", "9.2", "9.9"]:
    text = re.sub(r"^\.version \S+", ".version " + v, ptx, flags=re.M).encode() + b"\0"
    mod = ctypes.c_void_p()
    rc = cuda.cuModuleLoadData(ctypes.byref(mod), ctypes.c_char_p(text))
    print("PTX ISA %s: cuModuleLoadData -> %d%s" % (v, rc, " (CUDA_ERROR_UNSUPPORTED_PTX_VERSION)" if rc == 222 else ""))
    if rc == 0: cuda.cuModuleUnload(mod)
PYEOF
echo "outputs in $OUT"
