#!/usr/bin/env python3
"""Checks that the include graph of src/ runs one way.

  scripts/check-includes.py [SRC_DIR]     (default: the repository's src/)

Three checks; each problem is printed and makes the exit status 1:

  Between folders: src/engine may include "storage/..." but then nothing in src/storage may
  include "engine/...". A cycle among folders is reported.

  Inside a folder: each component is a header and the .cc files that implement it (x.cc, and
  x_more.cc when it includes x.h and there is no x_more.h: producer_controls.cc belongs to
  producer.h). A component that includes another's header depends on it. A cycle means two parts
  of the folder know each other; the lower one should talk to its owner through a narrow
  interface it declares (as dcp's ProducerNotifier does) instead of including it.

  Test support: only tests (*_test.cc) and src/testing itself include "testing/..." headers, so
  no production library can need the test-support library.

Tests (*_test.cc) are not part of the graph: a test may include whatever it tests.
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
TESTING = "testing"


def sources(folder_path):
    """(name, stem, ext, includes) of every non-test .h/.cc file of a folder."""
    out = []
    for name in sorted(os.listdir(folder_path)):
        stem, ext = os.path.splitext(name)
        if ext not in (".h", ".cc"):
            continue
        with open(os.path.join(folder_path, name), encoding="utf-8") as f:
            includes = [m.group(1) for m in map(INCLUDE.match, f) if m]
        out.append((name, stem, ext, includes))
    return out


def component_edges(folder, files, folder_path):
    """Maps each component of a folder to the components whose headers it includes."""
    edges = {}
    for name, stem, ext, includes in files:
        if stem.endswith("_test"):
            continue
        local = [i[len(folder) + 1:-2] for i in includes
                 if i.startswith(folder + "/") and i.endswith(".h") and i.count("/") == 1]
        owner = stem
        if ext == ".cc" and not os.path.exists(os.path.join(folder_path, stem + ".h")):
            owners = [h for h in local if stem.startswith(h + "_")]
            if owners:
                owner = max(owners, key=len)
        edges.setdefault(owner, set()).update(h for h in local if h != owner)
    return edges


def cycles(edges):
    """The strongly connected components of more than one node (Tarjan)."""
    index, low, on_stack, stack, result = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                result.append(sorted(scc))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return result


def describe(scc, edges):
    members = set(scc)
    return "; ".join(f"{a} -> {b}" for a in scc for b in sorted(edges.get(a, ())) if b in members)


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "src")
    folders = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
    problems = []
    folder_edges = {}
    for folder in folders:
        path = os.path.join(src, folder)
        files = sources(path)
        edges = component_edges(folder, files, path)
        for scc in cycles(edges):
            problems.append(f"src/{folder}: include cycle among {', '.join(scc)}: "
                            f"{describe(scc, edges)}")
        deps = folder_edges.setdefault(folder, set())
        for name, stem, _, includes in files:
            if stem.endswith("_test"):
                continue
            for inc in includes:
                top = inc.split("/", 1)[0]
                if "/" in inc and top in folders and top != folder:
                    deps.add(top)
                    if top == TESTING:
                        problems.append(f"src/{folder}/{name} includes \"{inc}\": only tests "
                                        f"may use the test-support library")
    for scc in cycles(folder_edges):
        problems.append(f"src: include cycle among the folders {', '.join(scc)}: "
                        f"{describe(scc, folder_edges)}")
    for p in problems:
        print(p)
    if problems:
        print(f"check-includes: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
