#!/usr/bin/env python3
"""Fails when two or more modules of one of our Rust crates import each other.

ARCHITECTURE.md's rule inside a crate: files depend one way. A module is a file (`foo.rs`
or `foo/mod.rs`); module A depends on B when A's non-test code names B through a
`crate::...` or `super::...` path. A parent and the children it declares are not counted
(declaring and re-exporting a child is not an import). Every strongly connected group of
modules is a circle, printed with its members so it can be broken: move the shared piece
into a module both sides use, or pass what one side needs in as a value or a trait.

    scripts/check-import-cycles.py [ROOT]
"""
import os
import re
import sys
from collections import defaultdict

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
SKIP = {"target", "node_modules", ".git", "dist"}
PATH = re.compile(r"\b((?:crate|super)(?:::\w+)+)")
TEST_MOD = re.compile(r"#\[cfg\(test\)\]\s*(?:pub(?:\(crate\))?\s+)?mod\s+\w+\s*\{")


def crate_sources(root):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP)
        if "Cargo.toml" in filenames and os.path.isdir(os.path.join(dirpath, "src")):
            yield os.path.join(dirpath, "src")


def module_of(src, path):
    parts = os.path.relpath(path, src)[:-3].split(os.sep)
    return tuple(parts[:-1] if parts[-1] in ("mod", "lib", "main") else parts)


def without_tests(text):
    """The text less its `#[cfg(test)] mod x { ... }` blocks and line comments."""
    out, i = [], 0
    for m in TEST_MOD.finditer(text):
        if m.start() < i:
            continue
        out.append(text[i : m.start()])
        depth, j = 0, m.end() - 1
        while j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                break
            j += 1
        i = j + 1
    out.append(text[i:])
    return re.sub(r"//.*", "", "".join(out))


def edges_of(src):
    files = [os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs if f.endswith(".rs")]
    modules = {module_of(src, f): f for f in files}
    edges = defaultdict(set)
    for module, path in modules.items():
        with open(path, encoding="utf-8", errors="replace") as f:
            text = without_tests(f.read())
        for named in PATH.findall(text):
            parts = named.split("::")
            if parts[0] == "crate":
                target = tuple(parts[1:])
            else:
                here, k = list(module), 0
                while k < len(parts) and parts[k] == "super":
                    here, k = here[:-1], k + 1
                target = tuple(here) + tuple(parts[k:])
            while target and target not in modules:
                target = target[:-1]
            related = target == module[: len(target)] or module == target[: len(module)]
            if target and not related:
                edges[module].add(target)
    return modules, edges


def circles(modules, edges):
    """Strongly connected groups of more than one module (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10_000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(modules):
        if v not in index:
            visit(v)
    return found


def main():
    root = os.path.abspath(ROOT)
    total = 0
    for src in crate_sources(root):
        for group in circles(*edges_of(src)):
            total += 1
            names = " <-> ".join("::".join(m) or "lib" for m in group)
            print(f"FAIL: {os.path.relpath(src, root)}: {names} import each other")
    print(f"import circles: {total}")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
