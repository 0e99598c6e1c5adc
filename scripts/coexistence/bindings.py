#!/usr/bin/env python3
"""Summarise LD_DEBUG=bindings output: who binds symbols in the overlapping sonames, and to which copy."""
import collections, glob, os, re, sys
ROOT = os.environ.get("COEXIST_ROOT", "/tmp/coexist")
pat = re.compile(r"binding file (\S+) \[\d+\] to (\S+) \[\d+\]: (?:normal|protected) symbol `([^']+)'")
OV = re.compile(r"/(libcurand\.so\.10|libcusolver\.so\.11|libcusolverMg\.so\.11|libnccl\.so\.2|libnvToolsExt\.so\.1)$")
cnt = collections.Counter(); ex = {}
for f in sys.argv[1:]:
    for line in open(f, errors="replace"):
        m = pat.search(line)
        if not m: continue
        frm, to, sym = m.groups()
        if not OV.search(to) or OV.search(frm) and frm == to: continue
        short = lambda p: ("cu11:" if p.startswith(ROOT + "/cu11") else "cu12:" if "/nvidia/" in p else "") + p.rsplit("/", 1)[-1]
        k = (short(frm), short(to)); cnt[k] += 1; ex.setdefault(k, sym)
for (a, b), n in sorted(cnt.items()):
    print("  %-32s -> %-26s %4d symbols (e.g. %s)" % (a, b, n, ex[(a, b)]))
errs = set()
for f in sys.argv[1:]:
    for line in open(f, errors="replace"):
        if "undefined symbol" in line or "symbol lookup error" in line or "version `" in line:
            errs.add(line.strip()[:300])
stub = [e for e in errs if "/stub/libcuda.so.1: error" in e]
real = [e for e in errs if e not in stub]
print("  dlsym misses on the stub libcuda.so.1 (cudart/cuda-bindings probing driver entry points; harmless): %d" % len(stub))
for e in sorted(real)[:20]: print("  LOADER ERROR:", e)
if not real: print("  no other undefined-symbol / version errors in the loader log")
