#!/usr/bin/env python3
"""Write compat-db/companions/<name>.toml and compat-db/companions/pypi/*.toml
from the runs measure.py wrote, with every file fact from PyPI.

    python3 scripts/companions/record.py runs.json [--db compat-db]

companions/<name>.toml (d2l, gluoncv): for each measured release, PyPI's
wheel (url, sha256, size), Requires-Python, Requires-Dist (read from the
wheel's own .dist-info/METADATA, the wheel checked against PyPI's sha256 and
size), the non-stdlib imports that importing its module runs at module
level (COMPANIONS' module: d2l/mxnet.py, gluoncv/__init__.py, and the
package's own modules those import, read with `ast` from the same wheel;
module names as PEP 503 distribution names: IPython -> ipython,
matplotlib_inline -> matplotlib-inline, PIL -> pillow), and every run
(passing ones first, runtime sets first; `diagnostic` runs left out).

companions/pypi/<name>.toml: every package version of a passing run that
no runtime profile holds (what a lock pins for a local target, and what a
runtime run kept that its runtime lacks), plus the exact pins of each
recorded companion release (the evidence for overrides: which Pythons they
have wheels for). Per release: the pure-Python wheel, or the
default-ABI manylinux x86_64 wheels for CPython 3.11 .. 3.13 (or an abi3 one
for CPython 3.x <= 3.13); its
Requires-Dist from the wheel's METADATA (gen_pypi_records.py's reader).
Standard library only.
"""

import argparse
import ast
import hashlib
import io
import json
import os
import re
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import gen_pypi_records as g  # noqa: E402

PYTHONS = ["cp311", "cp312", "cp313"]
# Per companion: the module whose import is judged, and what its check
# (scripts/companions/check_<name>.py) does and found.
COMPANIONS = {
    "d2l": {
        "module": "d2l.mxnet",
        "check": "the book's concise linear regression, 3 epochs, MPLBACKEND=Agg",
        "result": lambda c: f"w error {c['w_error']}, b error {c['b_error']}",
    },
    "gluoncv": {
        "module": "gluoncv",
        "check": "presets.imagenet.transform_eval of a random image, model_zoo resnet18_v1b "
                 "(pretrained=False) initialized and run forward, utils.bbox.bbox_iou",
        "result": lambda c: (f"input {tuple(c['input_shape'])}, output {tuple(c['output_shape'])}, "
                             f"IoU {c['iou']}"),
    },
}
# Import names that are not their distribution's name.
DISTRIBUTION = {"pil": "pillow", "cv2": "opencv-python", "yaml": "pyyaml", "sklearn": "scikit-learn"}


def norm(n):
    return re.sub(r"[-_.]+", "-", n).lower()


def files_for(name, version, project):
    """(python_tag, abi_tag, platform_tag, file) of the release that matter."""
    out = []
    for f in project["releases"].get(version, []):
        fn = f["filename"]
        if f.get("yanked") or not fn.endswith(".whl"):
            continue
        py, abi, plat = fn[:-4].split("-")[-3:]
        universal = "py3" in py.split(".") and abi == "none" and plat == "any"
        stable = abi == "abi3" and re.fullmatch(r"cp3\d+", py) and int(py[3:]) <= 13
        binary = ((py in PYTHONS and abi == py) or stable) and "x86_64" in plat \
            and "manylinux" in plat
        if universal or binary:
            out.append((py, abi, plat, dict(f, url=g.canonical_url(f))))
    universal = [w for w in out if w[2] == "any"]
    return sorted(universal[:1] or out, key=lambda w: w[3]["filename"])


def wheel_bytes(f):
    body = g.get_bytes(f["url"])
    if hashlib.sha256(body).hexdigest() != f["digests"]["sha256"] or len(body) != f["size"]:
        raise SystemExit(f"{f['url']}: not PyPI's sha256/size")
    return body


