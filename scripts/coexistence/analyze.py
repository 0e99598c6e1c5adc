#!/usr/bin/env python3
"""Static ELF analysis: sonames, needed, verdef/verneed, and cross-copy symbol coverage
for sonames shipped by both the cu11 redist dir and the cu12 wheels in site-packages."""
import os, re, subprocess, sys, glob, json, hashlib
ROOT = os.environ.get("COEXIST_ROOT", "/tmp/coexist")
SP = glob.glob(ROOT + "/venv/lib/python3.*/site-packages")[0]
CU11 = ROOT + "/cu11"

def sh(*a):
    return subprocess.run(a, capture_output=True, text=True).stdout

def is_elf(p):
    try:
        with open(p, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False

def dyn(p):
    out = sh("readelf", "-dW", p)
    d = {"NEEDED": [], "SONAME": None, "RPATH": None, "RUNPATH": None}
    for line in out.splitlines():
        m = re.search(r"\((NEEDED|SONAME|RPATH|RUNPATH)\)\s+.*?\[(.*)\]", line)
        if m:
            if m.group(1) == "NEEDED": d["NEEDED"].append(m.group(2))
            else: d[m.group(1)] = m.group(2)
    return d

def versions(p):
    out = sh("readelf", "-VW", p)
    verdef, verneed, cur = [], {}, None
    sec = None
    for line in out.splitlines():
        if "Version definition section" in line: sec = "d"
        elif "Version needs section" in line: sec = "r"
        elif "Version symbols section" in line: sec = None
        if sec == "d":
            m = re.search(r"Flags: (\S+).*Name: (\S+)", line)
            if m and m.group(1) != "BASE": verdef.append(m.group(2))
        elif sec == "r":
            m = re.search(r"File: (\S+)", line)
            if m: cur = m.group(1); verneed[cur] = []
            m = re.search(r"Name: (\S+)\s+Flags", line)
            if m and cur: verneed[cur].append(m.group(1))
    return verdef, verneed

def syms(p):
    """defined: {(name, ver)} ; undefined: {name: (ver or None, bind)}"""
    out = sh("readelf", "--dyn-syms", "-W", p)
    defined, undef = set(), {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 8 or not f[0].rstrip(":").isdigit(): continue
        typ, bind, ndx, name = f[3], f[4], f[6], f[7]
        if not name: continue
        ver = None
        if "@@" in name: name, ver = name.split("@@", 1)
        elif "@" in name: name, ver = name.split("@", 1)
        if ndx == "UND":
            undef[name] = (ver, bind)
        elif ndx != "ABS" or typ != "OBJECT":
            if bind in ("GLOBAL", "WEAK", "UNIQUE"):
                defined.add((name, ver))
                defined.add((name, None))  # an unversioned reference binds to the default def
    return defined, undef

def collect(base):
    res = {}
    for dp, dn, fn in os.walk(base):
        for n in fn:
            p = os.path.join(dp, n)
            if ".so" in n and not os.path.islink(p) and is_elf(p):
                res[p] = dyn(p)
    return res

cu11 = collect(CU11)
cu12 = collect(os.path.join(SP, "nvidia"))
torchlib = collect(os.path.join(SP, "torch", "lib"))
mx = collect(os.path.join(SP, "mxnet"))
by11 = {d["SONAME"] or os.path.basename(p): p for p, d in cu11.items()}
by12 = {d["SONAME"] or os.path.basename(p): p for p, d in cu12.items()}
overlap = sorted(set(by11) & set(by12))

def wheel_of(p):
    for base in (CU11, SP):
        for di in glob.glob(base + "/nvidia_*.dist-info"):
            rec = open(di + "/RECORD").read()
            rel = os.path.relpath(p, base)
            if rel in rec:
                m = re.match(r"(.*)-(.*)\.dist-info", os.path.basename(di))
                return "%s %s" % (m.group(1).replace("_", "-"), m.group(2))
    return "?"

print("# Inventory (DT_SONAME, DT_NEEDED of CUDA libs, RUNPATH/RPATH, verdef)\n")
for title, group in (("cu11 redist dir (%s)" % CU11, cu11), ("cu12 wheels (site-packages/nvidia)", cu12),
                     ("torch/lib", torchlib), ("mxnet", mx)):
    print("## " + title)
    for p in sorted(group):
        d = group[p]; vd, vn = versions(p)
        print("- %s: SONAME=%s NEEDED=%s %s verdef=%s" % (
            os.path.relpath(p, ROOT), d["SONAME"], ",".join(d["NEEDED"]),
            ("RUNPATH=" + d["RUNPATH"]) if d["RUNPATH"] else ("RPATH=" + d["RPATH"]) if d["RPATH"] else "",
            ",".join(vd) or "-"))
    print()

print("# Overlapping sonames (present in both sets): %s\n" % ", ".join(overlap))
consumers = {}
consumers.update(torchlib); consumers.update(mx); consumers.update(cu11); consumers.update(cu12)
rows = []
for s in overlap:
    p11, p12 = by11[s], by12[s]
    d11, u11 = syms(p11); d12, u12 = syms(p12)
    vd11, _ = versions(p11); vd12, _ = versions(p12)
    names11 = {n for n, v in d11}; names12 = {n for n, v in d12}
    print("## %s\n- cu11: %s (%s), %d exported names, verdef %s\n- cu12: %s (%s), %d exported names, verdef %s"
          % (s, os.path.relpath(p11, ROOT), wheel_of(p11), len(names11), vd11,
             os.path.relpath(p12, ROOT), wheel_of(p12), len(names12), vd12))
    print("- names only in cu11 copy: %d; only in cu12 copy: %d" % (len(names11 - names12), len(names12 - names11)))
    for cp, cd in sorted(consumers.items()):
        if cp in (p11, p12): continue
        if s not in cd["NEEDED"]:
            continue
        _, undef = syms(cp)
        _, vn = versions(cp)
        need = {}
        for n, (v, b) in undef.items():
            if v == s or (v is None and (n in names11 or n in names12)):
                need[n] = (v, b)
        miss11 = sorted(n + ("@" + v if v else "") for n, (v, b) in need.items() if (n, v) not in d11 and b != "WEAK")
        miss12 = sorted(n + ("@" + v if v else "") for n, (v, b) in need.items() if (n, v) not in d12 and b != "WEAK")
        side = "cu11" if cp in cu11 else "cu12" if cp in cu12 else "torch" if cp in torchlib else "mxnet"
        print("- consumer [%s] %s: verneed %s = %s; %d symbols from %s; missing in cu11 copy: %d %s; missing in cu12 copy: %d %s"
              % (side, os.path.relpath(cp, ROOT), s, vn.get(s, "none (unversioned refs)"), len(need), s,
                 len(miss11), miss11[:12], len(miss12), miss12[:12]))
        rows.append((s, side, os.path.basename(cp), len(need), len(miss11), len(miss12), miss11, miss12))
    print()
json.dump({"overlap": overlap, "by11": by11, "by12": by12, "rows": rows}, open(ROOT + "/analysis.json", "w"), indent=1)
