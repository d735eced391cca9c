#!/usr/bin/env python3
"""Layout rules of src/ (issue 9), checked on every CI run:
1. no import loop: no set of files that name each other's items in a loop. An edge A -> B is a `crate::` path or
   a `super::` path in A that leads into B; test files and `#[cfg(test)] mod tests { ... }` tails are left out;
2. no file in src/ has more than 700 lines;
3. bollard is named only under src/engine/.
Exits 1 and says which rule broke, with the files."""
import os
import re
import sys

SRC = "src"
LIMIT = 700


def module_of(path):
    parts = os.path.relpath(path, SRC)[:-3].split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    return () if parts in (["lib"], ["main"]) else tuple(parts)


def is_test_file(path):
    name = os.path.basename(path)
    return name == "tests.rs" or name.endswith("_tests.rs") or f"{os.sep}tests{os.sep}" in path


def flatten(tree):
    """`a::{b, c::{d}}, e` -> ["a::b", "a::c::d", "e"]"""
    items, buf, stack = [], "", []

    def take():
        if buf.strip():
            items.append("::".join(p.strip().strip(":") for p in stack + [buf] if p.strip().strip(":")))

    for ch in tree:
        if ch == "{":
            stack.append(buf)
            buf = ""
        elif ch == "}":
            take()
            buf = ""
            stack.pop()
        elif ch == ",":
            take()
            buf = ""
        else:
            buf += ch
    take()
    return [re.sub(r"\s+as\s+\w+$", "", x) for x in items]


def main():
    files = {}
    problems = []
    for root, _, names in os.walk(SRC):
        for n in sorted(names):
            if not n.endswith(".rs"):
                continue
            p = os.path.join(root, n)
            text = open(p, encoding="utf-8").read()
            lines = text.count("\n")
            if lines > LIMIT:
                problems.append(f"{p}: {lines} lines (the limit is {LIMIT})")
            if "bollard" in text and not p.startswith(os.path.join(SRC, "engine") + os.sep):
                problems.append(f"{p}: names bollard outside src/engine/")
            if not is_test_file(p):
                files[module_of(p)] = (p, text.split("#[cfg(test)]\nmod tests {")[0])
    mods = set(files)

    def resolve(segs):
        for k in range(len(segs), 0, -1):
            if tuple(segs[:k]) in mods:
                return tuple(segs[:k])
        return None

    edges = {m: set() for m in mods}
    for m, (p, text) in files.items():
        paths = []
        for g in re.finditer(r"crate::\{", text):
            depth, j = 1, g.end()
            while depth and j < len(text):
                depth += {"{": 1, "}": -1}.get(text[j], 0)
                j += 1
            paths += flatten(text[g.end():j - 1])
        paths += re.findall(r"crate::((?:[A-Za-z_]\w*::)*[A-Za-z_]\w*)", text)
        parent = list(m[:-1])
        for q in re.findall(r"\bsuper::((?:[A-Za-z_]\w*::)*[A-Za-z_]\w*)", text):
            paths.append("::".join(parent + q.split("::")))
        for q in paths:
            t = resolve([s for s in q.split("::") if s])
            if t and t != m:
                edges[m].add(t)

    # Tarjan's strongly connected components.
    sys.setrecursionlimit(10_000)
    index, low, stack, on, loops, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
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
                loops.append(sorted(files[c][0] for c in comp))

    for v in sorted(mods):
        if v not in index:
            visit(v)
    for c in loops:
        problems.append("import loop among: " + ", ".join(c))
    n_edges = sum(len(e) for e in edges.values())
    if problems:
        print("\n".join(problems))
        return 1
    print(f"layout: {len(mods)} modules, {n_edges} import edges, no loop; no file over {LIMIT} lines; "
          "bollard only under src/engine/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
