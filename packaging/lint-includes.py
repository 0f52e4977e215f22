#!/usr/bin/env python3
"""Checks the include graph of the product code (ARCHITECTURE.md at the root).

Floors: daemon -> provisioning -> proxy -> common. A file may include headers of its own
floor and of the floors below it, never above. Nothing includes anything under
packaging/ (delivery files only). No two product files include each other, directly or
through others (no cycle). Prints the folder graph and exits 1 with one line per
violation.
"""
import pathlib
import re
import sys

FLOORS = {"common": 0, "proxy": 1, "provisioning": 2, "daemon": 3}
SOURCE_DIRS = list(FLOORS) + ["tests", "bench"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def folder(path: str) -> str:
    return path.split("/", 1)[0]


def main() -> int:
    root = pathlib.Path(__file__).resolve().parent.parent
    files = sorted(
        p.relative_to(root).as_posix()
        for d in SOURCE_DIRS
        if (root / d).is_dir()
        for p in (root / d).rglob("*")
        if p.suffix in (".cpp", ".hpp", ".h") and p.is_file()
    )
    problems = []
    graph = {}
    folder_edges = set()
    for f in files:
        text = (root / f).read_text(encoding="utf-8", errors="replace")
        includes = INCLUDE.findall(text)
        graph[f] = [i for i in includes if i in files or (root / i).is_file()]
        for inc in includes:
            if inc.startswith("packaging/"):
                problems.append(f"{f}: includes {inc} (packaging/ holds delivery files only)")
            src, dst = folder(f), folder(inc)
            if src in FLOORS and dst in FLOORS:
                if src != dst:
                    folder_edges.add((src, dst))
                if FLOORS[dst] > FLOORS[src]:
                    problems.append(f"{f}: includes {inc} ({src}/ may not include {dst}/: floors run "
                                    "daemon -> provisioning -> proxy -> common)")
    # Cycles among product files (tests and benchmarks only ever include product headers).
    product = {f: [i for i in graph[f] if folder(i) in FLOORS] for f in graph if folder(f) in FLOORS}
    state, stack = {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for nxt in product.get(node, []):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                problems.append("include cycle: " + " -> ".join(cycle))
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for f in sorted(product):
        if f not in state:
            visit(f)
    order = sorted(FLOORS, key=FLOORS.get, reverse=True)
    print("include graph between floors:",
          ", ".join(f"{a} -> {b}" for a in order for b in order if (a, b) in folder_edges))
    for p in problems:
        print("lint-includes: " + p, file=sys.stderr)
    print(f"lint-includes: {len(files)} files, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
