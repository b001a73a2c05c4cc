#!/usr/bin/env python3
"""test_threads_stop.py - a scan stopped midway at --threads 2 answers every
target it took from the input exactly once.

The loops take jobs from the shared feed in batches (scanner/workers.h,
workers_out.batch) and format records before the shared lock (the sink's
prepare). After SIGINT, each job a loop took but never launched must still
get its `interrupted` record: the records must then be exactly the first K
lines of the input (the feed reads in order), none twice, none missing, with
`ok` and `interrupted` ones, and the metadata must count the same records.
mailtls-farm serves STARTTLS on 127.118.x.y (this test's loopback range).
"""
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import countfarm  # noqa: E402

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
N = 3000

failures = []


def check(cond, what):
    print("%s: %s" % ("ok" if cond else "FAIL", what))
    if not cond:
        failures.append(what)


def lines_of(path):
    try:
        with open(path) as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def stopped_scan(tmp, port, threads):
    targets = os.path.join(tmp, "targets")
    ips = ["127.118.%d.%d" % (i // 200, 1 + i % 200) for i in range(N)]
    with open(targets, "w") as f:
        f.write("\n".join(ips) + "\n")
    out = os.path.join(tmp, "out-%d.json" % threads)
    meta = os.path.join(tmp, "meta-%d.json" % threads)
    # --rate 300: 3,000 targets take ~10 s, so the stop lands midway
    cmd = [SCAN, "-q", "--threads", str(threads), "-p", "%d/smtp" % port, "--rate", "300", "-c", "200",
           "--per-subnet", "0", "--grace", "0", "--read-timeout", "5", "--timeout", "10", "-i", targets,
           "-o", out, "--metadata", meta, "--ehlo-name", "test.example"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while lines_of(out) < 100 and p.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)  # the writer flushes every second
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    recs = [json.loads(line) for line in open(out)]
    return ips, recs, p.returncode, err, meta


def main():
    with tempfile.TemporaryDirectory(prefix="mailtls-threads-stop-") as tmp:
        port = countfarm.free_port()
        farm = countfarm.CountingFarm(BUILD, tmp, port)
        try:
            for threads in (2, 1):
                ips, recs, rc, err, meta = stopped_scan(tmp, port, threads)
                got = [r["ip"] for r in recs]
                seen = collections.Counter(got)
                status = collections.Counter(r["status"] for r in recs)
                k = len(recs)
                tag = "--threads %d" % threads
                check(0 < k < N and status["interrupted"] > 0 and status["ok"] > 0,
                      "%s: stopped midway (%d of %d records: %s; exit %s; %s)"
                      % (tag, k, N, dict(status), rc, err.strip()[-200:]))
                check(max(seen.values(), default=0) == 1, "%s: no target answered twice" % tag)
                check(set(got) == set(ips[:k]),
                      "%s: the records are exactly the first %d input lines (missing: %s)"
                      % (tag, k, sorted(set(ips[:k]) - set(got))[:5]))
                with open(meta) as f:
                    m = json.load(f)
                check(m.get("records") == k and m.get("status", {}).get("interrupted") == status["interrupted"],
                      "%s: the metadata counts the same records (%s, %s)" % (tag, m.get("records"),
                                                                             m.get("status")))
        finally:
            farm.stop()
    if failures:
        print("%d failed" % len(failures))
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
