#!/usr/bin/env python3
"""List Rust functions longer than a limit (default 120 lines), longest first.

    scripts/long-fns.py [--max N] [DIR...]     (default: every crate's sources and tests)

Counts from the `fn` line to its closing brace, by brace depth outside
strings, chars and comments. Exit 1 when any function is over the limit.
"""
import re, sys, pathlib

def strip(line, state):
    """The line with string/char/comment contents removed; state carries
    block comments and raw/normal strings across lines."""
    out, i = [], 0
    while i < len(line):
        c = line[i]
        if state["in"] == "block":
            if line.startswith("*/", i): state["in"] = None; i += 2; continue
            i += 1; continue
        if state["in"] == "str":
            if c == "\\": i += 2; continue
            if c == '"': state["in"] = None
            i += 1; continue
        if state["in"] == "raw":
            end = '"' + "#" * state["hashes"]
            if line.startswith(end, i): state["in"] = None; i += len(end); continue
            i += 1; continue
        if line.startswith("//", i): break
        if line.startswith("/*", i): state["in"] = "block"; i += 2; continue
        m = re.match(r'b?r(#*)"', line[i:])
        if m and (i == 0 or not (line[i-1].isalnum() or line[i-1] == "_")):
            state["in"] = "raw"; state["hashes"] = len(m.group(1)); i += len(m.group(0)); continue
        if c == '"': state["in"] = "str"; i += 1; continue
        m = re.match(r"'(\\.|[^\\'])'", line[i:])
        if m: i += len(m.group(0)); continue
        out.append(c); i += 1
    return "".join(out)

def scan(path):
    lines = path.read_text().splitlines()
    state = {"in": None, "hashes": 0}
    stack, found = [], []
    depth = 0
    pending = None
    for n, raw in enumerate(lines, 1):
        code = strip(raw, state)
        m = re.search(r"\bfn\s+(\w+)", code)
        if m and pending is None:
            pending = (m.group(1), n)
        for ch in code:
            if ch == "{":
                depth += 1
                if pending: stack.append((pending[0], pending[1], depth)); pending = None
            elif ch == "}":
                if stack and stack[-1][2] == depth:
                    name, start, _ = stack.pop()
                    found.append((n - start + 1, name, start))
                depth -= 1
            elif ch == ";" and pending and depth >= 0:
                pending = None  # a declaration without a body
    return found

def main():
    args = sys.argv[1:]
    limit = 120
    if args[:1] == ["--max"]: limit = int(args[1]); args = args[2:]
    dirs = args or [
        "core/src", "commands/src", "resolver/src", "xtask/src", "tests/src", "tests/tests",
        "fuzz/src", "fuzz/tests", "examples/consumer/xtask/src",
    ]
    rows = []
    for d in dirs:
        for p in sorted(pathlib.Path(d).rglob("*.rs")):
            rows += [(l, name, f"{p}:{s}") for l, name, s in scan(p) if l > limit]
    for l, name, where in sorted(rows, reverse=True):
        print(f"{l:5} {name:32} {where}")
    sys.exit(1 if rows else 0)

main()
