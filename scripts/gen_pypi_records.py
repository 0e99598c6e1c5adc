#!/usr/bin/env python3
"""Write compat-db/pypi/<name>.toml for the pure-Python packages `import mxnet`
needs (compat-db/breakers.toml `breaks_with = "absent"`) and their own
dependencies, from PyPI's JSON API. Standard library only.

    python3 scripts/gen_pypi_records.py [--out compat-db/pypi] [NAME ...]

Per package it keeps final releases (post releases count; no pre/dev/local
versions, nothing yanked) that ship a `py3-none-any` or `py2.py3-none-any`
wheel, and of those:
  * the newest patch of each of the newest MINORS minor series, and
  * for every CPython in PYTHONS, the newest release whose Requires-Python
    admits it,
so that the solver finds a release for every CPython 3.8 .. 3.13.
requires_python is the wheel's own value on PyPI; requires_dist is
`info.requires_dist` of https://pypi.org/pypi/<name>/<version>/json or, where
that endpoint does not answer, the Requires-Dist lines of the wheel's own
.dist-info/METADATA (the wheel downloaded and checked against PyPI's sha256
and size), without the entries that carry an `extra ==` marker. sha256, size and url are PyPI's. The `source` of
each file lists the project JSON and every per-release URL that was read.
"""

import argparse
import email.parser
import hashlib
import io
import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
import zipfile

PACKAGES = ["requests", "urllib3", "idna", "charset-normalizer", "certifi", "setuptools"]
PYTHONS = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]
MINORS = 3
API = "https://pypi.org/pypi"
FINAL = re.compile(r"^(\d+(?:\.\d+)*)(?:\.post(\d+))?$")


def get_bytes(url, missing_ok=False):
    """The body, or None for a 404 when `missing_ok`."""
    for attempt in range(4):
        try:
            req = urllib.request.Request(url, headers={"User-Agent": "gpu-env gen_pypi_records.py"})
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            if e.code == 404 and missing_ok:
                return None
            if attempt == 3 or e.code == 404:
                raise SystemExit(f"{url}: {e}")
        except Exception as e:  # network hiccup: retry with backoff
            if attempt == 3:
                raise SystemExit(f"{url}: {e}")
        time.sleep(2 ** attempt)


def get_json(url, missing_ok=False):
    body = get_bytes(url, missing_ok)
    return None if body is None else json.loads(body)


