#!/usr/bin/env python3
"""Shipping: `cmake --install --prefix` puts the user-facing programs (not
the test tools) in bin/, a man page per program in share/man/man1, schema
and examples in share/mailtls; every man page is groff-clean (`groff -ww -z
-man`), has the standard sections and names every option of the program's
--help (and mailtls-scan's every record field); tools/mkman.py copes with
any program in the shared --help layout; `cpack -G DEB` builds a package
whose Depends was computed (libssl3, libc-ares2, libmaxminddb0, zlib1g) and
whose extracted mailtls-scan runs and scans the farm on loopback."""
import glob
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

import looplib

BUILD = os.path.abspath(os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build")))
SRC = os.path.abspath(os.environ.get("MAILTLS_SRC", os.path.join(os.path.dirname(__file__), "../..")))
SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXAMPLES", "EXIT STATUS", "FILES", "ETHICS", "SEE ALSO"]

check = looplib.Checks()


def test_tools():
    text = open(os.path.join(SRC, "cmake/Install.cmake")).read()
    return set(re.search(r"set\(MAILTLS_TEST_TOOLS ([^)]*)\)", text).group(1).split())


def render(page):
    r = subprocess.run(["groff", "-man", "-Tutf8", "-P-cbou", page], capture_output=True, text=True, timeout=60)
    return r.stdout


def check_page(prog, page, schema=False):
    name = os.path.basename(prog)
    r = subprocess.run(["groff", "-ww", "-z", "-man", page], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and not r.stderr.strip(), "%s: groff -ww -z -man: no warnings (%s)"
          % (name, r.stderr.strip()[:300]))
    text = render(page)
    heads = re.findall(r"^([A-Z][A-Z ]+)$", text, re.M)
    missing = [s for s in SECTIONS if s not in heads]
    check(not missing, "%s: man page has %s (missing: %s)" % (name, ", ".join(SECTIONS), missing))
    flat = " ".join(text.split())
    helptext = subprocess.run([prog, "--help"], capture_output=True, text=True, timeout=30).stdout
    opts = sorted(set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", helptext)))
    absent = [o for o in opts if o not in flat]
    check(opts and not absent, "%s: every one of its %d --help options is in the man page (absent: %s)"
          % (name, len(opts), absent))
    if schema:
        fields = [line.split()[0] for line in subprocess.run([prog, "--schema"], capture_output=True, text=True,
                                                             timeout=30).stdout.split("\n")
                  if line and not line.startswith((" ", "status"))]
        sect = text.split("\nRECORD FIELDS\n", 1)[-1].split("\nEXAMPLES\n")[0]
        absent = [f for f in fields if not re.search(r"^\s+%s \(" % re.escape(f), sect, re.M)]
        check(len(fields) > 30 and not absent, "%s: RECORD FIELDS lists all %d --schema fields (absent: %s)"
              % (name, len(fields), absent))
    return text


def check_install(tmp):
    prefix = os.path.join(tmp, "prefix")
    r = subprocess.run(["cmake", "--install", BUILD, "--prefix", prefix], capture_output=True, text=True, timeout=120)
    check(r.returncode == 0, "cmake --install --prefix %s (%s)" % (prefix, r.stderr.strip()[-200:]))
    built = set(os.path.basename(p) for p in glob.glob(os.path.join(BUILD, "mailtls-*"))
                if os.path.isfile(p) and os.access(p, os.X_OK))
    tests = set("mailtls-" + t for t in test_tools())
    want = sorted(built - tests)
    progs = sorted(os.listdir(os.path.join(prefix, "bin")))
    check(progs == want and "mailtls-scan" in progs, "bin/ holds the user programs %s, not the test tools %s (got %s)"
          % (want, sorted(built & tests), progs))
    pages = sorted(os.listdir(os.path.join(prefix, "share/man/man1")))
    check(pages == [p + ".1" for p in progs], "share/man/man1: one page per program (%s)" % pages)
    data = os.path.join(prefix, "share/mailtls")
    for f in ("SCHEMA-OUTPUT.md", "examples/kubernetes/indexed-job.yaml", "examples/slurm/array.sbatch",
              "examples/merge-csv.sh"):
        check(os.path.isfile(os.path.join(data, f)), "share/mailtls/%s installed" % f)
    scan = os.path.join(prefix, "bin/mailtls-scan")
    schema = subprocess.run([scan, "--schema"], capture_output=True, text=True, timeout=30).stdout
    check(open(os.path.join(data, "schema.txt")).read() == schema, "share/mailtls/schema.txt = mailtls-scan --schema")
    lic = open(os.path.join(prefix, "share/doc/mailtls/LICENSE")).read()
    ver = subprocess.run([scan, "--version"], capture_output=True, text=True, timeout=30).stdout
    check("Apache License" in lic and "Version 2.0" in lic and "Apache-2.0" in ver,
          "LICENSE is Apache-2.0 and --version says so (%r)" % ver)
    for p in progs:
        check_page(os.path.join(prefix, "bin", p), os.path.join(prefix, "share/man/man1", p + ".1"),
                   schema=(p == "mailtls-scan"))
    r = subprocess.run(["man", "-l", os.path.join(prefix, "share/man/man1/mailtls-scan.1")], capture_output=True,
                       text=True, timeout=60, env=dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80"))
    check(r.returncode == 0 and "--shard" in r.stdout, "man -l renders mailtls-scan.1")


FAKE_HELP = """Usage: mailtls-fake [OPTIONS] FILE...
   or: mailtls-fake --list
Does something made up, to test the man page generator.

Input:
  -i, --input FILE      read FILE ('-' = stdin)
      --extremely-long-option-name VALUE
                        the text starts on the next line (default: 3)
  -z                    a short-only flag

Output:
  -o, --out FILE        write here; this help text is long enough to wrap
                        onto a second line (default: -)
  --cert PEM, --key PEM  two options on one line
      --format=FMT      an argument after '='

Notes:
  A plain paragraph in a section of its own, with a backslash \\ and a
  line that starts with a dot:
  .not-a-request

Examples:
  mailtls-fake -i a.txt --out b.txt
      converts a.txt
  mailtls-fake --list
      lists

Exit status:
  0  done
  2  usage error
"""


def check_generator(tmp):
    """A program that lands later gets a page with no work: a made-up one."""
    fake = os.path.join(tmp, "mailtls-fake")
    with open(fake, "w") as f:
        f.write("#!/bin/sh\ncat <<'EOF'\n%sEOF\n" % FAKE_HELP)
    os.chmod(fake, 0o755)
    page = os.path.join(tmp, "mailtls-fake.1")
    r = subprocess.run([sys.executable, os.path.join(SRC, "tools/mkman.py"), fake, page, "--version", "9"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "mkman.py on a new program (%s)" % r.stderr.strip()[-300:])
    text = check_page(fake, page)
    flat = " ".join(text.split())
    for want in ("mailtls-fake - does something made up", "mailtls-fake --list", "Input", "-z",
                 "--extremely-long-option-name VALUE the text starts on the next line (default: 3)",
                 "onto a second line (default: -)", "mailtls-fake -i a.txt --out b.txt converts a.txt",
                 "2 usage error", "backslash \\ and", ".not-a-request",
                 "--cert PEM, --key PEM two options on one line", "--format=FMT an argument after '='"):
        check(want in flat, "generated page contains %r" % want)
    src = open(page).read()
    for flag in ("\\fB\\-z\\fR", "\\fB\\-\\-key\\fR \\fIPEM\\fR", "\\fB\\-\\-format\\fR=\\fIFMT\\fR"):
        check(re.search(r"^\.TP\n.*" + re.escape(flag), src, re.M) is not None,
              "generated page: %s is an option heading (.TP)" % flag)


def free_port():
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def check_deb(tmp):
    out = os.path.join(tmp, "deb")
    r = subprocess.run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-B", out],
                       capture_output=True, text=True, timeout=300, cwd=BUILD)
    debs = glob.glob(os.path.join(out, "*.deb"))
    check(r.returncode == 0 and len(debs) == 1, "cpack -G DEB builds one package (%s)" % (r.stderr.strip()[-300:]))
    if not debs:
        return
    deb = debs[0]
    depends = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True, text=True).stdout.strip()
    names = [d.split()[0] for d in depends.split(", ") if d]
    for lib in ("libssl3", "libc-ares2", "libmaxminddb0", "zlib1g"):
        check(lib in names, "Depends names %s (%s)" % (lib, depends))
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True).stdout
    check("./usr/bin/mailtls-scan" in listing and "./usr/share/man/man1/mailtls-scan.1" in listing
          and "mailtls-farm" not in listing, "package holds /usr/bin/mailtls-scan and its man page, not the farm")
    root = os.path.join(tmp, "root")
    subprocess.run(["dpkg", "-x", deb, root], check=True, timeout=60)
    scan = os.path.join(root, "usr/bin/mailtls-scan")
    v = subprocess.run([scan, "--version"], capture_output=True, text=True, timeout=30)
    check(v.returncode == 0 and re.match(r"mailtls-scan \d+\.\d+\.\d+\n", v.stdout),
          "the packaged mailtls-scan --version runs (%r)" % v.stdout)
    port = free_port()
    farm = looplib.start_farm(BUILD, tmp, ["--bind", "127.118.7.1", "--smtp", str(port), "--profiles",
                                           "starttls-auth=1"])
    try:
        r = subprocess.run([scan, "-q", "--threads", "1", "-p", "%d/smtp" % port, "--read-timeout", "5",
                            "127.118.7.1"], capture_output=True, text=True, timeout=60)
        recs = [json.loads(line) for line in r.stdout.splitlines()]
        check(r.returncode == 0 and len(recs) == 1 and recs[0]["status"] == "ok" and recs[0]["starttls_ok"]
              and recs[0]["tls_version"], "the packaged mailtls-scan scans the farm over STARTTLS (%s)"
              % ([(x["status"], x["tls_version"]) for x in recs] or r.stderr.strip()))
    finally:
        farm.terminate()
        farm.wait(timeout=10)


def main():
    tmp = tempfile.mkdtemp(prefix="mailtls-install-")
    try:
        check_install(tmp)
        check_generator(tmp)
        check_deb(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
