

def _gpu_env_setup(L):
    """Install the locked stack, preload its CUDA libraries, import MXNet, check it."""
    import ctypes, hashlib, importlib, importlib.metadata, json, os, re, shutil, subprocess, sys, time

    t0 = time.time()
    short = L["lock_sha256"][:16]

    def say(msg):
        print("gpu-env: " + msg, flush=True)

    def stop(msg):
        # SystemExit ends the cell without a long traceback (in IPython and in python3).
        raise SystemExit("gpu-env: STOP: " + msg)

    restart = ("Restart the runtime (Runtime > Restart session) and run this cell first, "
               "before anything imports torch or mxnet.")

    # --- 1. This kernel: is it still clean? ------------------------------------
    loaded = os.environ.get("GPU_ENV_LOADED")
    if loaded and loaded != L["lock_sha256"]:
        stop("this kernel already loaded another gpu-env lock (sha256 %s). %s" % (loaded[:16], restart))
    if loaded == L["lock_sha256"] and "mxnet" in sys.modules:
        say("already set up in this kernel (lock sha256 %s); checking again" % short)
        return _gpu_env_check(L, sys.modules["mxnet"], t0)
    for mod in ("torch", "mxnet"):
        if mod in sys.modules:
            stop("`%s` was imported in this kernel before this cell ran; its CUDA libraries "
                 "would shadow the locked ones. %s" % (mod, restart))

    base = os.environ.get("GPU_ENV_HOME") or (
        "/content/gpu-env-redist" if os.path.isdir("/content")
        else os.path.join(os.path.expanduser("~"), ".cache", "gpu-env-redist"))
    redist_dir = os.path.join(base, short)
    wanted = set(p["soname"] for p in L["preload"] if not p["soname"].endswith("*"))
    try:
        maps = open("/proc/self/maps").read().split("\n")
    except OSError:
        maps = []
    for line in maps:
        path = line.split(" ")[-1] if "/" in line else ""
        name = os.path.basename(path)
        for so in wanted:
            if (name == so or name.startswith(so + ".")) and not path.startswith(redist_dir + "/"):
                stop("%s is already loaded in this kernel from %s; the locked copy cannot be "
                     "loaded beside it. %s" % (so, path, restart))

    # --- 2. The runtime: a GPU, and the runtime the lock was made for ----------
    if os.environ.get("GPU_ENV_ALLOW_NON_COLAB") != "1":
        smi = shutil.which("nvidia-smi")
        if not smi and not os.path.exists("/proc/driver/nvidia/version"):
            stop("no NVIDIA GPU in this runtime (no nvidia-smi, no /proc/driver/nvidia/version). "
                 "Runtime > Change runtime type > %s GPU, then run this cell again." % L["gpu_type"])
        differs = []
        notes = []
        want_py = L["expect"].get("python")
        have_py = "%d.%d" % sys.version_info[:2]
        if want_py and ".".join(want_py.split(".")[:2]) != have_py:
            differs.append("Python %s, lock made for %s" % (sys.version.split()[0], want_py))
        want_gpus = L["expect"].get("gpus")
        if want_gpus and smi:
            try:
                have = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"],
                                      capture_output=True, text=True, timeout=30).stdout.strip()
            except Exception:
                have = ""
            names = [g.split(" (")[0].strip().lower() for g in want_gpus.split(", ")]
            first = have.split("\n")[0].strip()
            if first and not any(n and (n in first.lower() or first.lower() in n) for n in names):
                differs.append("GPU %s, lock made for %s" % (first, want_gpus))
        want_cuda = L["expect"].get("cuda_toolkit")
        if want_cuda:
            have_cuda = ""
            try:
                have_cuda = json.load(open("/usr/local/cuda/version.json"))["cuda"]["version"]
            except Exception:
                pass
            if have_cuda and ".".join(have_cuda.split(".")[:2]) != ".".join(want_cuda.split(".")[:2]):
                notes.append("CUDA toolkit %s, lock made for %s" % (have_cuda, want_cuda))
        for n in notes:
            say("note: " + n + " (the locked CUDA libraries are installed separately; continuing)")
        if differs:
            msg = ("this runtime differs from the one the lock was made for (%s): %s. Choose the "
                   "matching runtime, or re-lock with `cargo xtask resolve --target colab:<gpu>`; "
                   "set GPU_ENV_IGNORE_MISMATCH=1 to try anyway." % (L["target"], "; ".join(differs)))
            if os.environ.get("GPU_ENV_IGNORE_MISMATCH") == "1":
                say("warning: " + msg)
            else:
                stop(msg)

    # --- 3. Install exactly the locked files, hash-checked, no dependency resolution
    marker = os.path.join(redist_dir, ".gpu-env-installed")
    site = [p for p in L["packages"] if p["install"] == "site"]
    redist = [p for p in L["packages"] if p["install"] == "redist"]

    def site_current():
        importlib.invalidate_caches()
        for p in site:
            try:
                if importlib.metadata.version(p["name"]) != p["version"]:
                    return False
            except importlib.metadata.PackageNotFoundError:
                return False
        return True

    def marker_ok():
        try:
            m = json.load(open(marker))
        except Exception:
            return False
        return m.get("lock_sha256") == L["lock_sha256"] and m.get("prefix") == sys.prefix

    def pip(req_lines, req_file, extra):
        with open(req_file, "w") as f:
            f.write("# gpu-env lock sha256 %s\n" % L["lock_sha256"])
            for line in req_lines:
                f.write(line + "\n")
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--require-hashes",
               "--only-binary=:all:", "--no-input", "--disable-pip-version-check",
               "--no-warn-script-location", "-r", req_file] + extra
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stdout[-4000:] + r.stderr[-4000:])
            stop("pip failed (exit %d): %s" % (r.returncode, " ".join(cmd)))

    def req(p):
        return "%s @ %s --hash=sha256:%s" % (p["name"], p["url"], p["sha256"])

    if marker_ok() and site_current():
        say("locked files already installed (%s)" % redist_dir)
    else:
        total = sum(p["size"] for p in L["packages"])
        say("installing %d locked files (%.0f MB), hash-checked, without dependency resolution"
            % (len(L["packages"]), total / 1e6))
        os.makedirs(base, exist_ok=True)
        if redist:
            partial = redist_dir + ".partial"
            shutil.rmtree(partial, ignore_errors=True)
            os.makedirs(partial)
            pip([req(p) for p in redist], os.path.join(base, short + "-redist.txt"),
                ["--target", partial])
            shutil.rmtree(redist_dir, ignore_errors=True)
            os.replace(partial, redist_dir)
        else:
            os.makedirs(redist_dir, exist_ok=True)
        if site:
            pip([req(p) for p in site], os.path.join(base, short + "-site.txt"), [])
        if not site_current():
            stop("the locked versions are not what this Python sees after the install")
        with open(marker, "w") as f:
            json.dump({"lock_sha256": L["lock_sha256"], "prefix": sys.prefix}, f)
        say("installed in %.0f s" % (time.time() - t0))

    # A numpy imported before a numpy upgrade/downgrade stays the old one.
    np_mod = sys.modules.get("numpy")
    if np_mod is not None and L["numpy"] and getattr(np_mod, "__version__", "") != L["numpy"]:
        stop("numpy %s was imported before the locked numpy %s was installed (the files are "
             "installed now). %s" % (np_mod.__version__, L["numpy"], restart))

    # --- 4. Preload the CUDA libraries by absolute path, in dependency order ----
    files = {}
    importlib.invalidate_caches()

    def index(dists):
        for d in dists:
            name = re.sub(r"[-_.]+", "-", (d.metadata["Name"] or "")).lower()
            for f in d.files or []:
                base_name = f.name
                if ".so" in base_name:
                    files.setdefault(name, {}).setdefault(base_name, str(d.locate_file(f)))

    if redist:
        index(importlib.metadata.distributions(path=[redist_dir]))
    index(d for d in importlib.metadata.distributions()
          if re.sub(r"[-_.]+", "-", (d.metadata["Name"] or "")).lower()
          in set(p["package"] for p in L["preload"]))
    todo = []
    for p in L["preload"]:
        have = files.get(p["package"], {})
        if p["soname"].endswith("*"):
            pre = p["soname"][:-1]
            found = sorted(n for n in have if n.startswith(pre))
        else:
            found = [p["soname"]] if p["soname"] in have else []
        if not found and p["required"]:
            stop("%s not found in the installed %s (%s)" % (p["soname"], p["package"], redist_dir))
        for n in found:
            todo.append((n, os.path.abspath(have[n]), p["required"]))
    done = 0
    errors = {}
    while todo:
        left = []
        for n, path, required in todo:
            try:
                ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)
                done += 1
            except OSError as e:
                errors[n] = str(e)
                left.append((n, path, required))
        if len(left) == len(todo):
            break
        todo = left
    else:
        left = []
    for n, path, required in left:
        if required:
            stop("cannot load %s: %s" % (path, errors[n]))
        say("note: optional %s not loaded: %s" % (n, errors[n]))
    if L["preload"]:
        say("preloaded %d libraries from %s" % (done, redist_dir))

    # --- 5. numpy shims, then import mxnet ------------------------------------
    import builtins, warnings
    for mod_name, attr, expr in L["shims"]:
        mod = importlib.import_module(mod_name)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                present = hasattr(mod, attr)
        except Exception:
            present = False
        if not present:
            setattr(mod, attr, _gpu_env_shim_value(expr))
            say("shim: %s.%s = %s" % (mod_name, attr, expr))
    try:
        import mxnet as mx
    except Exception as e:
        text = "%s: %s" % (type(e).__name__, e)
        if "libcuda.so.1" in text:
            stop("import mxnet: every locked CUDA library loaded, but the NVIDIA driver "
                 "(libcuda.so.1) is missing: %s" % text)
        stop("import mxnet failed: %s" % text)
    os.environ["GPU_ENV_LOADED"] = L["lock_sha256"]
    return _gpu_env_check(L, mx, t0)


def _gpu_env_shim_value(expr):
    # The grammar emit::parse_shim admits: None, a float literal, a builtin
    # type, or a (negated) attribute of a package; never eval.
    import builtins, importlib
    if expr == "None":
        return None
    neg = expr.startswith("-")
    body = expr[1:] if neg else expr
    if body.replace(".", "", 1).isdigit():
        value = float(body)
    else:
        head, _, rest = body.partition(".")
        value = getattr(builtins, head) if not rest else importlib.import_module(head)
        for part in rest.split(".") if rest else []:
            value = getattr(value, part)
    return -value if neg else value


def _gpu_env_check(L, mx, t0):
    import time
    m = L["mxnet"]
    try:
        if L["gpu_build"]:
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
        raise SystemExit("gpu-env: FAILED %s %s (lock sha256 %s): %s: %s"
                         % (m["package"], m["version"], L["lock_sha256"][:16], type(e).__name__, e))
    print("gpu-env: OK %s %s (import %s) works on %s in %.1f s; lock sha256 %s"
          % (m["package"], m["version"], mx.__version__, where, time.time() - t0,
             L["lock_sha256"][:16]), flush=True)
    return mx


mx = _gpu_env_setup(_gpu_env_lock)
