#!/usr/bin/env python3
"""A pause of the scanner's loop must not turn answered probes into timeouts.

Servers: the farm, every host answering within 2 s (half of them wait 1.8 s
before the greeting, then do STARTTLS; the others are plain SMTP, cheap
enough for a busy machine). --read-timeout 3.

1. Slow stdout reader: `mailtls-scan -o - ... | (sleep 6; cat > f)`. The
   pipe fills within the first records; the output must queue (and push
   back on launching) instead of blocking the loop, so every record is ok.
2. SIGSTOP for 10 s in the middle of the scan, then SIGCONT: the answers
   waiting on the sockets are read before any deadline is judged, and the
   10 s the loop did not run count for no deadline (--timeout 6: not even
   for the whole probe's), so every record is ok.
"""
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import looplib

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
PORT = 17611
N = 800  # about 900 KB of NDJSON: many times a pipe's 64 KiB
# SIGSTOP case, new connections per second: the scan spans the stop, more
# probes are in flight than one epoll batch (256) holds, and the farm (maybe
# under ASan, on a busy machine) still answers every host in time
RATE = 300
check = looplib.Checks()


def targets(tmp, base):
    path = os.path.join(tmp, "targets-%d.txt" % base)
    with open(path, "w") as f:
        for i in range(N):
            f.write("127.%d.%d.%d\n" % (base, i // 256, i % 256))
    return path


def verdict(name, path, rc, err, took, min_s):
    check(rc == 0, "%s: exit 0 (got %s; %s)" % (name, rc, err.strip()[-300:]))
    check("Sanitizer" not in err, "%s: no sanitizer report" % name)
    recs = [json.loads(line) for line in open(path)]
    ips = {r["ip"] for r in recs}
    check(len(recs) == N and len(ips) == N, "%s: one record per target (%d records, %d ips)"
          % (name, len(recs), len(ips)))
    bad = collections.Counter((r["status"], r["phase"]) for r in recs if r["status"] != "ok")
    check(not bad, "%s: every record ok (%s)" % (name, dict(bad)))
    check(took >= min_s, "%s: the pause really happened (%.1f s)" % (name, took))
    print("%s: %d records in %.1f s, not ok: %s" % (name, len(recs), took, dict(bad) or "none"))


def slow_reader(tmp):
    out = os.path.join(tmp, "slow.json")
    # all at once: the plain hosts' records fill the pipe while the delayed
    # half (400, more than one epoll batch) waits for its greeting
    cmd = ("'%s' -q -p %d/smtp -c 2000 --rate 0 --per-subnet 0 --read-timeout 3 -i '%s' -o - "
           "| (sleep 6; cat > '%s')" % (SCAN, PORT, targets(tmp, 63), out))
    t0 = time.time()
    run = subprocess.run(["bash", "-c", "set -o pipefail; " + cmd], capture_output=True, text=True, timeout=120)
    verdict("slow reader", out, run.returncode, run.stderr, time.time() - t0, 6.0)


def stopped(tmp):
    out = os.path.join(tmp, "stop.json")
    t0 = time.time()
    # RATE new connections/s: the scan lasts 4 s, about 300 probes in
    # flight at the stop. --timeout 6: a probe's whole life is shorter than
    # the stop, so the stop must not count for the total deadline either.
    p = subprocess.Popen([SCAN, "-q", "-p", "%d/smtp" % PORT, "-c", "2000", "--rate", str(RATE), "--per-subnet", "0",
                          "--read-timeout", "3", "--timeout", "6", "-i", targets(tmp, 64), "-o", out],
                         stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    p.send_signal(signal.SIGSTOP)
    time.sleep(10)
    p.send_signal(signal.SIGCONT)
    _, err = p.communicate(timeout=120)
    verdict("SIGSTOP 10 s", out, p.returncode, err, time.time() - t0, 10.0)


def main():
    tmp = tempfile.mkdtemp(prefix="mailtls-stall-")
    farm = looplib.start_farm(BUILD, tmp, ["--smtp", str(PORT), "--profiles", "no-tls=1,delay=1",
                                           "--delay-ms", "1800", "--threads", "2", "--max-sessions", "5000"])
    try:
        slow_reader(tmp)
        stopped(tmp)
    finally:
        farm.kill()
        farm.wait()
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
