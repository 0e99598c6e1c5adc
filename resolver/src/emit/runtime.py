# gpu-env runtime: the one implementation of the lock's loader policy
# (preloads) and shim grammar, shared by the setup cell, `verify`'s Python
# layer and the hook `cargo xtask install` writes. Generated code: see
# resolver/src/emit/runtime.py in gpu-env.


class _GpuEnvStop(Exception):
    """A stop the user must act on. In IPython (Colab, Kaggle, Jupyter) the
    cell fails, so Run all stops there, and shows this one line instead of a
    traceback (IPython's `_render_traceback_` hook); each entry point decides
    how it ends elsewhere (the cell: SystemExit; the install hook:
    ImportError; verify: a failed layer)."""

    def _render_traceback_(self):
        return [str(self)]


def _gpu_env_stop(msg, verdict="STOP"):
    raise _GpuEnvStop("gpu-env: %s: %s" % (verdict, msg))


def _gpu_env_say(msg):
    print("gpu-env: " + msg, flush=True)


def _gpu_env_dist_version(name):
    import importlib, importlib.metadata
    importlib.invalidate_caches()
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def _gpu_env_site_mismatches(T):
    """[(name, installed or None, locked)] for each package the lock puts in
    site-packages that this interpreter does not have at the locked version,
    and for the runtime's numpy the lock relies on."""
    want = [(p["name"], p["version"]) for p in T["packages"] if p["install"] == "site"]
    if T.get("numpy_runtime"):
        want.append(("numpy", T["numpy_runtime"]))
    return [(n, _gpu_env_dist_version(n), v) for n, v in want if _gpu_env_dist_version(n) != v]


def _gpu_env_preload(T, redist_dir, say=_gpu_env_say):
    """Load the CUDA libraries by absolute path, in dependency order."""
    import ctypes, importlib, importlib.metadata, os, re
    files = {}
    importlib.invalidate_caches()

    def norm(d):
        return re.sub(r"[-_.]+", "-", (d.metadata["Name"] or "")).lower()

    def index(dists):
        for d in dists:
            for f in d.files or []:
                if ".so" in f.name:
                    files.setdefault(norm(d), {}).setdefault(f.name, str(d.locate_file(f)))

    if any(p["install"] == "redist" for p in T["packages"]):
        index(importlib.metadata.distributions(path=[redist_dir]))
    wanted = set(p["package"] for p in T["preload"])
    wanted |= set(p["runtime"]["package"] for p in T["preload"] if p["runtime"])
    index(d for d in importlib.metadata.distributions() if norm(d) in wanted)
    todo, shared = [], []
    for p in T["preload"]:
        have = files.get(p["package"], {})
        rt = p["runtime"]
        if rt and _gpu_env_dist_version(rt["package"]) == rt["version"] \
                and p["soname"] in files.get(rt["package"], {}):
            # The runtime's own copy (compat-db `reuse`): torch, cupy and jax
            # imported later bind the library they were built for.
            have = files[rt["package"]]
            shared.append("%s (%s %s)" % (p["soname"], rt["package"], rt["version"]))
        elif rt:
            say("note: %s %s is not installed here; %s comes from %s"
                         % (rt["package"], rt["version"], p["soname"], p["package"]))
        if p["soname"].endswith("*"):
            found = sorted(n for n in have if n.startswith(p["soname"][:-1]))
        else:
            found = [p["soname"]] if p["soname"] in have else []
        if not found and p["required"]:
            _gpu_env_stop("%s not found in the installed %s (%s)"
                          % (p["soname"], p["package"], redist_dir))
        todo += [(n, os.path.abspath(have[n]), p["required"]) for n in found]
    done, errors = 0, {}
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
    for n, path, required in todo:
        if required:
            _gpu_env_stop("cannot load %s: %s" % (path, errors[n]))
        say("note: optional %s not loaded: %s" % (n, errors[n]))
    if T["preload"]:
        say("preloaded %d libraries from %s" % (done, redist_dir) + (
            "; shared with the runtime: " + ", ".join(shared) if shared else ""))


def _gpu_env_apply_shims(T, say=_gpu_env_say):
    """The lock's shims (emit::parse_shim's grammar, as data), each only where
    the attribute is missing. First the lock's environment (MXNET_USE_FUSION=0
    where the driver cannot JIT the NVRTC's PTX), which MXNet reads at run time."""
    import importlib, os, warnings
    for name, value in T.get("env", []):
        os.environ[name] = value
        say("env: %s=%s" % (name, value))
    for mod_name, attr, expr in T["shims"]:
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