def metadata(body):
    import email.parser
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        meta = [n for n in z.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        msg = email.parser.BytesParser().parsebytes(z.read(meta[0]), headersonly=True)
    reqs = [r.strip() for r in msg.get_all("Requires-Dist") or [] if g.keep_requirement(r)]
    return msg.get("Requires-Python"), reqs


def imports_of(body, module):
    """The non-stdlib top-level names `import module` imports at module level,
    in order: the statements at the top of module's file (and of the packages
    above it), in a top-level `try` too, following the package's own modules
    they import; an import another package is optional for (in a `try` that
    catches ImportError) is left out. Imports inside functions are not
    followed (GluonCV's cv2, matplotlib)."""
    top = module.split(".")[0]
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        files = set(z.namelist())

        def source(mod):
            p = mod.replace(".", "/")
            for f in (p + "/__init__.py", p + ".py"):
                if f in files:
                    return f, z.read(f)
            return None, None

        names, seen = [], set()

        def visit(mod):
            if mod in seen:
                return
            seen.add(mod)
            if "." in mod:
                visit(mod.rsplit(".", 1)[0])
            path, text = source(mod)
            if path is None:
                return
            package = mod if path.endswith("__init__.py") else mod.rsplit(".", 1)[0]
            statements(ast.parse(text).body, package, False)

        def statements(nodes, package, optional):
            for node in nodes:
                if isinstance(node, ast.Import):
                    for a in node.names:
                        found(a.name, optional)
                elif isinstance(node, ast.ImportFrom):
                    if node.level:
                        base = package.split(".")
                        base = ".".join(base[:len(base) - node.level + 1])
                        mod = base + "." + node.module if node.module else base
                    else:
                        mod = node.module
                    found(mod, optional)
                    if mod.split(".")[0] == top:  # `from . import data`: a module
                        for a in node.names:
                            if source(mod + "." + a.name)[0]:
                                visit(mod + "." + a.name)
                elif isinstance(node, ast.Try):
                    catches = any(h.type is None or any(
                        isinstance(t, ast.Name) and t.id in ("ImportError", "ModuleNotFoundError", "Exception")
                        for t in (h.type.elts if isinstance(h.type, ast.Tuple) else [h.type]))
                        for h in node.handlers)
                    statements(node.body, package, optional or catches)
                    statements(node.orelse + node.finalbody, package, optional)

        def found(name, optional):
            first = name.split(".")[0]
            if first == top:
                visit(name)
            elif not optional and first not in sys.stdlib_module_names and first != "__future__":
                names.append(first)

        visit(module)
    out = []
    for n in names:
        d = DISTRIBUTION.get(norm(n), norm(n))
        if d not in out:
            out.append(d)
    return out


def file_lines(py, abi, plat, f):
    return [
        "", "[[release.file]]",
        f"filename = {g.q(f['filename'])}", f"url = {g.q(f['url'])}",
        f"sha256 = {g.q(f['digests']['sha256'])}", f"size = {f['size']}",
        f"python_tag = {g.q(py)}", f"abi_tag = {g.q(abi)}", f"platform_tag = {g.q(plat)}",
    ]


def toml_table(d):
    return "{ " + ", ".join(f"{g.q(k)} = {g.q(v)}" for k, v in sorted(d.items())) + " }"


def runtime_has(runtime, asked):
    """`, standing in for colab-2026.08's torch 2.11.0+cu128` (its profile's preinstalled)."""
    import tomllib
    path = os.path.join(HERE, "..", "..", "compat-db", "runtimes", f"{runtime}.toml")
    with open(path, "rb") as f:
        pre = tomllib.load(f).get("preinstalled", {})
    got = [f"{n} {pre[n]}" for n in (norm(re.split(r"[<>=!~ ;\[]", a, 1)[0]) for a in asked) if n in pre]
    return f", standing in for {runtime}'s {', '.join(got)}" if got else ""


def run_lines(r, measured_on):
    stack = {k: v for k, v in r["stack"].items() if k not in ("mxnet", "numpy")}
    check = r.get("check")
    name = norm(r["companion"].split("==")[0])
    how = (f"scripts/companions/measure.py case `{r['case']}`, CPython {r['python']} (pyenv) venv, "
           f"{r.get('measured', measured_on)}: mxnet/numpy/requests/setuptools --no-deps as gpu-env locks them, "
           f"{r['companion']} --no-deps, its imports by pip; then scripts/companions/check_{name.replace('-', '_')}.py "
           f"({COMPANIONS[name]['check']})")
    if r.get("runtime"):
        how += f"; packages held at {r['runtime']}'s pip-freeze, those it lacks uninstalled ({', '.join(r.get('absent_on_runtime') or []) or 'none'})"
        if r.get("kept_absent_on_runtime"):
            how += (f"; {', '.join(r['kept_absent_on_runtime'])}, which it lacks, kept "
                    f"({name} imports it: a lock pins it)")
    if r.get("also_asked"):
        has = runtime_has(r["runtime"], r["also_asked"]) if r.get("runtime") else ""
        how += (f"; before the check, {', '.join(r['also_asked'])} by pip ({len(r.get('also') or {})} packages "
                f"with its dependencies, the set held){has}")
    how += (f": {COMPANIONS[name]['result'](check)}, {check['seconds']} s"
            if check else ": failed")
    out = ["", "[[release.run]]", f"python = {g.q(r['python'])}",
           f"mxnet = {g.q(r['stack']['mxnet'])}", f"numpy = {g.q(r['stack']['numpy'])}"]
    if r.get("runtime"):
        out.append(f"runtime = {g.q(r['runtime'])}")
    out += [f"packages = {toml_table(r['packages'])}", f"stack = {toml_table(stack)}",
            f"ok = {'true' if r['ok'] else 'false'}"]
    if not r["ok"]:
        # The venv's temporary path says nothing: `<venv>` instead.
        error = re.sub(r"/tmp/[^ )]*?/lib/python", "<venv>/lib/python", r["error"])
        out.append(f"error = {g.q(error)}")
    out.append(f"measured = {g.q(how)}")
    return out


def write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(path + ".tmp", path)
    print("wrote", os.path.relpath(path))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs")
    ap.add_argument("--db", default=os.path.join(HERE, "..", "..", "compat-db"))
    args = ap.parse_args()
    doc = json.load(open(args.runs))
    runs = [r for r in doc["runs"] if "stack" in r and not r.get("diagnostic")]
    projects = {}

    def project(n):
        if n not in projects:
            projects[n] = g.get_json(f"{g.API}/{n}/json")
        return projects[n]

    wanted = {}  # name -> versions for companions/pypi
    for name in sorted({norm(r["companion"].split("==")[0]) for r in runs}):
        mine = [r for r in runs if norm(r["companion"].split("==")[0]) == name]
        versions = sorted({r["companion"].split("==")[1] for r in mine},
                          key=g.version_key, reverse=True)
        lines = [f"# Generated by scripts/companions/record.py from {g.API}/{name}/json, the wheels",
                 "# themselves (sha256 checked; METADATA and the module's imports read from them) and",
                 "# the runs of scripts/companions/measure.py (each run's `measured` says how). Do not edit by hand.",
                 f"package = {g.q(name)}", f"module = {g.q(COMPANIONS[name]['module'])}", "source = [",
                 f"  {g.q(f'{g.API}/{name}/json')},", f"  {g.q(doc['colab_freeze'])},", "]"]
        for v in versions:
            [(py, abi, plat, f)] = files_for(name, v, project(name))
            body = wheel_bytes(f)
            rp, reqs = metadata(body)
            imports = imports_of(body, COMPANIONS[name]["module"])
            lines += ["", "[[release]]", f"version = {g.q(v)}"]
            if rp:
                lines.append(f"requires_python = {g.q(rp)}")
            lines.append("requires_dist = [" + ", ".join(g.q(r) for r in reqs) + "]")
            lines.append("imports = [" + ", ".join(g.q(i) for i in imports) + "]")
            lines += file_lines(py, abi, plat, f)
            for r in reqs:
                m = re.match(r"^([A-Za-z0-9_.\-]+)\s*\(?==\s*([0-9][^),;\s]*)", r)
                if m and norm(m.group(1)) in imports:
                    wanted.setdefault(norm(m.group(1)), set()).add(m.group(2))
            mine_v = [r for r in mine if r["companion"] == f"{name}=={v}"]
            mine_v.sort(key=lambda r: (not r["ok"], not r.get("runtime")))
            for r in mine_v:
                lines += run_lines(r, doc["measured"])
                if r["ok"]:
                    kept = r.get("kept_absent_on_runtime") or []
                    for p, pv in r["packages"].items():
                        if p != name and (not r.get("runtime") or p in kept):
                            wanted.setdefault(p, set()).add(pv)
        write(os.path.join(args.db, "companions", f"{name}.toml"), lines)
    for p in sorted(wanted):
        lines = [f"# Generated by scripts/companions/record.py from {g.API}/{p}/json and the wheels",
                 "# themselves (requires_dist from .dist-info/METADATA, sha256 checked). Do not edit by hand.",
                 "# The releases measured companion sets install, and the exact pins of recorded",
                 "# companions; files: the pure-Python wheel, else CPython 3.11-3.13 manylinux x86_64.",
                 f"package = {g.q(p)}", "source = [", f"  {g.q(f'{g.API}/{p}/json')},"]
        body_lines = []
        for v in sorted(wanted[p], key=g.version_key, reverse=True):
            files = files_for(p, v, project(p))
            if not files:
                print(f"warning: {p} {v}: no wheel for {PYTHONS}", file=sys.stderr)
                continue
            small = min(files, key=lambda w: w[3]["size"])[3]
            rp, reqs = metadata(wheel_bytes(small))
            lines.append(f"  {g.q(small['url'])},")
            body_lines += ["", "[[release]]", f"version = {g.q(v)}"]
            if rp:
                body_lines.append(f"requires_python = {g.q(rp)}")
            if reqs:
                body_lines.append("requires_dist = [" + ", ".join(g.q(r) for r in reqs) + "]")
            for w in files:
                body_lines += file_lines(*w)
        lines.append("]")
        write(os.path.join(args.db, "companions", "pypi", f"{p}.toml"), lines + body_lines)


if __name__ == "__main__":
    main()
