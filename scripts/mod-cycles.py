#!/usr/bin/env python3
"""Print import cycles among sibling modules, at every depth, in every crate.

    scripts/mod-cycles.py [SRC]...     (default: every crate's src/ and tests/)

A module is a file: `SRC/a.rs` or `SRC/a/mod.rs` is `a`, `SRC/a/b.rs` is
`a::b`. A file names another module through `crate::a::b`, `super::b`,
`self::b` (a `use`, a brace group or a path in code; comments are skipped);
the name resolves to the deepest module that exists. Module A depends on B
when they are siblings under their nearest common parent (`a::x::..` naming
`a::y::..` is an edge x -> y among the children of `a`); a module naming
its own ancestor or descendant is no edge. Each cycle is printed as its
strongly connected component with one `file:line` per edge. Exit 1 when
there is any cycle.
"""
import pathlib, re, sys

# A path that starts at crate, super or self, with its segments.
PATH = re.compile(r"\b(crate|super|self)((?:::(?:super|[A-Za-z_][A-Za-z0-9_]*))*)(::\{([^}]*)\})?")

DEFAULT_ROOTS = [
    "core/src",
    "commands/src",
    "resolver/src",
    "xtask/src",
    "tests/src",
    "tests/tests",
    "fuzz/src",
    "fuzz/tests",
    "examples/consumer/xtask/src",
]


def module_of(src, path):
    """The module path of a file: a tuple of names (() for the crate root)."""
    rel = list(path.relative_to(src).parts)
    rel[-1] = rel[-1][:-3]
    if rel[-1] in ("mod", "lib", "main"):
        rel.pop()
    return tuple(rel)


def resolve(known, here, is_dir_module, head, rest):
    """The deepest known module that `head::rest` names from module `here`."""
    if head == "crate":
        base = ()
    else:
        base = here
    segs = [s for s in rest.split("::") if s]
    # `super` in a file `a/b.rs` (module a::b) is `a`; in `a/mod.rs` too.
    if head == "super":
        base = here[:-1]
    while segs and segs[0] == "super":
        base = base[:-1]
        segs.pop(0)
    target = base
    for s in segs:
        if target + (s,) in known:
            target = target + (s,)
        else:
            break
    return target


def edge(a, b):
    """The sibling pair a -> b under their nearest common parent, or None."""
    n = 0
    while n < len(a) and n < len(b) and a[n] == b[n]:
        n += 1
    if n == len(a) or n == len(b):
        return None  # one is the other's ancestor
    return a[: n + 1], b[: n + 1]


def edges(src):
    """{(a, b): "file:line"} for each sibling edge a -> b in the crate."""
    files = sorted(src.rglob("*.rs"))
    known = {module_of(src, p) for p in files}
    found = {}
    for path in files:
        here = module_of(src, path)
        is_dir = path.name == "mod.rs"
        for n, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("//", 1)[0]
            for m in PATH.finditer(code):
                head, rest, group = m.group(1), m.group(2), m.group(4)
                tails = [rest]
                if group is not None:
                    tails = [rest + "::" + g.strip().split("::")[0] for g in group.split(",") if g.strip()]
                for tail in tails:
                    target = resolve(known, here, is_dir, head, tail)
                    e = edge(here, target)
                    if e:
                        found.setdefault(e, f"{path}:{n}")
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


def name(m):
    return "::".join(m) or "crate"


def cycles(src):
    """Printed lines for each cycle in the crate at `src`."""
    found = edges(src)
    graph = {}
    for a, b in found:
        graph.setdefault(a, set()).add(b)
    nodes = set(graph) | {b for _, b in found}
    out = []
    for comp in components(nodes, graph):
        out.append(f"cycle in {src}: " + ", ".join(name(m) for m in comp))
        for a, b in sorted(found):
            if a in comp and b in comp:
                out.append(f"  {name(a)} -> {name(b)}  ({found[(a, b)]})")
    return out


def main():
    roots = [pathlib.Path(r) for r in (sys.argv[1:] or DEFAULT_ROOTS)]
    lines = []
    for src in roots:
        if src.is_dir():
            lines += cycles(src)
    for l in lines:
        print(l)
    if lines:
        return 1
    print("no import cycles among sibling modules in " + ", ".join(str(r) for r in roots))
    return 0


if __name__ == "__main__":
    sys.exit(main())
