#!/usr/bin/env python3
"""--resume skips finished targets BEFORE contacting them (issue 18, item 3).

1. IP targets: a scan stopped by SIGINT, then resumed: the farm (which
   counts what it accepts) sees exactly one connection per target the
   first run did not finish; nothing finished is contacted again.
2. A scan interrupted three times in a row (SIGINT, SIGKILL, SIGINT), then
   resumed to the end: it advances every time and ends with every target
   exactly once.
3. --mx (DNS from a small loopback server that counts queries): a stopped
   --mx scan resumes (exit 0; it used to exit 2), finished domains get no
   DNS query at all, finished (address, port) pairs no connection, and the
   end holds one domain record per domain and one probe per address."""
import collections
import gzip
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import countfarm
import looplib
import tinydns

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
check = looplib.Checks()
N = 64


def records(path):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    return [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]


def run(cmd, stop=None, after=1.0):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if stop:
        time.sleep(after)
        p.send_signal(stop)
    _, err = p.communicate(timeout=120)
    return p.returncode, err


def ip_scan(port, out, extra=()):
    # rate 25/s: 64 targets take ~2.6 s, so a stop after 0.8 s leaves work
    return [SCAN, "-q", "--threads", "1", "-p", "%d/smtp" % port, "--rate", "25", "-c", "20",
            "--read-timeout", "3", "--timeout", "5", "--grace", "0.2", "-o", out] + list(extra) + \
           ["127.17.0.0/26"]


def final(recs):
    return [r for r in recs if r["status"] != "interrupted"]


def test_no_reconnect(tmp):
    port = countfarm.free_port()
    out = os.path.join(tmp, "ip.json")
    farm = countfarm.CountingFarm(BUILD, tmp, port)
    run(ip_scan(port, out), stop=signal.SIGINT, after=0.8)
    first = farm.stop()
    done = len(final(records(out)))
    check(0 < done < N, "the first run was stopped midway (%d of %d final, %d connections)" % (done, N, first))
    farm = countfarm.CountingFarm(BUILD, tmp, port)
    rc, err = run(ip_scan(port, out, ["--resume"]))
    second = farm.stop()
    recs = records(out)
    keys = collections.Counter(r["ip"] for r in recs)
    check(rc == 0 and len(recs) == N and len(keys) == N, "resumed: every target once (rc %d, %d records, %d "
          "distinct; %s)" % (rc, len(recs), len(keys), err.strip()[:200]))
    check(second == N - done, "resume connects only to the %d unfinished targets (server saw %d)"
          % (N - done, second))


def test_three_interruptions(tmp):
    port = countfarm.free_port()
    out = os.path.join(tmp, "three.json.gz")
    progress = []
    total = 0
    for i, sig in enumerate((signal.SIGINT, signal.SIGKILL, signal.SIGINT)):
        farm = countfarm.CountingFarm(BUILD, tmp, port)
        run(ip_scan(port, out, ["--gzip"] + (["--resume"] if i else [])), stop=sig, after=0.8)
        total += farm.stop()
        try:
            progress.append(len(final(records(out))))
        except (OSError, EOFError, ValueError):
            progress.append(-1)  # a torn gzip member (SIGKILL): the next --resume cuts it
    farm = countfarm.CountingFarm(BUILD, tmp, port)
    rc, err = run(ip_scan(port, out, ["--gzip", "--resume"]))
    last = farm.stop()
    total += last
    recs = records(out)
    keys = collections.Counter(r["ip"] for r in recs)
    # SIGKILL loses the records still buffered, so that run may add none;
    # each SIGINT run adds about 15 (25/s for 0.8 s): a run that re-probed
    # what was finished would add next to nothing.
    check(progress[0] > 0 and progress[0] <= progress[1] and progress[2] >= progress[1] + 5,
          "the interrupted runs advanced (final records after each: %s)" % progress)
    check(last == N - progress[2], "the last resume connects only to the %d unfinished targets (server saw %d)"
          % (N - progress[2], last))
    check(rc == 0 and len(recs) == N and len(keys) == N and not any(r["status"] == "interrupted" for r in recs),
          "after 3 interruptions and a last resume: every target exactly once (rc %d, %d records, %d distinct)"
          % (rc, len(recs), len(keys)))
    print("# connections over all runs: %d for %d targets" % (total, N))


def mx_zone(n):
    zone = {}
    for i in range(n):
        d = "d%02d.test" % i
        zone[d] = {"MX": [(10, "mx.%s" % d)]}
        zone["mx.%s" % d] = {"A": ["127.18.0.%d" % (i + 1)]}
    return zone


def test_mx(tmp):
    n = 40
    dns = tinydns.TinyDNS(mx_zone(n))
    port = countfarm.free_port()
    inp = os.path.join(tmp, "domains.txt")
    with open(inp, "w") as f:
        f.write("".join("d%02d.test\n" % i for i in range(n)))
        f.write("D00.test\n")  # a repeated domain: one `duplicate` domain record, no DNS query
    out = os.path.join(tmp, "mx.json")
    cmd = [SCAN, "-q", "--threads", "1", "--mx", "--resolver", "127.0.0.1:%d" % dns.port, "-p", "%d/smtp" % port,
           "--rate", "15", "-c", "10", "--read-timeout", "3", "--timeout", "5", "--grace", "0.2", "-i", inp, "-o", out]
    try:
        farm = countfarm.CountingFarm(BUILD, tmp, port)
        run(cmd, stop=signal.SIGINT, after=1.2)
        farm.stop()
        recs = records(out)
        done_pairs = {r["ip"] for r in recs if r["port"] is not None and r["status"] != "interrupted"}
        done_domains = {r["domain"] for r in recs if r["port"] is None and r["status"] not in ("interrupted", "duplicate")
                        and all(m.split()[-1] in done_pairs for m in r["mx"] or [])}
        check(0 < len(done_pairs) < n, "the --mx run was stopped midway (%d of %d addresses probed)"
              % (len(done_pairs), n))
        dns.reset()
        farm = countfarm.CountingFarm(BUILD, tmp, port)
        rc, err = run(cmd + ["--resume"])
        accepted = farm.stop()
        check(rc == 0, "--resume of --mx output runs (rc %d: %s)" % (rc, err.strip()[:300]))
        asked = sorted(d for d in done_domains if dns.count(d) or dns.count("mx." + d))
        check(done_domains and not asked, "no DNS query for the %d finished domains (asked: %s)"
              % (len(done_domains), asked[:5]))
        check(accepted == n - len(done_pairs), "connections only to the %d unprobed addresses (server saw %d)"
              % (n - len(done_pairs), accepted))
        recs = records(out)
        doms = collections.Counter(r["domain"] for r in recs if r["port"] is None and r["status"] != "duplicate")
        dups = [r["domain"] for r in recs if r["status"] == "duplicate"]
        check(dups == ["D00.test"], "the repeated domain line has one `duplicate` domain record (%s)" % dups)
        probes = collections.Counter(r["ip"] for r in recs if r["port"] is not None)
        check(len(doms) == n and set(doms.values()) == {1} and len(probes) == n and set(probes.values()) == {1},
              "one domain record per domain and one probe per address (%d domains, %d probes, %d records)"
              % (len(doms), len(probes), len(recs)))
        check(not any(r["status"] == "interrupted" for r in recs), "no interrupted record left")
    finally:
        dns.stop()


def main():
    tmp = tempfile.mkdtemp(prefix="mailtls-resume-adv-")
    test_no_reconnect(tmp)
    test_three_interruptions(tmp)
    test_mx(tmp)
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
