#!/usr/bin/env python3
"""Whether one release of a pip CUDA redistributable defines every dynamic
symbol its consumers take from the release it would replace.

    python3 scripts/redist-symbols.py --use nvidia-cublas-cu11==11.10.3.66 \
        --instead-of nvidia-cublas-cu11==11.11.3.6 \
        mxnet-cu112==1.9.1 nvidia-cudnn-cu11==8.5.0.96 nvidia-cusolver-cu11==11.4.1.48

Each wheel comes from PyPI, sha256-checked (scripts/redist-code.py). For
each shared library of each consumer wheel: its undefined dynamic symbols
(`readelf --dyn-syms -W`, name and version) that a library of the replaced
release defines are the ones it takes from that package; each must be
defined, with the same version, by a library of the release used instead.
Prints one line per consumer library and exits 1 when any symbol is missing.
"""
import argparse, importlib.util, os, re, subprocess, sys, tempfile, zipfile

_spec = importlib.util.spec_from_file_location(
    "redist_code", os.path.join(os.path.dirname(__file__), "redist-code.py"))
rc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rc)


def libraries(spec, cache, tmp):
    """Paths of the wheel's shared libraries, extracted under tmp."""
    name, _, version = spec.partition("==")
    path = rc.fetch(rc.wheel_info(name, version)[0], cache)
    out = []
    with zipfile.ZipFile(path) as z:
        for m in z.namelist():
            if re.search(r"\.so(\.[0-9]+)*$", m):
                out.append(z.extract(m, os.path.join(tmp, spec)))
    return sorted(out)


def dynsyms(lib):
    """(defined, undefined): sets of `name@version` (version '' when none)."""
    text = subprocess.run(["readelf", "--dyn-syms", "-W", lib], capture_output=True,
                          text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in text.splitlines():
        f = line.split()
        if len(f) < 8 or not f[0].endswith(":") or f[3] not in ("FUNC", "OBJECT", "NOTYPE"):
            continue
        name, _, ver = f[7].partition("@")
        key = "%s@%s" % (name, ver.lstrip("@").split(" ")[0])
        (undefined if f[6] == "UND" else defined).add(key)
    return defined, undefined


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--use", required=True)
    ap.add_argument("--instead-of", required=True)
    ap.add_argument("consumers", nargs="+")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/gpu-env-redist-code"))
    a = ap.parse_args()
    os.makedirs(a.cache, exist_ok=True)
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        def defs(spec):
            out = set()
            for lib in libraries(spec, a.cache, tmp):
                out |= dynsyms(lib)[0]
            return out
        old, new = defs(a.instead_of), defs(a.use)
        for spec in a.consumers:
            for lib in libraries(spec, a.cache, tmp):
                taken = sorted(s for s in dynsyms(lib)[1] if s in old)
                missing = [s for s in taken if s not in new]
                bad += len(missing)
                print("%s %s: %d symbols from %s, %d missing in %s%s" % (
                    spec, os.path.basename(lib), len(taken), a.instead_of, len(missing), a.use,
                    (": " + ", ".join(missing[:20])) if missing else ""))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
