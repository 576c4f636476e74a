#!/usr/bin/env python3
"""Fails when the modules of a crate depend on each other in a cycle.

The check is levelled, as cargo-modules' acyclic check and Knot's layering
are: inside every module folder (a crate's src/, or a folder module such as
src/dnssec/), the child modules must form a directed acyclic graph, where
child A depends on child B when any file beneath A names a path beneath B
(`crate::b::...`, `super::b::...`, `use` trees included). A parent's own file
(lib.rs, main.rs, mod.rs) and tests (`tests.rs`, `*_tests.rs`, `tests/`) are
left out: a parent may use its children and a child may use what its parent
re-exports, and tests may reach anything.

Usage: scripts/check-layering.py [CRATE_DIR ...]   (default: crates/*)
       scripts/check-layering.py --self-test          (the check on crates it
       writes itself: a cycle must be found, a layered crate must pass)
Prints every cycle found as `crate: a -> b -> a (a/x.rs names b::...)` and
exits 1 if there is one.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path



def strip_comments_and_strings(text: str) -> str:
    """Removes comments, string and char literals, keeping line breaks."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    if text[i] == "\n":
                        out.append("\n")
                    i += 1
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append("\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4] + text[i + 4:i + 12]):
            m = re.match(r"'(\\[^']*|[^\\'])'", text[i:])
            i += len(m.group(0)) if m else 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def drop_test_modules(text: str) -> str:
    """Removes `#[cfg(test)] mod name { ... }` bodies (inline test modules)."""
    while True:
        m = re.search(r"#\[cfg\(test\)\]\s*(pub(\([^)]*\))?\s+)?mod\s+\w+\s*\{", text)
        if not m:
            return text
        depth, i = 1, m.end()
        while i < len(text) and depth:
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
            i += 1
        text = text[: m.start()] + text[i:]


def expand_use_tree(tree: str) -> list[str]:
    """`a::{b::{c, d}, e}` -> [`a::b::c`, `a::b::d`, `a::e`]."""
    tree = re.sub(r"\s+", "", tree)
    m = tree.find("{")
    if m < 0:
        return [re.sub(r"as\w+$", "", tree)]
    prefix, body = tree[:m], tree[m + 1 : tree.rfind("}")]
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        depth += ch == "{"
        depth -= ch == "}"
        cur += ch
    parts.append(cur)
    out = []
    for p in parts:
        if p:
            out.extend(prefix + q for q in expand_use_tree(p))
    return out


def referenced_paths(text: str) -> list[str]:
    paths = []
    for m in re.finditer(r"\buse\s+([^;]+);", text):
        paths.extend(expand_use_tree(m.group(1)))
    paths.extend(m.group(0) for m in re.finditer(r"\b(?:crate|super|self)(?:::\w+)+", text))
    return paths


def module_of(src: Path, f: Path) -> list[str]:
    rel = f.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("lib", "main", "mod"):
        parts = parts[:-1]
    return parts


def resolve(path: str, here: list[str]) -> list[str] | None:
    segs = [s for s in path.split("::") if s]
    if not segs:
        return None
    if segs[0] == "crate":
        return segs[1:]
    base = list(here)
    i = 0
    if segs[0] == "self":
        i = 1
    while i < len(segs) and segs[i] == "super":
        base = base[:-1]
        i += 1
    if i == 0:
        return None  # an external crate or a name in scope
    return base + segs[i:]


def is_test_file(f: Path, src: Path) -> bool:
    rel = f.relative_to(src)
    return any(p == "tests" or p.startswith("tests.") or p.endswith("_tests.rs") for p in rel.parts)


def check_crate(crate: Path) -> list[str]:
    src = crate / "src"
    if not src.is_dir():
        return []
    files = [f for f in src.rglob("*.rs") if not is_test_file(f, src)]
    modules = {tuple(module_of(src, f)) for f in files}
    # edges[parent][a] = {b: example}: children a -> b of folder `parent`
    edges: dict[tuple, dict[str, dict[str, str]]] = {}
    for f in files:
        here = module_of(src, f)
        text = drop_test_modules(strip_comments_and_strings(f.read_text()))
        for p in referenced_paths(text):
            target = resolve(p, here)
            if target is None:
                continue
            # longest prefix of target that is a module
            k = len(target)
            while k > 0 and tuple(target[:k]) not in modules:
                k -= 1
            tmod = target[:k]
            # common folder of here and tmod; the edge lives one level below it
            c = 0
            while c < min(len(here), len(tmod)) and here[c] == tmod[c]:
                c += 1
            if c < len(here) and c < len(tmod):
                parent = tuple(here[:c])
                a, b = here[c], tmod[c]
                if a != b:
                    edges.setdefault(parent, {}).setdefault(a, {}).setdefault(
                        b, f"{f.relative_to(src)} names {p}"
                    )
    problems = []
    for parent, graph in sorted(edges.items()):
        for cycle in find_cycles(graph):
            where = "::".join(parent) or "crate"
            hops = [f"{cycle[i]} -> {cycle[i + 1]} ({graph[cycle[i]][cycle[i + 1]]})" for i in range(len(cycle) - 1)]
            problems.append(f"{crate.name} [{where}]: cycle {' -> '.join(cycle)}\n    " + "\n    ".join(hops))
    return problems


def find_cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module."""
    index, low, stack, on, sccs, counter = {}, {}, [], set(), [], [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                strong(w)
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
                sccs.append(comp)

    for v in sorted(graph):
        if v not in index:
            strong(v)
    cycles = []
    for comp in sccs:
        members = set(comp)
        start = min(comp)
        # shortest path back to start inside the component (BFS)
        prev = {start: None}
        queue = [start]
        found = None
        while queue and not found:
            v = queue.pop(0)
            for w in sorted(graph.get(v, {})):
                if w not in members:
                    continue
                if w == start:
                    found = v
                    break
                if w not in prev:
                    prev[w] = v
                    queue.append(w)
        path = [start]
        v = found
        while v is not None and v != start:
            path.insert(1, v)
            v = prev[v]
        cycles.append(path + [start])
    return cycles


def self_test() -> int:
    """Runs the check on small crates written to a temporary folder."""
    import tempfile

    cases = {
        # name: ({file: text}, expected number of cycles)
        "layered": ({
            "lib.rs": "mod a; mod b; mod c; pub use a::A;",
            "a.rs": "pub struct A; use crate::b::B;",
            "b.rs": "pub struct B; fn f() -> crate::c::C { todo!() }",
            "c.rs": "pub struct C; // crate::a::A in a comment\nconst S: &str = \"crate::a::A\";",
        }, 0),
        "direct": ({
            "lib.rs": "mod a; mod b;",
            "a.rs": "use crate::b::B; pub struct A;",
            "b.rs": "use crate::{a::A, b};",
        }, 1),
        "through a folder": ({
            "lib.rs": "mod x; mod y;",
            "x/mod.rs": "mod inner;",
            "x/inner.rs": "use super::super::y::Y;",
            "y.rs": "pub struct Y; fn g() { let _ = crate::x::inner::f; }",
        }, 1),
        "inside a folder": ({
            "lib.rs": "mod x;",
            "x/mod.rs": "mod p; mod q; pub use p::P;",
            "x/p.rs": "use super::q::Q; pub struct P;",
            "x/q.rs": "pub struct Q; use super::P; fn h(_: super::p::P) {}",
        }, 1),
        "tests are exempt": ({
            "lib.rs": "mod a; mod b;",
            "a.rs": "use crate::b::B;\n#[cfg(test)]\nmod tests { use crate::b::B; }",
            "b.rs": "pub struct B;\n#[cfg(test)]\nmod tests { use crate::a::A; }",
        }, 0),
    }
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, (files, want) in cases.items():
            crate = Path(tmp) / name.replace(" ", "_")
            for rel, text in files.items():
                f = crate / "src" / rel
                f.parent.mkdir(parents=True, exist_ok=True)
                f.write_text(text)
            got = len(check_crate(crate))
            if got != want:
                print(f"self-test {name!r}: {got} cycle(s) found, {want} expected")
                failed += 1
    print(f"self-test: {len(cases) - failed} of {len(cases)} cases as expected")
    return 1 if failed else 0


def main() -> int:
    if sys.argv[1:] == ["--self-test"]:
        return self_test()
    root = Path(__file__).resolve().parent.parent
    crates = [Path(a) for a in sys.argv[1:]] or sorted((root / "crates").iterdir())
    problems = []
    for crate in crates:
        problems.extend(check_crate(crate))
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} module cycle(s)")
        return 1
    print(f"no module cycles in {len(crates)} crate(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
