#!/usr/bin/env python3
"""The source layout issue 10 asks for, checked on every build:

- no file in scanner/, targets/, output/ (output/lib/ included) over 800 lines;
- targets/ and output/ never include a scanner/ header, output/ no
  targets/ header, output/lib/ nothing of the project outside itself;
- no include circle between files (A includes B includes ... A);
- no call circle between the compiled files: for each object of mt_lib,
  mt_output, mt_targets and mt_scanner, the symbols it uses (nm U) point
  at the object defining them; that graph must have no cycle (so no two
  .c files call each other, directly or through others)."""
import glob
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from looplib import Checks  # noqa: E402

SRC = os.environ.get("MAILTLS_SRC", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(SRC, "build"))
LAYERS = ("scanner", "targets", "output")
MAX_LINES = 800


def sources():
    for layer in LAYERS:
        for path in sorted(glob.glob(os.path.join(SRC, layer, "**", "*.[ch]"), recursive=True)):
            yield os.path.relpath(path, SRC)


def includes(rel):
    out = []
    with open(os.path.join(SRC, rel), errors="replace") as f:
        for line in f:
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if m:
                out.append(os.path.normpath(os.path.join(os.path.dirname(rel), m.group(1))))
    return out


def cycles(graph):
    """Strongly connected components with more than one node (or a self loop)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
            if len(comp) > 1 or v in graph.get(v, ()):
                found.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def object_graph():
    objs = []
    for pat in ("mt_lib.dir/output/lib", "mt_output.dir/output", "mt_targets.dir/targets", "mt_scanner.dir/scanner"):
        for o in glob.glob(os.path.join(BUILD, "CMakeFiles", pat, "*.c.o")):
            # an object whose source is gone (a file removed since the build dir was made) is stale
            if os.path.exists(os.path.join(SRC, pat.split("/", 1)[1], os.path.basename(o)[:-2])):
                objs.append(o)
    defs, used = {}, {}
    for o in objs:
        name = os.path.relpath(o, os.path.join(BUILD, "CMakeFiles"))
        out = subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout
        used[name] = set()
        for line in out.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "TDBRC":
                defs[p[2]] = name
            elif len(p) == 2 and p[0] == "U":
                used[name].add(p[1])
    return {n: {defs[s] for s in u if s in defs and defs[s] != n} for n, u in used.items()}


def main():
    check = Checks()
    files = list(sources())
    check(len(files) > 50, "found the sources (%d files under %s)" % (len(files), "/".join(LAYERS)))

    long_files = []
    for rel in files:
        with open(os.path.join(SRC, rel), errors="replace") as f:
            n = sum(1 for _ in f)
        if n > MAX_LINES:
            long_files.append("%s (%d)" % (rel, n))
    check(not long_files, "no file over %d lines: %s" % (MAX_LINES, ", ".join(long_files) or "none"))

    graph = {rel: includes(rel) for rel in files}
    wrong = []
    for rel, incs in graph.items():
        for inc in incs:
            if rel.startswith(("targets/", "output/")) and inc.startswith("scanner/"):
                wrong.append(rel + " -> " + inc)
            if rel.startswith("output/") and inc.startswith("targets/"):
                wrong.append(rel + " -> " + inc)
            if rel.startswith("output/lib/") and not inc.startswith("output/lib/"):
                wrong.append(rel + " -> " + inc)
    check(not wrong, "layers include only downwards: " + (", ".join(wrong) or "yes"))

    circles = cycles(graph)
    check(not circles, "no include circle: " + ("; ".join(" ".join(c) for c in circles) or "none"))

    og = object_graph()
    check(len(og) > 40, "found the compiled objects (%d) under %s" % (len(og), BUILD))
    circles = cycles(og)
    check(not circles, "no call circle between objects: " + ("; ".join(" ".join(c) for c in circles) or "none"))
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
