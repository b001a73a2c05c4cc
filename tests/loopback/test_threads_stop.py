#!/usr/bin/env python3
"""test_threads_stop.py - a scan stopped midway at --threads 2 answers every
target it took from the input exactly once.

The loops take jobs from the shared feed in batches (scanner/workers.h,
workers_out.batch; at --rate 4,000/s per loop, 4 at a time that wait for
their rate tokens) and format records before the shared lock (the sink's
prepare). After SIGINT, each job a loop took but never launched must still
get its `interrupted` record: the records must then be exactly the first K
lines of the input (the feed reads in order), none twice, none missing, with
`interrupted` ones (and `ok` ones), and the metadata must count the same
records. mailtls-farm answers on 127.118.x.y (this test's loopback range):
once as a tarpit (nothing ever answered: every record is `interrupted`, and
launching is fast enough that rate tokens run out with jobs still in a
batch), once with STARTTLS.
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
N = 20000

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


def open_sockets(pid):
    try:
        return sum(1 for fd in os.listdir("/proc/%d/fd" % pid)
                   if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"))
    except OSError:
        return 0


def stopped_scan(tmp, port, threads, tarpit):
    """The scan of N targets, stopped with SIGINT once it has records (or,
    against the tarpit, which answers nothing, once 500 sockets are open)."""
    targets = os.path.join(tmp, "targets")
    ips = ["127.118.%d.%d" % (i // 250, 1 + i % 250) for i in range(N)]
    with open(targets, "w") as f:
        f.write("\n".join(ips) + "\n")
    name = "%s-%d" % ("tarpit" if tarpit else "tls", threads)
    out = os.path.join(tmp, "out-%s.json" % name)
    meta = os.path.join(tmp, "meta-%s.json" % name)
    # 4,000/s per loop: batches of 4 (a millisecond's worth) wait for their
    # rate tokens, so the stop can find jobs taken and not launched
    cmd = [SCAN, "-q", "--threads", str(threads), "-p", "%d/smtp" % port, "--rate", str(4000 * threads), "-c",
           "3000", "--per-subnet", "0", "--grace", "0", "--read-timeout", "20", "--timeout", "30", "-i", targets,
           "-o", out, "--metadata", meta, "--ehlo-name", "test.example"]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while p.poll() is None and time.monotonic() < deadline:
        if (open_sockets(p.pid) >= 500) if tarpit else (lines_of(out) >= 100):
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    recs = [json.loads(line) for line in open(out)]
    return ips, recs, p.returncode, err, meta


def check_run(tag, ips, recs, rc, err, meta, want_ok):
    got = [r["ip"] for r in recs]
    seen = collections.Counter(got)
    status = collections.Counter(r["status"] for r in recs)
    k = len(recs)
    check(0 < k < N and status["interrupted"] > 0 and (status["ok"] > 0) == want_ok,
          "%s: stopped midway (%d of %d records: %s; exit %s; %s)" % (tag, k, N, dict(status), rc, err.strip()[-200:]))
    check(max(seen.values(), default=0) == 1, "%s: no target answered twice" % tag)
    check(set(got) == set(ips[:k]), "%s: the records are exactly the first %d input lines (missing: %s)"
          % (tag, k, sorted(set(ips[:k]) - set(got))[:5]))
    with open(meta) as f:
        m = json.load(f)
    check(m.get("records") == k and m.get("status", {}).get("interrupted") == status["interrupted"],
          "%s: the metadata counts the same records (%s, %s)" % (tag, m.get("records"), m.get("status")))


def main():
    with tempfile.TemporaryDirectory(prefix="mailtls-threads-stop-") as tmp:
        for profile in ("tarpit=1", "starttls-auth=1"):
            port = countfarm.free_port()
            farm = countfarm.CountingFarm(BUILD, tmp, port, profiles=profile)
            tarpit = profile.startswith("tarpit")
            try:
                for threads in (2, 1):
                    r = stopped_scan(tmp, port, threads, tarpit)
                    check_run("%s --threads %d" % (profile, threads), *r, want_ok=not tarpit)
            finally:
                farm.stop()
    if failures:
        print("%d failed" % len(failures))
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
