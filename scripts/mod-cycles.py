#!/usr/bin/env python3
"""Print import cycles among the top-level modules of a crate.

    scripts/mod-cycles.py [SRC]        (default: resolver/src)

A top-level module is `SRC/NAME.rs` or `SRC/NAME/`. Module A depends on B
when a file of A names `crate::B` (a `use` or a path in code; comments are
skipped). Each cycle is printed as its strongly connected component with
one `file:line` per edge. Exit 1 when there is any cycle.
"""
import pathlib, re, sys

REF = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
# `use crate::{a, b::c}`: the names inside the braces.
GROUP = re.compile(r"\bcrate::\{([^}]*)\}")


def module_of(src, path):
    rel = path.relative_to(src).parts
    if len(rel) == 1:
        return rel[0][:-3]  # NAME.rs (lib.rs is the root)
    return rel[0]


def edges(src):
    """{(a, b): "file:line"} for each module a naming crate::b."""
    known = {p.stem for p in src.glob("*.rs")} | {p.name for p in src.iterdir() if p.is_dir()}
    found = {}
    for path in sorted(src.rglob("*.rs")):
        a = module_of(src, path)
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("//", 1)[0]
            names = REF.findall(code)
            for group in GROUP.findall(code):
                names += [g.strip().split("::")[0] for g in group.split(",")]
            for b in names:
                # lib.rs only declares and re-exports the modules.
                if b in known and b != a and a != "lib":
                    found.setdefault((a, b), f"{path}:{n}")
    return found


def components(nodes, graph):
    """Tarjan's strongly connected components with more than one node."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def main():
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "resolver/src")
    found = edges(src)
    graph = {}
    for a, b in found:
        graph.setdefault(a, set()).add(b)
    nodes = set(graph) | {b for _, b in found}
    sys.setrecursionlimit(10000)
    cycles = components(nodes, graph)
    for comp in cycles:
        print("cycle: " + ", ".join(comp))
        for a in comp:
            for b in sorted(graph.get(a, ())):
                if b in comp:
                    print(f"  {a} -> {b}  ({found[(a, b)]})")
    if not cycles:
        print(f"no import cycles among the modules of {src}")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
