#!/usr/bin/env python3
"""Measure which companion releases (d2l's MXNet edition, GluonCV) import
and run with which MXNet / numpy / Python and neighbour versions, in real venvs.

    python3 scripts/companions/measure.py [--out runs.json] [--only NAME ...]

Each case builds a fresh venv with the interpreter it names (pyenv's
~/.pyenv/versions/X.Y.Z/bin/python3 on this machine), then
  1. the stack, `pip install --no-deps` (mxnet, numpy and what `import
     mxnet` needs: requests and its dependencies, setuptools), exactly as a
     gpu-env lock pins it;
  2. the companion, `pip install --no-deps` (its own pins are what is being
     judged);
  3. the neighbours its module imports, `pip install` with pip's resolver,
     numpy and the stack held by a constraints file (and, for a Colab case,
     every package held at the runtime's pip-freeze version; packages the
     runtime does not have are then uninstalled again, so the venv holds
     what the runtime holds, but for the neighbours named: a lock pins
     those);
  4. for a case with `also` (packages the runtime has that are no
     neighbour but change what the companion does: torch on Colab), those,
     with pip's resolver, the venv's packages held;
  5. the companion's own check, check_<name>.py beside this script
     (check_d2l.py: the book's concise linear regression, MPLBACKEND=Agg;
     check_gluoncv.py: a ResNet forward pass), with the numpy shims
     compat-db/breakers.toml gives for that mxnet and numpy.
The result per case: `pip freeze` of the venv split into the stack and the
companion's set (before step 4), the check's JSON line or its last error
line, and the time. Runs go into --out beside the runs of other cases
already there (a case measured again replaces its run); a `diagnostic`
case is kept there but record.py leaves it out of compat-db.
`record.py` turns runs.json into compat-db/companions/*.toml.
Standard library only (the shim selection uses pip's vendored packaging).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib

from pip._vendor.packaging.specifiers import SpecifierSet
from pip._vendor.packaging.version import Version

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PYENV = os.path.expanduser("~/.pyenv/versions")
COLAB_FREEZE = "https://github.com/googlecolab/backend-info/blob/a72407924822ea377410b69f0a290150bcb5c9c2/pip-freeze.gpu.txt"

# The stack each gpu-env target locks today (`cargo xtask resolve --target
# local --no-gpu --python-version X --dry-run`; colab-2026.08's own
# versions for the Colab case).
LOCAL_NEEDS = ["requests==2.34.2", "urllib3==2.8.0", "idna==3.20",
               "charset-normalizer==3.5.3", "certifi==2026.10.19.post1"]
D2L_IMPORTS = ["pandas", "requests", "ipython", "matplotlib", "matplotlib-inline"]
COLAB_STACK = ["mxnet==1.9.1", "numpy==2.1.3", "requests==2.32.4", "urllib3==2.5.0", "idna==3.18",
               "charset-normalizer==3.4.9", "certifi==2026.7.22", "setuptools==75.2.0"]
# What `import gluoncv` imports at module level, following its own modules
# (record.py's imports_of; mxnet, numpy and requests are the stack's). Its
# other Requires-Dist (matplotlib, opencv-python, pandas, pyyaml, yacs,
# autocfg) are imported inside the functions that use them.
GLUONCV_IMPORTS = ["pillow", "portalocker", "requests", "scipy", "tqdm"]
# Colab's torch 2.11.0+cu128 (the PyTorch index): PyPI's torch 2.11.0 (CUDA 13
# build, its nvidia-*-cu13 dependencies) stands in; GluonCV reads only
# torch.__version__.
COLAB_TORCH = ["torch==2.11.0"]
CASES = [
    # name, python, stack, companion, neighbours, runtime freeze (or None)
    # [, options: {"also": [...], "diagnostic": True}]
    ("colab-2026.08 d2l 1.0.3", "3.13.0",
     ["mxnet==1.9.1", "numpy==2.1.3", "requests==2.32.4", "urllib3==2.5.0", "idna==3.18",
      "charset-normalizer==3.4.9", "certifi==2026.7.22", "setuptools==75.2.0"],
     "d2l==1.0.3", D2L_IMPORTS, "colab-2026.08"),
    ("colab-2026.08 d2l 0.17.6", "3.13.0",
     ["mxnet==1.9.1", "numpy==2.1.3", "requests==2.32.4", "urllib3==2.5.0", "idna==3.18",
      "charset-normalizer==3.4.9", "certifi==2026.7.22", "setuptools==75.2.0"],
     "d2l==0.17.6", D2L_IMPORTS, "colab-2026.08"),
    ("local 3.13 d2l 1.0.3", "3.13.0",
     ["mxnet==1.9.1", "numpy==2.5.5", "setuptools==84.2.1"] + LOCAL_NEEDS,
     "d2l==1.0.3", D2L_IMPORTS, None),
    ("local 3.12 d2l 1.0.3", "3.12.1",
     ["mxnet==1.9.1", "numpy==1.26.4", "setuptools==84.2.1"] + LOCAL_NEEDS,
     "d2l==1.0.3", D2L_IMPORTS, None),
    ("local 3.11 d2l 1.0.3", "3.11.7",
     ["mxnet==1.9.1", "numpy==1.23.5"] + LOCAL_NEEDS,
     "d2l==1.0.3", D2L_IMPORTS, None),
    ("local 3.11 d2l 0.17.6", "3.11.7",
     ["mxnet==1.9.1", "numpy==1.23.5"] + LOCAL_NEEDS,
     "d2l==0.17.6", D2L_IMPORTS, None),
    # d2l 1.0.3's own pins where they install (CPython 3.11), with today's IPython.
    ("d2l 1.0.3 own pins, 3.11", "3.11.7",
     ["mxnet==1.9.1", "numpy==1.23.5", "requests==2.31.0", "urllib3==2.8.0", "idna==3.20",
      "charset-normalizer==3.5.3", "certifi==2026.10.19.post1"],
     "d2l==1.0.3", ["pandas==2.0.3", "matplotlib==3.7.2", "matplotlib-inline==0.1.6", "ipython"], None),
    # The same pins with the newest IPython 8 (9.0 dropped backend2gui).
    ("d2l 1.0.3 own pins + ipython 8, 3.11", "3.11.7",
     ["mxnet==1.9.1", "numpy==1.23.5", "requests==2.31.0", "urllib3==2.8.0", "idna==3.20",
      "charset-normalizer==3.5.3", "certifi==2026.10.19.post1"],
     "d2l==1.0.3", ["pandas==2.0.3", "matplotlib==3.7.2", "matplotlib-inline==0.1.6", "ipython<9"], None),
    # GluonCV 0.10.5.post0 (the last 0.10.x; py2.py3 wheel). On Colab with the
    # runtime's torch, which gluoncv/check.py refuses (torch >= 2.0.0).
    ("colab-2026.08 gluoncv 0.10.5.post0", "3.13.0", COLAB_STACK,
     "gluoncv==0.10.5.post0", GLUONCV_IMPORTS, "colab-2026.08", {"also": COLAB_TORCH}),
    # The same venv without torch: whether torch is the only thing in the way.
    ("colab-2026.08 gluoncv 0.10.5.post0, no torch (diagnostic)", "3.13.0", COLAB_STACK,
     "gluoncv==0.10.5.post0", GLUONCV_IMPORTS, "colab-2026.08", {"diagnostic": True}),
    ("local 3.13 gluoncv 0.10.5.post0", "3.13.0",
     ["mxnet==1.9.1", "numpy==2.5.5", "setuptools==84.2.1"] + LOCAL_NEEDS,
     "gluoncv==0.10.5.post0", GLUONCV_IMPORTS, None),
    ("local 3.12 gluoncv 0.10.5.post0", "3.12.1",
     ["mxnet==1.9.1", "numpy==1.26.4", "setuptools==84.2.1"] + LOCAL_NEEDS,
     "gluoncv==0.10.5.post0", GLUONCV_IMPORTS, None),
    ("local 3.11 gluoncv 0.10.5.post0", "3.11.7",
     ["mxnet==1.9.1", "numpy==1.23.5"] + LOCAL_NEEDS,
     "gluoncv==0.10.5.post0", GLUONCV_IMPORTS, None),
    # GluonNLP 0.10.0, the last 0.x (MXNet 1.x) release: PyPI has an sdist only.
    ("local 3.11 gluonnlp 0.10.0", "3.11.7",
     ["mxnet==1.9.1", "numpy==1.23.5"] + LOCAL_NEEDS,
     "gluonnlp==0.10.0", [], None),
]


def name_of(req):
    return re.split(r"[<>=!~ ;\[]", req, 1)[0].strip().lower().replace("_", "-").replace(".", "-")


def shims_for(mxnet, numpy, python):
    with open(os.path.join(REPO, "compat-db", "breakers.toml"), "rb") as f:
        db = tomllib.load(f)
    out = []
    for b in db["breaker"]:
        if b["package"] != "mxnet" or b["dependency"] != "numpy":
            continue
        if Version(mxnet) not in SpecifierSet(b["versions"], prereleases=True):
            continue
        if Version(numpy) not in SpecifierSet(b["breaks_with"]):
            continue
        if "python" in b and Version(python) not in SpecifierSet(b["python"]):
            continue
        out += b.get("shim", [])
    return out


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def freeze(py):
    out = run([py, "-m", "pip", "freeze", "--all", "--disable-pip-version-check"]).stdout
    got = {}
    for line in out.splitlines():
        if "==" in line:
            n, v = line.split("==", 1)
            got[name_of(n)] = v.strip()
    got.pop("pip", None)
    return got


def runtime_freeze(path):
    pins = {}
    for line in open(path):
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s]+)$", line.strip())
        if m:
            pins[name_of(m.group(1))] = m.group(2)
    return pins


def measure(case, freezes, workdir):
    name, python, stack, companion, neighbours, runtime = case[:6]
    options = case[6] if len(case) > 6 else {}
    interp = os.path.join(PYENV, python, "bin", "python3")
    venv = os.path.join(workdir, re.sub(r"[^a-z0-9]+", "-", name.lower()))
    t0 = time.time()
    run([interp, "-m", "venv", venv], check=True)
    py = os.path.join(venv, "bin", "python")
    pip = [py, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--only-binary=:all:"]
    result = {"case": name, "python": python, "companion": companion, "runtime": runtime,
              "measured": time.strftime("%Y-%m-%d")}
    if options.get("diagnostic"):
        result["diagnostic"] = True
    r = run(pip + ["--no-deps"] + stack + [companion])
    if r.returncode != 0:
        result.update(ok=False, error="install: " + last_line(r.stderr))
        return result
    stack_names = {name_of(s) for s in stack}
    held = {n: v for n, v in freeze(py).items()}
    cons = os.path.join(venv, "constraints.txt")
    pins = dict(freezes.get(runtime, {})) if runtime else {}
    pins.update({n: held[n] for n in stack_names})
    with open(cons, "w") as f:
        f.writelines(f"{n}=={v}\n" for n, v in sorted(pins.items()))
    r = run(pip + ["-c", cons] + neighbours) if neighbours else None
    if r and r.returncode != 0:
        result.update(ok=False, error="install: " + last_line(r.stderr))
        return result
    if runtime:
        # What the runtime lacks goes, but the neighbours the companion
        # imports (the lock pins those: GluonCV's portalocker on Colab).
        named = {name_of(n) for n in neighbours}
        lacks = sorted(n for n in freeze(py) if n not in freezes[runtime]
                       and n != name_of(companion) and n not in stack_names)
        extra = [n for n in lacks if n not in named]
        if extra:
            run([py, "-m", "pip", "uninstall", "-y", "-q"] + extra, check=True)
        result["absent_on_runtime"] = extra
        if len(extra) < len(lacks):
            result["kept_absent_on_runtime"] = [n for n in lacks if n in named]
    have = freeze(py)
    result["stack"] = {n: have[n] for n in sorted(stack_names) if n in have}
    result["packages"] = {n: v for n, v in sorted(have.items()) if n not in stack_names}
    if options.get("also"):
        with open(cons, "w") as f:
            f.writelines(f"{n}=={v}\n" for n, v in sorted(have.items()))
        r = run(pip + ["-c", cons] + options["also"])
        if r.returncode != 0:
            result.update(ok=False, error="install: " + last_line(r.stderr))
            return result
        result["also_asked"] = options["also"]
        result["also"] = {n: v for n, v in sorted(freeze(py).items()) if n not in have}
    shims = shims_for(have["mxnet"], have["numpy"], python)
    result["shims"] = shims
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONNOUSERSITE="1")
    check = os.path.join(HERE, f"check_{name_of(companion).replace('-', '_')}.py")
    with tempfile.TemporaryDirectory() as cwd:
        r = run([py, check, "--shims", "; ".join(shims)], env=env, cwd=cwd)
    line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
    if r.returncode == 0 and line.startswith("{"):
        result.update(ok=True, check=json.loads(line))
    else:
        result.update(ok=False, error=last_line(r.stderr) or line)
    result["seconds"] = round(time.time() - t0, 1)
    return result


def last_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1].strip() if lines else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="runs.json")
    ap.add_argument("--colab-freeze", required=True,
                    help=f"colab-2026.08's pip-freeze.gpu.txt ({COLAB_FREEZE})")
    ap.add_argument("--only", nargs="*")
    args = ap.parse_args()
    freezes = {"colab-2026.08": runtime_freeze(args.colab_freeze)}
    doc = {"measured": time.strftime("%Y-%m-%d"), "colab_freeze": COLAB_FREEZE, "runs": []}
    if os.path.exists(args.out):
        with open(args.out) as f:
            doc = json.load(f)
    results = doc["runs"]
    with tempfile.TemporaryDirectory() as work:
        for case in CASES:
            if args.only and case[0] not in args.only:
                continue
            res = measure(case, freezes, work)
            print(json.dumps(res), flush=True)
            at = [i for i, r in enumerate(results) if r["case"] == res["case"]]
            if at:
                results[at[0]] = res
            else:
                results.append(res)
            with open(args.out, "w") as f:
                json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
