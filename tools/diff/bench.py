#!/usr/bin/env python3
"""Memory and time of mailtls-diff and mailtls-report on large synthetic
scans (the closing figures of issue 13; too slow for the test suite, whose
test_diff.py runs the same measurement on 200,000 records).

    tools/diff/bench.py [--build DIR] [--diff-records N] [--report-records N]
                        [--mem-mb N] [--keep]

OLD = `mailtls-outcheck generate --count N` (keys made unique); NEW = OLD
with every 97th STARTTLS record failing (worse) and every 101st dropped
(gone). The diff's result must find exactly those; peak RSS and wall time
come from /usr/bin/time. The report runs over the first --report-records
records of OLD, gzip-compressed as a scan would write it.
"""
import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

KEY = re.compile(rb'^\{"ip":"([^"]*)","port":(\d+)')


def timed(cmd, stdout):
    t0 = time.monotonic()
    r = subprocess.run(["/usr/bin/time", "-f", "%M %U %S"] + cmd, stdout=stdout, stderr=subprocess.PIPE)
    wall = time.monotonic() - t0
    kib, user, sys_ = r.stderr.decode().strip().splitlines()[-1].split()
    return r.returncode, wall, int(kib), float(user) + float(sys_), r.stderr.decode()


def make_pair(build, tmp, n):
    raw = os.path.join(tmp, "gen.json")
    subprocess.run([os.path.join(build, "mailtls-outcheck"), "generate", "--count", str(n), "--seed", "13", raw],
                   check=True)
    old, new = os.path.join(tmp, "old.json"), os.path.join(tmp, "new.json")
    seen, worse, gone, kept = set(), 0, 0, 0
    with open(raw, "rb") as f, open(old, "wb") as fo, open(new, "wb") as fn:
        for i, line in enumerate(f):
            m = KEY.match(line)
            key = m.groups() if m else None
            if key in seen:
                continue
            seen.add(key)
            kept += 1
            fo.write(line)
            if i % 101 == 0:
                gone += 1
                continue
            if i % 97 == 0 and b'"starttls_ok":true' in line:
                line = line.replace(b'"starttls_ok":true', b'"starttls_ok":false')
                worse += 1
            fn.write(line)
    os.unlink(raw)
    return old, new, kept, worse, gone


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("MAILTLS_BUILD", "build"))
    ap.add_argument("--diff-records", type=int, default=2000000)
    ap.add_argument("--report-records", type=int, default=1000000)
    ap.add_argument("--mem-mb", type=int, default=32)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mailtls-diffbench-")
    ok = True
    try:
        t0 = time.monotonic()
        old, new, kept, worse, gone = make_pair(a.build, tmp, a.diff_records)
        print("inputs: %d unique records (%.0f MiB NDJSON each), made in %.0f s" %
              (kept, os.path.getsize(old) / 2**20, time.monotonic() - t0))
        with open(os.path.join(tmp, "diff.json"), "wb") as out:
            rc, wall, kib, cpu, err = timed([os.path.join(a.build, "mailtls-diff"), "--format", "json",
                                             "--mem-mb", str(a.mem_mb), "--tmpdir", tmp, old, new], out)
        sev = {}
        with open(os.path.join(tmp, "diff.json")) as f:
            for line in f:
                s = json.loads(line)["severity"]
                sev[s] = sev.get(s, 0) + 1
        good = rc == 1 and sev.get("worse") == worse and sev.get("gone") == gone and len(sev) == 2
        ok &= good
        print("mailtls-diff %d vs %d records (--mem-mb %d): %.1f s wall, %.1f s CPU, peak RSS %.1f MiB; "
              "%s (expected %d worse, %d gone) %s" % (kept, kept - gone, a.mem_mb, wall, cpu, kib / 1024, sev,
                                                       worse, gone, "OK" if good else "WRONG"))
        rep = os.path.join(tmp, "report-in.json.gz")
        with open(old, "rb") as f, gzip.open(rep, "wb", compresslevel=6) as g:
            for i, line in enumerate(f):
                if i >= a.report_records:
                    break
                g.write(line)
        html = os.path.join(tmp, "report.html")
        rc, wall, kib, cpu, err = timed([os.path.join(a.build, "mailtls-report"), rep, "-o", html],
                                        subprocess.DEVNULL)
        ok &= rc == 0
        print("mailtls-report over %d records (gzip NDJSON): %.1f s wall, %.1f s CPU, peak RSS %.1f MiB, "
              "%.0f KiB of HTML %s" % (min(a.report_records, kept), wall, cpu, kib / 1024,
                                        os.path.getsize(html) / 1024, "OK" if rc == 0 else err[-300:]))
    finally:
        if a.keep:
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