def release_requires_dist(name, version, wheel_file):
    """(requires_dist, the URL it was read from)."""
    version_url = f"{API}/{name}/{version}/json"
    info = get_json(version_url, missing_ok=True)
    if info is not None:
        return list(info["info"].get("requires_dist") or []), version_url
    # The per-release endpoint does not answer (some mirrors of the API lack
    # it): read the wheel's own METADATA, from the wheel checked against PyPI.
    url = wheel_file["url"]
    body = get_bytes(url)
    got = hashlib.sha256(body).hexdigest()
    if got != wheel_file["digests"]["sha256"] or len(body) != wheel_file["size"]:
        raise SystemExit(f"{url}: sha256 {got} / {len(body)} bytes are not PyPI's")
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        metas = [n for n in z.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        if len(metas) != 1:
            raise SystemExit(f"{url}: {len(metas)} .dist-info/METADATA files")
        msg = email.parser.BytesParser().parsebytes(z.read(metas[0]), headersonly=True)
    if msg.get("Version") != version:
        raise SystemExit(f"{url}: METADATA Version {msg.get('Version')!r}, expected {version}")
    return [r.strip() for r in (msg.get_all("Requires-Dist") or [])], url


def version_key(v):
    m = FINAL.match(v)
    if not m:
        return None
    rel = tuple(int(x) for x in m.group(1).split("."))
    while len(rel) > 1 and rel[-1] == 0:
        rel = rel[:-1]
    return (rel, int(m.group(2)) if m.group(2) is not None else -1)


def minor_series(v):
    parts = FINAL.match(v).group(1).split(".")
    return tuple(int(x) for x in (parts + ["0"])[:2])


def _vtuple(s):
    return tuple(int(x) for x in s.split("."))


def python_admits(spec, python):
    """Requires-Python (comma-joined clauses) against X.Y, as a full
    version X.Y.0 for ordered comparisons and X.Y for `==X.Y.*`. The
    clauses PyPI packages here use: >=, >, <=, <, ==, !=, with `.*`."""
    if not spec:
        return True
    py = _vtuple(python) + (0,)
    for clause in spec.split(","):
        clause = clause.strip()
        if not clause:
            continue
        m = re.match(r"^(~=|===|==|!=|>=|<=|>|<)\s*([0-9][0-9.]*)(\.\*)?$", clause)
        if not m:
            raise SystemExit(f"cannot read Requires-Python clause {clause!r} in {spec!r}")
        op, ver, star = m.group(1), _vtuple(m.group(2).rstrip(".")), m.group(3)
        if star:
            head = py[: len(ver)]
            ok = (head == ver) if op == "==" else (head != ver) if op == "!=" else None
            if ok is None:
                raise SystemExit(f"cannot read Requires-Python clause {clause!r}")
        else:
            n = max(len(ver), len(py))
            a = py + (0,) * (n - len(py))
            b = ver + (0,) * (n - len(ver))
            ok = {
                ">=": a >= b, ">": a > b, "<=": a <= b, "<": a < b,
                "==": a == b, "===": a == b, "!=": a != b,
                "~=": a >= b and a[: len(ver) - 1] == b[: len(ver) - 1],
            }[op]
        if not ok:
            return False
    return True


def canonical_url(f):
    """PyPI's file URL, https://files.pythonhosted.org/packages/<b2>/<b2>/<b2 rest>/<filename>
    (the path is the file's blake2b_256). Some mirrors of the JSON API answer with a
    relative `../../packages/packages/...` URL for the same path: it is mapped back,
    and either way the path must be the one the blake2b_256 digest names."""
    b2 = f["digests"]["blake2b_256"]
    want = f"https://files.pythonhosted.org/packages/{b2[:2]}/{b2[2:4]}/{b2[4:]}/{f['filename']}"
    url = f["url"]
    if url.startswith("../../packages/packages/"):
        url = "https://files.pythonhosted.org/packages/" + url[len("../../packages/packages/"):]
    if url != want:
        raise SystemExit(f"{f['filename']}: url {f['url']!r} is not PyPI's {want!r}")
    return url


def universal_wheel(files):
    """The release's one pure-Python wheel, or None."""
    wheels = []
    for f in files:
        name = f["filename"]
        if f.get("yanked") or f.get("packagetype") != "bdist_wheel" or not name.endswith(".whl"):
            continue
        parts = name[:-4].split("-")
        py, abi, plat = parts[-3], parts[-2], parts[-1]
        if "py3" in py.split(".") and abi == "none" and plat == "any":
            wheels.append((py, abi, plat, dict(f, url=canonical_url(f))))
    wheels.sort(key=lambda w: w[3]["filename"])
    return wheels[0] if wheels else None


def keep_requirement(req):
    marker = req.split(";", 1)[1] if ";" in req else ""
    return not re.search(r"\bextra\s*==", marker)


def q(s):
    return json.dumps(s)


def render(name, project_url, chosen):
    lines = [
        f"# Generated by scripts/gen_pypi_records.py from {project_url}",
        "# and, per release, the URL in `source` that requires_dist was read from (without `extra ==`",
        "# entries): its /<version>/json, or the wheel itself (sha256 checked; .dist-info/METADATA).",
        "# Do not edit by hand.",
        f"# Final releases with a pure-Python wheel: the newest patch of the newest {MINORS} minor series,",
        f"# plus the newest release for each CPython {PYTHONS[0]} .. {PYTHONS[-1]}. sha256/size/url are PyPI's own.",
        f"package = {q(name)}",
        "source = [",
        f"  {q(project_url)},",
    ]
    lines += [f"  {q(c['version_url'])}," for c in chosen]
    lines += ["]", ""]
    for c in chosen:
        py, abi, plat, f = c["wheel"]
        lines.append("[[release]]")
        lines.append(f"version = {q(c['version'])}")
        if c["requires_python"]:
            lines.append(f"requires_python = {q(c['requires_python'])}")
        if c["requires_dist"]:
            lines.append("requires_dist = [" + ", ".join(q(r) for r in c["requires_dist"]) + "]")
        lines += [
            "",
            "[[release.file]]",
            f"filename = {q(f['filename'])}",
            f"url = {q(f['url'])}",
            f"sha256 = {q(f['digests']['sha256'])}",
            f"size = {f['size']}",
            f"python_tag = {q(py)}",
            f"abi_tag = {q(abi)}",
            f"platform_tag = {q(plat)}",
            "",
        ]
    return "\n".join(lines)


def generate(name):
    project_url = f"{API}/{name}/json"
    project = get_json(project_url)
    name = project["info"]["name"].lower().replace("_", "-").replace(".", "-")
    candidates = []
    for v, files in project["releases"].items():
        key = version_key(v)
        if key is None or not files or all(f.get("yanked") for f in files):
            continue
        wheel = universal_wheel(files)
        if wheel is None:
            continue
        candidates.append((key, v, wheel))
    candidates.sort(reverse=True)
    if not candidates:
        raise SystemExit(f"{name}: no final release with a pure-Python wheel")
    keep = {}
    series = []
    for key, v, wheel in candidates:
        s = minor_series(v)
        if s not in series:
            series.append(s)
            if len(series) <= MINORS:
                keep[v] = (key, wheel)
    for python in PYTHONS:
        for key, v, wheel in candidates:
            if python_admits(wheel[3].get("requires_python"), python):
                keep.setdefault(v, (key, wheel))
                break
        else:
            print(f"warning: {name}: no release admits Python {python}", file=sys.stderr)
    chosen = []
    for v, (key, wheel) in sorted(keep.items(), key=lambda kv: kv[1][0], reverse=True):
        requires_dist, version_url = release_requires_dist(name, v, wheel[3])
        requires_dist = [r for r in requires_dist if keep_requirement(r)]
        requires_python = wheel[3].get("requires_python") or None
        chosen.append({
            "version": v,
            "version_url": version_url,
            "wheel": wheel,
            "requires_python": requires_python,
            "requires_dist": requires_dist,
        })
    return name, render(name, project_url, chosen)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "compat-db", "pypi"))
    ap.add_argument("names", nargs="*", default=PACKAGES)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for n in args.names:
        name, text = generate(n)
        path = os.path.join(args.out, f"{name}.toml")
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        print(f"wrote {os.path.relpath(path)}")


if __name__ == "__main__":
    main()
