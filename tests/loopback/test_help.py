#!/usr/bin/env python3
"""Help that reads well: every program `cmake --install` puts in bin/ has a
--help in the shared layout (COMMON format: `Usage:` line, one sentence,
sections ending in ':', `Examples:`, `Exit status:`), no line over 80
columns, and a -V/--version that names the program; mailtls-scan's help is
grouped (Targets ... Misc) with defaults shown and five examples that use
only real options."""
import os
import re
import subprocess
import sys
import tempfile

import looplib

BUILD = os.path.abspath(os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build")))
GROUPS = ["Targets", "Ports and protocols", "Speed and politeness", "TLS", "DNS", "Output", "Resume and shards",
          "Misc"]
# Installed programs whose --help does not follow the shared layout yet, and
# who brings it: their layout failures are reported (XFAIL), not counted.
# When one of them passes, the test says so: delete its line.
PENDING = {"mailtls-stats": "issue 13 (mailtls-stats --help and -V in the shared layout)"}

check = looplib.Checks()


def layout_problems(name, text):
    """What keeps `text` from the shared --help layout (empty: none)."""
    lines = text.split("\n")
    bad = []
    if not lines[0].startswith("Usage: %s" % name):
        bad.append("line 1 is not 'Usage: %s ...': %r" % (name, lines[0][:60]))
    i = 1
    while i < len(lines) and re.match(r"^\s+or: ", lines[i]):
        i += 1
    if not (i + 1 < len(lines) and lines[i].strip() and not lines[i + 1].strip()):
        bad.append("no one-line description followed by a blank line after the Usage lines")
    headers = [line[:-1] for line in lines if re.match(r"^\S.*:$", line)]
    for want in ("Examples", "Exit status"):
        if want not in headers:
            bad.append("no '%s:' section" % want)
    if headers[-2:] != ["Examples", "Exit status"]:
        bad.append("the last sections are not Examples:, Exit status: (%s)" % headers[-2:])
    if not re.search(r"^  -(\S, --|-)\S+", text, re.M):
        bad.append("no option line ('  -o, --output FILE  text')")
    wide = [line for line in lines if len(line) > 80]
    if wide:
        bad.append("%d lines over 80 columns, e.g. %d: %r" % (len(wide), len(wide[0]), wide[0][:90]))
    return bad


def check_program(path):
    name = os.path.basename(path)
    r = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and r.stdout, "%s --help exits 0 with text on stdout" % name)
    bad = layout_problems(name, r.stdout)
    if name in PENDING:
        print(("XFAIL " if bad else "ok   (XPASS: delete it from PENDING) ") +
              "%s --help layout, pending %s: %s" % (name, PENDING[name], "; ".join(bad)))
    else:
        check(not bad, "%s --help is in the shared layout, every line <= 80 columns%s"
              % (name, ": " + "; ".join(bad) if bad else ""))
    for flag in ("-V", "--version"):
        v = subprocess.run([path, flag], capture_output=True, text=True, timeout=30)
        ok = v.returncode == 0 and v.stdout.startswith(name + " ")
        if name in PENDING and not ok:
            print("XFAIL %s %s (pending %s): %r" % (name, flag, PENDING[name], (v.stdout or v.stderr)[:80]))
        else:
            check(ok, "%s %s prints '%s VERSION'" % (name, flag, name))
    return r.stdout


def check_scan(text):
    headers = [line[:-1] for line in text.split("\n") if re.match(r"^\S.*:$", line)]
    found = [h for h in headers if h in GROUPS]
    check(found == GROUPS, "mailtls-scan --help: option groups in order %s" % found)
    # every option line sits in a group; the examples use only options the help lists
    section, opts, homeless = None, set(), []
    for line in text.split("\n"):
        if re.match(r"^\S.*:$", line):
            section = line[:-1]
        m = re.match(r"^  (?:-\S, |    )(--[a-z][a-z0-9-]*)", line)
        if m:
            opts.add(m.group(1))
            if section not in GROUPS:
                homeless.append(m.group(1))
    check(len(opts) > 30 and not homeless, "every one of %d options is in a group (outside: %s)"
          % (len(opts), homeless))
    for opt, default in (("--rate", "1000"), ("--ports", "25,465,587,143,993,110,995"), ("--per-subnet", "32")):
        m = re.search(r"^  .*%s \S+ +(.*(?:\n {8,}.*)*)" % opt, text, re.M)
        check(m is not None and "(default: %s)" % default in " ".join(m.group(1).split()),
              "mailtls-scan --help shows %s's default (default: %s)" % (opt, default))
    ex = text.split("\nExamples:\n", 1)[1].split("\n\n", 1)[0].split("\n")
    cmds = [line.strip() for line in ex if re.match(r"^  \S", line)]
    expl = [line for line in ex if re.match(r"^ {4,}\S", line)]
    check(len(cmds) == 5 and all(c.startswith("mailtls-scan ") for c in cmds) and len(expl) >= 5,
          "Examples: five mailtls-scan commands, each explained (%d)" % len(cmds))
    used = set(w.split("=")[0] for c in cmds for w in c.split() if w.startswith("--"))
    check(used <= opts, "the examples use only listed options (unknown: %s)" % sorted(used - opts))
    for want in ("--mx", "--ciphers", "--rate", "-i"):
        check(any(want in c.split() for c in cmds), "an example uses %s" % want)


def main():
    with tempfile.TemporaryDirectory(prefix="mailtls-help-") as tmp:
        r = subprocess.run(["cmake", "--install", BUILD, "--prefix", tmp], capture_output=True, text=True,
                           timeout=120)
        check(r.returncode == 0, "cmake --install into a temporary prefix (%s)" % r.stderr.strip()[-200:])
        bindir = os.path.join(tmp, "bin")
        progs = sorted(os.listdir(bindir)) if os.path.isdir(bindir) else []
        check("mailtls-scan" in progs and "mailtls-stats" in progs, "installed programs: %s" % progs)
        texts = {p: check_program(os.path.join(bindir, p)) for p in progs}
        if "mailtls-scan" in texts:
            check_scan(texts["mailtls-scan"])
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
