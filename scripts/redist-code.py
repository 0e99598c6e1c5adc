#!/usr/bin/env python3
"""Size and GPU code of pip CUDA redistributables, read from PyPI's files.

For each PACKAGE==VERSION: the wheel compat-db/redist/PACKAGE.toml records
for that release (else the first manylinux x86_64 one), with its size and
sha256 from PyPI's JSON API; the wheel is downloaded (into --cache), its
sha256 checked, and every shared library in it scanned for CUDA fatbin
containers (core/src/binary/fatbin.rs has the layout): the SASS and PTX
architectures each library carries. Prints one block per wheel.

    python3 scripts/redist-code.py nvidia-cudnn-cu11==8.5.0.96 nvidia-cudnn-cu11==8.9.6.50
"""
import argparse, hashlib, tomllib, json, os, struct, sys, urllib.parse, urllib.request, zipfile

MAGIC = 0xBA55ED50


def recorded(name, version):
    """The filename compat-db records for this release, or None."""
    path = os.path.join(os.path.dirname(__file__), "..", "compat-db", "redist", name + ".toml")
    try:
        with open(path, "rb") as f:
            db = tomllib.load(f)
    except OSError:
        return None
    return next((r["filename"] for r in db.get("release", []) if r["version"] == version), None)


def wheel_info(name, version):
    url = "https://pypi.org/pypi/%s/json" % name
    with urllib.request.urlopen(url, timeout=60) as r:
        data = json.load(r)
        base = r.geturl()
    files = data["releases"].get(version) or []
    # The wheel pip picks on a manylinux x86_64 host: the oldest manylinux tag
    # among the release's x86_64 wheels (they carry the same libraries).
    cands = [f for f in files if f["filename"].endswith(".whl")
             and "x86_64" in f["filename"] and "manylinux" in f["filename"]]
    if not cands:
        sys.exit("%s==%s: no manylinux x86_64 wheel on PyPI" % (name, version))
    want = recorded(name, version)
    cands.sort(key=lambda f: (f["filename"] != want, f["filename"]))
    for f in cands:
        f["url"] = urllib.parse.urljoin(base, f["url"])  # a mirror may answer relative URLs
    return cands


def fetch(f, cache):
    path = os.path.join(cache, f["filename"])
    if not (os.path.exists(path) and os.path.getsize(path) == f["size"]):
        tmp = path + ".part"
        with urllib.request.urlopen(f["url"], timeout=600) as r, open(tmp, "wb") as out:
            while True:
                b = r.read(1 << 20)
                if not b:
                    break
                out.write(b)
        os.replace(tmp, path)
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for b in iter(lambda: fh.read(1 << 20), b""):
            h.update(b)
    if h.hexdigest() != f["digests"]["sha256"]:
        sys.exit("%s: sha256 %s, PyPI says %s" % (path, h.hexdigest(), f["digests"]["sha256"]))
    return path


def fatbin_code(b):
    """(sass set, ptx set) over every well-formed fatbin container in b."""
    sass, ptx = set(), set()
    at = b.find(struct.pack("<I", MAGIC))
    while at >= 0:
        ok = False
        if at + 16 <= len(b):
            ver, hdr = struct.unpack_from("<HH", b, at + 4)
            (payload,) = struct.unpack_from("<Q", b, at + 8)
            start, end = at + hdr, at + hdr + payload
            if ver == 1 and hdr >= 16 and end <= len(b):
                pos, found = start, []
                while pos + 32 <= end:
                    kind, _, ehdr = struct.unpack_from("<HHI", b, pos)
                    (epay,) = struct.unpack_from("<Q", b, pos + 8)
                    (arch,) = struct.unpack_from("<I", b, pos + 28)
                    if ehdr < 32 or pos + ehdr + epay > end:
                        break
                    found.append((kind, arch))
                    pos += ehdr + epay
                for kind, arch in found:
                    (ptx if kind == 1 else sass if kind == 2 else set()).add(arch)
                ok = bool(found)
                if ok:
                    at = b.find(struct.pack("<I", MAGIC), end)
                    continue
        at = b.find(struct.pack("<I", MAGIC), at + 4)
    return sass, ptx


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("specs", nargs="+", help="PACKAGE==VERSION")
    ap.add_argument("--cache", default=os.path.expanduser("~/.cache/gpu-env-redist-code"))
    a = ap.parse_args()
    os.makedirs(a.cache, exist_ok=True)
    for spec in a.specs:
        name, _, version = spec.partition("==")
        f = wheel_info(name, version)[0]
        path = fetch(f, a.cache)
        print("%s==%s %s size %d sha256 %s" % (name, version, f["filename"], f["size"],
                                                f["digests"]["sha256"]))
        with zipfile.ZipFile(path) as z:
            for m in sorted(z.namelist()):
                base = os.path.basename(m)
                if ".so" not in base:
                    continue
                sass, ptx = fatbin_code(z.read(m))
                print("  %-45s SASS %s; PTX %s" % (base, ",".join(map(str, sorted(sass))) or "none",
                                                   ",".join(map(str, sorted(ptx))) or "none"))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
