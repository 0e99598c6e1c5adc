

def _gpu_env_platform():
    import os
    if os.environ.get("KAGGLE_KERNEL_RUN_TYPE") or os.path.isdir("/kaggle/working"):
        return "kaggle"
    if os.environ.get("COLAB_RELEASE_TAG") or os.path.isdir("/content"):
        return "colab"
    return "other"


def _gpu_env_base(platform):
    # verify::redist_dirs looks in the same places.
    import os
    return os.environ.get("GPU_ENV_HOME") or {
        "colab": "/content/gpu-env-redist",
        "kaggle": "/kaggle/working/gpu-env-redist",
    }.get(platform) or os.path.join(os.path.expanduser("~"), ".cache", "gpu-env-redist")


def _gpu_env_smi(smi, fields):
    """Rows of `nvidia-smi --query-gpu=FIELDS --format=csv,noheader`, or (None, why)."""
    import subprocess
    try:
        r = subprocess.run([smi, "--query-gpu=" + fields, "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as e:
        return None, str(e)
    out = (r.stdout or "")[:65536]
    if r.returncode != 0:
        return None, (out + (r.stderr or "")[:2000]).strip()
    return [[c.strip() for c in line.split(",")] for line in out.splitlines() if line.strip()], ""


def _gpu_env_runtime(names):
    """This runtime's GPUs (name, compute capability, driver) as nvidia-smi and
    /proc report them; compute_cap exists since driver R510, before it the
    compute capability comes from the names nvidia-smi prints (compat-db)."""
    import os, re, shutil
    rt = {"gpus": [], "driver": None, "why": ""}
    smi = shutil.which("nvidia-smi")
    if not smi:
        rt["why"] = "nvidia-smi is not on PATH, so the GPU cannot be identified"
    else:
        rows, why = _gpu_env_smi(smi, "name,compute_cap,driver_version")
        if rows is not None and all(len(r) == 3 for r in rows):
            rt["gpus"] = [{"name": r[0], "cc": r[1], "driver": r[2]} for r in rows]
        else:
            rows, why = _gpu_env_smi(smi, "name,driver_version")
            if rows is not None and all(len(r) == 2 for r in rows):
                rt["gpus"] = [{"name": r[0], "cc": names.get(r[0].lower()), "driver": r[1]}
                              for r in rows]
            else:
                rt["why"] = "nvidia-smi failed: %s" % (why or "no output")[:300]
    if rt["gpus"]:
        rt["driver"] = rt["gpus"][0]["driver"]
    proc = os.environ.get("GPU_ENV_SYSROOT", "") + "/proc/driver/nvidia/version"
    try:
        with open(proc) as f:
            # Proprietary: `Kernel Module  580.82.07`; open: `Open Kernel Module for x86_64  565.57.01`.
            m = re.search(r"Kernel Module(?:\s+for\s+\S+)?\s+([0-9]+\.[0-9.]+)", f.read(4096))
        rt["driver"] = rt["driver"] or (m and m.group(1))
        rt["proc"] = True
    except OSError:
        rt["proc"] = False
    return rt


def _gpu_env_version(v):
    import re
    return tuple(int(x) for x in re.findall(r"[0-9]+", v or ""))


def _gpu_env_gpu_problem(T, g):
    """Why the locked wheel cannot run on GPU `g` (None when it can)."""
    if g["cc"] in T["runs_on"]:
        return None
    if not g["cc"]:
        return ("cannot tell the compute capability of %s (nvidia-smi has no compute_cap "
                "and compat-db does not know the name)" % g["name"])
    offered = [o for o in T["offered"] if o["cc"] == g["cc"]]
    covers = [o["gpu"] for o in T["offered"] if o["advice"] is None]
    advice = offered[0]["advice"] if offered else (
        "Re-lock for it: `cargo xtask resolve --target %s:sm_%s`"
        % (T["kind"], g["cc"].replace(".", "")))
    msg = ("GPU %s (compute capability %s) cannot run %s %s, locked for %s: the wheel has %s. %s"
           % (g["name"], g["cc"], T["mxnet"]["package"], T["mxnet"]["version"],
              T["expect"].get("gpus", "?"), T["mxnet"]["code"], advice))
    if covers and advice.startswith("Re-lock"):
        msg += "; or choose a GPU this lock covers (%s): %s" % (
            "Settings > Accelerator" if T["kind"] == "kaggle"
            else "Runtime > Change runtime type", ", ".join(covers))
    return msg


def _gpu_env_problems(T, rt):
    """Why target T does not fit this runtime ([] when it fits)."""
    import sys
    why = []
    here = tuple(sys.version_info[:2])
    if not any(lo <= here and (hi is None or here <= hi) for lo, hi, _ in T["pythons"]):
        why.append("Python %s cannot install or import this lock's wheels (they take Python %s;"
                   " lock made for Python %s)"
                   % (sys.version.split()[0], ", ".join(w for _, _, w in T["pythons"]) or "none",
                      T["expect"].get("python", "?")))
    if T["numpy_runtime"]:
        have = _gpu_env_dist_version("numpy")
        if have != T["numpy_runtime"]:
            fresh = ("Runtime > Disconnect and delete runtime" if T["kind"] == "colab"
                     else "a new session")
            why.append("numpy %s here, the lock relies on the runtime's numpy %s: run this cell "
                       "first on a fresh runtime (%s); if the runtime's own numpy changed, "
                       "update gpu-env and run `cargo xtask resolve --target %s` again"
                       % (have or "(none)", T["numpy_runtime"], fresh, T["kind"]))
    if not T["gpu_build"]:
        return why
    if not rt["gpus"] and not rt["proc"]:
        menu = ("Settings > Accelerator > GPU %s" if T["kind"] == "kaggle"
                else "Runtime > Change runtime type > %s GPU") % T["gpu_type"]
        return why + ["no NVIDIA GPU in this runtime (no nvidia-smi, no /proc/driver/nvidia/"
                      "version); choose one: %s, then run this cell again" % menu]
    if not rt["gpus"]:
        return why + [rt["why"] or "nvidia-smi lists no GPU"]
    why += [p for p in (_gpu_env_gpu_problem(T, g) for g in rt["gpus"]) if p]
    have, floor = rt["driver"], T["driver_min"]
    if floor and not have:
        why.append("cannot read the NVIDIA driver version; the lock needs >= %s" % floor)
    elif floor and _gpu_env_version(have) < _gpu_env_version(floor):
        why.append("NVIDIA driver %s is older than the lock's floor %s: lock for this driver "
                   "with `cargo xtask resolve --target %s --driver %s`"
                   % (have, floor, T["kind"], have))
    return why


def _gpu_env_choose(L, platform):
    """The first locked target that fits this runtime: targets of this
    platform first, and among them those locked for this very GPU."""
    rt = _gpu_env_runtime(L["gpu_names"])
    here = set(g["cc"] for g in rt["gpus"])
    cands = [T for T in L["targets"] if T["kind"] == platform] or list(L["targets"])
    cands.sort(key=lambda T: not (here & set(T["ccs"])))
    verdicts = [(T, _gpu_env_problems(T, rt)) for T in cands]
    for T, why in verdicts:
        if not why:
            return T, rt
    runtime = "; ".join("%s: %s" % (g["name"], g["cc"]) for g in rt["gpus"]) or "no GPU"
    if len(verdicts) == 1:
        _gpu_env_stop("this runtime (%s) does not fit the lock: %s"
                      % (runtime, "; ".join(verdicts[0][1])))
    _gpu_env_stop("this runtime (%s) fits none of the locked targets: %s" % (runtime, " | ".join(
        "%s: %s" % (T["target"], "; ".join(why)) for T, why in verdicts)))


def _gpu_env_setup(L):
    """Pick the target, install it, preload its CUDA libraries, import MXNet, check it."""
    import os, sys, time
    t0 = time.time()
    short = L["lock_sha256"][:16]
    restart = ("Restart the runtime (Runtime > Restart session) and run this cell first, "
               "before anything imports torch or mxnet.")
    loaded = os.environ.get("GPU_ENV_LOADED")
    if loaded and loaded != L["lock_sha256"]:
        _gpu_env_stop("this kernel already loaded another gpu-env lock (sha256 %s). %s"
                      % (loaded[:16], restart))
    if loaded == L["lock_sha256"] and "mxnet" in sys.modules:
        _gpu_env_say("already set up in this kernel (lock sha256 %s); checking again" % short)
        T = [T for T in L["targets"] if T["target"] == os.environ.get("GPU_ENV_TARGET")]
        return _gpu_env_check(L, (T or L["targets"])[0], sys.modules["mxnet"], t0)
    for mod in ("torch", "mxnet"):
        if mod in sys.modules:
            _gpu_env_stop("`%s` was imported in this kernel before this cell ran; its CUDA "
                          "libraries would shadow the locked ones. %s" % (mod, restart))
    platform = _gpu_env_platform()
    T, rt = _gpu_env_choose(L, platform)
    gpus = ", ".join("%s (%s)" % (g["name"], g["cc"]) for g in rt["gpus"])
    _gpu_env_say("target %s fits this runtime (%s%s%s)" % (
        T["target"], "GPU " + gpus if gpus else "no GPU",
        ", driver %s" % rt["driver"] if rt["driver"] else "",
        " >= %s" % T["driver_min"] if T["driver_min"] else ""))
    want_cuda = T["expect"].get("cuda_toolkit")
    have_cuda = _gpu_env_cuda_toolkit()
    if want_cuda and have_cuda and have_cuda.split(".")[:2] != want_cuda.split(".")[:2]:
        _gpu_env_say("note: CUDA toolkit %s, lock made for %s (the locked CUDA libraries are "
                     "installed separately; continuing)" % (have_cuda, want_cuda))
    base = _gpu_env_base(platform)
    redist_dir = os.path.join(base, short)
    _gpu_env_refuse_loaded(T, redist_dir, restart)
    _gpu_env_install(L, T, base, redist_dir, t0)
    _gpu_env_pip_state(L, T, base)
    np_mod = sys.modules.get("numpy")
    if np_mod is not None and T["numpy"] and getattr(np_mod, "__version__", "") != T["numpy"]:
        _gpu_env_stop("numpy %s was imported before the locked numpy %s was installed (the "
                      "files are installed now). %s" % (np_mod.__version__, T["numpy"], restart))
    _gpu_env_preload(T, redist_dir)
    mx = _gpu_env_import(T)
    os.environ["GPU_ENV_LOADED"] = L["lock_sha256"]
    os.environ["GPU_ENV_TARGET"] = T["target"]
    return _gpu_env_check(L, T, mx, t0)


def _gpu_env_cuda_toolkit():
    import json
    try:
        with open("/usr/local/cuda/version.json") as f:
            return json.load(f)["cuda"]["version"]
    except Exception:
        return ""


def _gpu_env_refuse_loaded(T, redist_dir, restart):
    """A locked soname already mapped from elsewhere cannot be loaded beside it."""
    import os
    # Sonames shared with the runtime (`reuse`) may already be loaded from it.
    wanted = set(p["soname"] for p in T["preload"]
                 if not p["soname"].endswith("*") and not p["runtime"])
    try:
        with open("/proc/self/maps") as f:
            maps = f.read().split("\n")
    except OSError:
        maps = []
    for line in maps:
        path = line.split(" ")[-1] if "/" in line else ""
        name = os.path.basename(path)
        for so in wanted:
            if (name == so or name.startswith(so + ".")) and not path.startswith(redist_dir + "/"):
                _gpu_env_stop("%s is already loaded in this kernel from %s; the locked copy "
                              "cannot be loaded beside it. %s" % (so, path, restart))


def _gpu_env_pip(L, lines, req_file, extra):
    import subprocess, sys
    with open(req_file, "w") as f:
        f.write("# gpu-env lock sha256 %s\n" % L["lock_sha256"])
        for line in lines:
            f.write(line + "\n")
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--require-hashes",
           "--only-binary=:all:", "--no-input", "--disable-pip-version-check",
           "--no-warn-script-location", "-r", req_file] + extra
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        out = r.stdout[-4000:] + r.stderr[-4000:]
        sys.stderr.write(out)
        lines = [l.strip() for l in out.splitlines() if l.strip()]
        cause = next((l for l in reversed(lines) if l.startswith("ERROR:")),
                     lines[-1] if lines else "no output")
        _gpu_env_stop("pip failed (exit %d): %s. Fix that and run this cell again (a network "
                      "error: this runtime must reach files.pythonhosted.org; a hash mismatch: "
                      "run `cargo xtask resolve` again). Command: %s"
                      % (r.returncode, cause, " ".join(cmd)))


def _gpu_env_install(L, T, base, redist_dir, t0):
    """Install exactly the locked files the runtime does not already serve,
    hash-checked, without dependency resolution: CUDA redistributables into
    their own directory."""
    import json, os, shutil, sys, time
    short = L["lock_sha256"][:16]
    marker = os.path.join(redist_dir, ".gpu-env-installed")
    fetch, reused, absent = _gpu_env_fetch_plan(T)
    site = [p for p in fetch if p["install"] == "site"]
    redist = [p for p in fetch if p["install"] == "redist"]
    want = {"lock_sha256": L["lock_sha256"], "prefix": sys.prefix, "target": T["target"],
            "redist": sorted(p["name"] for p in redist)}

    def site_current():
        return not [m for m in _gpu_env_site_mismatches(T) if m[0] in [p["name"] for p in site]]

    def req(p):
        return "%s @ %s --hash=sha256:%s" % (p["name"], p["url"], p["sha256"])

    try:
        with open(marker) as f:
            have = json.load(f)
        # A marker without "redist" is from a cell that installed every locked file.
        every = [p["name"] for p in T["packages"] if p["install"] == "redist"]
        done = (all(have.get(k) == want[k] for k in ("lock_sha256", "prefix", "target"))
                and set(want["redist"]) <= set(have.get("redist", every)))
    except Exception:
        done = False
    if done and site_current():
        _gpu_env_say("locked files already installed (%s)" % redist_dir)
        return
    _gpu_env_say_plan(fetch, reused, absent)
    _gpu_env_say("installing %d of %d locked files (%s to download; %d served by the runtime, "
                 "%s not downloaded), hash-checked, without dependency resolution" % (
                     len(fetch), len(T["packages"]), _gpu_env_mb(sum(p["size"] for p in fetch)),
                     len(reused), _gpu_env_mb(sum(p["size"] for p, _ in reused))))
    os.makedirs(base, exist_ok=True)
    if redist:
        partial = redist_dir + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        os.makedirs(partial)
        _gpu_env_pip(L, [req(p) for p in redist], os.path.join(base, short + "-redist.txt"),
                     ["--target", partial])
        shutil.rmtree(redist_dir, ignore_errors=True)
        os.replace(partial, redist_dir)
    else:
        os.makedirs(redist_dir, exist_ok=True)
    if site:
        _gpu_env_pip(L, [req(p) for p in site], os.path.join(base, short + "-site.txt"), [])
    if not site_current():
        _gpu_env_stop("the locked versions are not what this Python sees after the install")
    with open(marker, "w") as f:
        json.dump(want, f)
    _gpu_env_say("installed in %.0f s" % (time.time() - t0))


def _gpu_env_pip_state(L, T, base):
    """Make pip's view agree with the lock: record in MXNet's metadata each
    Requires-Dist the lock overrides (so `pip check` is clean), and pin the
    locked versions for every later `pip install` in this kernel."""
    import importlib.metadata, os, re
    try:
        dist = importlib.metadata.distribution(T["mxnet"]["package"])
        meta = [f for f in dist.files or [] if f.name == "METADATA"
                and f.parent.name.endswith(".dist-info")]
        path = str(dist.locate_file(meta[0])) if meta else None
    except importlib.metadata.PackageNotFoundError:
        path = None
    over = dict((name, (new, why)) for name, new, why in T["requires_overrides"])
    if path and over:
        with open(path, encoding="utf-8") as f:
            head, sep, body = f.read().partition("\n\n")
        lines = []
        for line in head.split("\n"):
            m = re.match(r"Requires-Dist:\s*([A-Za-z0-9._-]+)", line)
            name = m and re.sub(r"[-_.]+", "-", m.group(1)).lower()
            if name in over:
                if over[name][0]:
                    lines.append("Requires-Dist: " + over[name][0])
                continue
            lines.append(line)
        with open(path + ".gpu-env", "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + sep + body)
        os.replace(path + ".gpu-env", path)
        for name, (new, why) in sorted(over.items()):
            _gpu_env_say("pip metadata: %s %s (%s)" % (
                T["mxnet"]["package"], "requires " + new if new else "drops " + name, why))
    pins = ["%s==%s" % (p["name"], p["version"]) for p in T["packages"] if p["install"] == "site"]
    numpy = T["numpy"] or T["numpy_runtime"]
    if numpy and not T["numpy"]:
        pins.append("numpy==" + numpy)
    cfile = os.path.join(base, L["lock_sha256"][:16] + "-constraints.txt")
    with open(cfile, "w") as f:
        f.write("# gpu-env: the locked versions; later pip installs in this kernel keep them\n")
        f.write("\n".join(sorted(pins)) + "\n")
    have = os.environ.get("PIP_CONSTRAINT", "").split()
    if cfile not in have:
        os.environ["PIP_CONSTRAINT"] = " ".join(have + [cfile])
    _gpu_env_say("later `pip install` in this kernel keeps %s (PIP_CONSTRAINT=%s)"
                 % (", ".join(sorted(pins)), cfile))
    for line in T.get("companions", []):
        _gpu_env_say(line)


def _gpu_env_import(T):
    """numpy shims, then import mxnet."""
    _gpu_env_apply_shims(T)
    try:
        import mxnet as mx
    except Exception as e:
        text = "%s: %s" % (type(e).__name__, e)
        if "libcuda.so.1" in text:
            _gpu_env_stop("import mxnet: every locked CUDA library loaded, but the NVIDIA "
                          "driver (libcuda.so.1) is missing: %s" % text)
        _gpu_env_stop("import mxnet failed: %s" % text)
    return mx


def _gpu_env_check(L, T, mx, t0):
    import time
    m = T["mxnet"]
    try:
        if T["gpu_build"]:
            n = mx.context.num_gpus()
            if n <= 0:
                raise RuntimeError("mx.context.num_gpus() == 0")
            ctx = mx.gpu()
            where = "%d GPU(s)" % n
        else:
            ctx = mx.cpu()
            where = "CPU (this MXNet build has no CUDA)"
        a = mx.nd.ones((2, 3), ctx=ctx)
        total = float((a * 2).sum().asscalar())
        if total != 12.0:
            raise RuntimeError("(ones((2,3)) * 2).sum() == %r, expected 12" % total)
    except Exception as e:
        _gpu_env_stop("%s %s (lock sha256 %s): %s: %s" % (
            m["package"], m["version"], L["lock_sha256"][:16], type(e).__name__, e), "FAILED")
    print("gpu-env: OK %s %s (import %s) works on %s in %.1f s; target %s; lock sha256 %s"
          % (m["package"], m["version"], mx.__version__, where, time.time() - t0,
             T["target"], L["lock_sha256"][:16]), flush=True)
    return mx


def _gpu_env_main(L):
    try:
        import IPython
        ipython = IPython.get_ipython() is not None
    except Exception:
        ipython = False
    try:
        return _gpu_env_setup(L)
    except _GpuEnvStop as e:
        if ipython:
            raise  # one line, see _GpuEnvStop
        raise SystemExit(str(e)) from None  # plain python: the line on stderr, exit 1


mx = _gpu_env_main(_gpu_env_lock)
