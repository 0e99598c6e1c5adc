#!/usr/bin/env python3
"""One coexistence experiment per process.  usage: exp.py {a,b,c,d}
a: cell preload (all cu11, RTLD_GLOBAL) -> import torch -> import mxnet
b: import torch -> cell preload (all cu11) -> import mxnet
c: policy preload (cu12 site-packages copy for sonames the cu12 set also ships, cu11 otherwise) -> torch -> mxnet
d: import torch -> policy preload -> import mxnet"""
import ast, ctypes, glob, os, re, sys, traceback
ROOT = os.environ.get("COEXIST_ROOT", "/tmp/coexist")
CU11 = ROOT + "/cu11"
SP = [p for p in sys.path if p.endswith("site-packages")][0]
CELL = os.environ["COEXIST_CELL"]  # the setup cell whose preload list is applied (run.sh sets it)
INTEREST = re.compile(r"lib(curand|cusolver|cusolverMg|nccl|nvToolsExt|cudart|cublas|cublasLt|cudnn|cuda)\.so[.0-9]*$")

def lock():
    tree = ast.parse(open(CELL).read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "_gpu_env_lock":
            return ast.literal_eval(node.value)
L = lock()["targets"][0]  # the cell's first target: its preload list and numpy shims

def say(*a):
    print(*a, flush=True)

def maps(tag):
    seen = []
    for line in open("/proc/self/maps"):
        p = line.split()[-1]
        if p.startswith("/") and INTEREST.search(os.path.basename(p)) and p not in seen:
            seen.append(p)
    say("  [maps after %s]" % tag)
    for p in seen:
        say("    " + p.replace(SP, "<site-packages>").replace(CU11, "<cu11>"))

class DlInfo(ctypes.Structure):
    _fields_ = [("fname", ctypes.c_char_p), ("fbase", ctypes.c_void_p), ("sname", ctypes.c_char_p), ("saddr", ctypes.c_void_p)]
_libc = ctypes.CDLL(None)
PROBES = [("libcurand.so.10", "curandGetVersion"), ("libcusolver.so.11", "cusolverGetVersion"),
          ("libnccl.so.2", "ncclGetVersion"), ("libnvToolsExt.so.1", None)]

def by_soname(tag):
    """What a DT_NEEDED / dlopen(soname) request resolves to now (RTLD_NOLOAD: never loads anything)."""
    say("  [by-soname resolution after %s]" % tag)
    for soname, fn in PROBES:
        try:
            h = ctypes.CDLL(soname, mode=os.RTLD_NOLOAD)
        except OSError:
            say("    %-20s not loaded" % soname); continue
        sym = fn or "nvtxRangePushA"
        addr = ctypes.cast(getattr(h, sym), ctypes.c_void_p).value
        info = DlInfo(); _libc.dladdr(ctypes.c_void_p(addr), ctypes.byref(info))
        ver = ""
        if fn:
            v = ctypes.c_int(0); getattr(h, fn)(ctypes.byref(v)); ver = " version %d" % v.value
        say("    %-20s -> %s%s" % (soname, info.fname.decode().replace(SP, "<site-packages>").replace(CU11, "<cu11>"), ver))

def find(base, soname):
    pat = soname if soname.endswith("*") else soname
    return sorted(glob.glob(os.path.join(base, "nvidia", "*", "lib", pat)))

def preload(policy):
    todo = []
    for p in L["preload"]:
        s = p["soname"]
        src = CU11
        if policy and not s.endswith("*") and find(SP, s):
            src = SP          # the runtime (cu12 wheels) ships the same soname: use its copy
        files = find(src, s)
        if not files and p["required"]:
            raise SystemExit("missing " + s)
        for f in files:
            todo.append((s, f))
    left = todo
    while left:
        nxt, errs = [], {}
        for s, f in left:
            try:
                ctypes.CDLL(f, mode=ctypes.RTLD_GLOBAL)
                say("  preloaded %-26s from %s" % (os.path.basename(f), "cu12 site-packages" if f.startswith(SP) else "cu11 dir"))
            except OSError as e:
                errs[f] = str(e); nxt.append((s, f))
        if len(nxt) == len(left):
            for s, f in nxt: say("  PRELOAD FAILED %s: %s" % (f, errs[f]))
            break
        left = nxt

def step(name, fn):
    say("== " + name)
    try:
        fn(); say("  OK")
        return True
    except BaseException as e:
        say("  FAILED: %s: %s" % (type(e).__name__, str(e)[:600]))
        return False
    finally:
        maps(name); by_soname(name)

def do_torch():
    import torch
    say("  torch %s cuda %s; torch.randn(3).sum() = %s" % (torch.__version__, torch.version.cuda, torch.randn(3).sum()))
    say("  torch.cuda.nccl.version() = %s (compile-time constant, not the loaded library)" % (torch.cuda.nccl.version(),))
    # torch loads libtorch_cuda_linalg.so lazily on the first CUDA linalg call; do it now to check cusolver binding
    ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cuda_linalg.so"))
    say("  loaded libtorch_cuda_linalg.so (torch's cusolver user)")

def do_mxnet():
    import importlib, warnings
    for mod_name, attr, expr in L["shims"]:
        mod = importlib.import_module(mod_name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try: present = hasattr(mod, attr)
            except Exception: present = False
        if not present:
            neg = expr.startswith("-"); body = expr.lstrip("-")
            if body == "None": v = None
            elif body.replace(".", "", 1).isdigit(): v = float(body)
            elif body.startswith("numpy."): v = getattr(importlib.import_module("numpy"), body[6:])
            else:
                import builtins; v = getattr(builtins, body)
            setattr(mod, attr, -v if neg else v)
    import mxnet as mx
    say("  mxnet %s imported; cpu check (ones((2,3))*2).sum() = %s" % (mx.__version__, float((mx.nd.ones((2, 3)) * 2).sum().asscalar())))
    try:
        say("  mx.context.num_gpus() = %s" % mx.context.num_gpus())
    except Exception as e:
        say("  mx.context.num_gpus() raised %s: %s" % (type(e).__name__, str(e).splitlines()[0][:200]))

sc = sys.argv[1]
say("scenario %s; LD_BIND_NOW=%s LD_LIBRARY_PATH=%s" % (sc, os.environ.get("LD_BIND_NOW"), os.environ.get("LD_LIBRARY_PATH")))
if sc == "a":
    step("cell preload (all cu11)", lambda: preload(False)); step("import torch", do_torch); step("import mxnet", do_mxnet)
elif sc == "b":
    step("import torch", do_torch); step("cell preload (all cu11)", lambda: preload(False)); step("import mxnet", do_mxnet)
elif sc == "c":
    step("policy preload", lambda: preload(True)); step("import torch", do_torch); step("import mxnet", do_mxnet)
elif sc == "d":
    step("import torch", do_torch); step("policy preload", lambda: preload(True)); step("import mxnet", do_mxnet)
