# gpu-env runtime: the one implementation of the lock's loader policy
# (preloads, and which locked files the runtime's own wheels make
# unnecessary to download) and shim grammar, shared by the setup cell,
# `verify`'s Python layer and the hook `cargo xtask install` writes.
# Generated code: see commands/src/emit/runtime.py in gpu-env.


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


def _gpu_env_norm(d):
    import re
    return re.sub(r"[-_.]+", "-", (d.metadata["Name"] or "")).lower()


def _gpu_env_index(dists, files):
    """Add each distribution's shared libraries to files[package][file name] = path."""
    for d in dists:
        for f in d.files or []:
            if ".so" in f.name:
                files.setdefault(_gpu_env_norm(d), {}).setdefault(f.name, str(d.locate_file(f)))


def _gpu_env_reuse(T):
    """Which locked sonames the runtime's own wheels serve (compat-db `reuse`):
    the wheel is installed here at the version measured to serve the locked
    MXNet and ships the soname. Returns (files, shared, absent): the runtime
    wheels' libraries, {soname: runtime}, and [(entry, version here or None)]
    for each reuse the runtime cannot serve. The cell decides from this what
    to download, and every entry point what to preload: one answer for both."""
    import importlib, importlib.metadata
    importlib.invalidate_caches()
    files, shared, absent = {}, {}, []
    wanted = set(p["runtime"]["package"] for p in T["preload"] if p["runtime"])
    if wanted:
        _gpu_env_index((d for d in importlib.metadata.distributions()
                        if _gpu_env_norm(d) in wanted), files)
    for p in T["preload"]:
        rt = p["runtime"]
        if not rt:
            continue
        have = _gpu_env_dist_version(rt["package"])
        if have == rt["version"] and p["soname"] in files.get(rt["package"], {}):
            shared[p["soname"]] = rt
        else:
            absent.append((p, have))
    return files, shared, absent


def _gpu_env_fetch_plan(T):
    """(fetch, reused, absent): the locked packages to download; the
    redistributables not downloaded, each with the sonames the runtime
    serves in their place (every soname the lock takes from it); and the
    runtime copies that are missing or another version (their locked
    package is downloaded instead)."""
    _, shared, absent = _gpu_env_reuse(T)
    sonames = {}
    for p in T["preload"]:
        sonames.setdefault(p["package"], []).append(p["soname"])
    reused = [(pkg, sonames[pkg["name"]]) for pkg in T["packages"]
              if pkg["install"] == "redist" and sonames.get(pkg["name"])
              and all(so in shared for so in sonames[pkg["name"]])]
    skip = set(pkg["name"] for pkg, _ in reused)
    fetch = [pkg for pkg in T["packages"] if pkg["name"] not in skip]
    return fetch, [(pkg, [(so, shared[so]) for so in sos]) for pkg, sos in reused], absent


def _gpu_env_mb(n):
    return "%.1f MB" % (n / 1e6)


def _gpu_env_say_plan(fetch, reused, absent):
    """What the install downloads and what it takes from the runtime, with sizes."""
    for pkg, served in reused:
        _gpu_env_say("reusing the runtime's %s instead of downloading %s %s (%s)" % (
            ", ".join("%s from %s %s" % (so, rt["package"], rt["version"]) for so, rt in served),
            pkg["name"], pkg["version"], _gpu_env_mb(pkg["size"])))
    for p, have in absent:
        rt = p["runtime"]
        _gpu_env_say("the runtime's %s %s is %s: %s comes from the locked %s"
                     % (rt["package"], rt["version"], "at " + have if have else "not installed",
                        p["soname"], p["package"]))
    for pkg in fetch:
        _gpu_env_say("download %s %s (%s)" % (pkg["name"], pkg["version"],
                                              _gpu_env_mb(pkg["size"])))


def _gpu_env_preload(T, redist_dir, say=_gpu_env_say):
    """Load the CUDA libraries by absolute path, in dependency order."""
    import ctypes, importlib.metadata, os
    runtime_files, shared_rt, absent = _gpu_env_reuse(T)
    files = {}
    if any(p["install"] == "redist" for p in T["packages"]):
        _gpu_env_index(importlib.metadata.distributions(path=[redist_dir]), files)
    wanted = set(p["package"] for p in T["preload"])
    _gpu_env_index((d for d in importlib.metadata.distributions()
                    if _gpu_env_norm(d) in wanted), files)
    for p, have in absent:
        rt = p["runtime"]
        say("note: %s %s is not installed here (%s); %s comes from %s"
            % (rt["package"], rt["version"], "found " + have if have else "absent",
               p["soname"], p["package"]))
    todo, shared = [], []
    for p in T["preload"]:
        have = files.get(p["package"], {})
        rt = shared_rt.get(p["soname"])
        if rt:
            # The runtime's own copy: torch, cupy and jax imported later bind
            # the library they were built for.
            have = runtime_files[rt["package"]]
            shared.append("%s (%s %s)" % (p["soname"], rt["package"], rt["version"]))
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
