#!/usr/bin/env python3
"""The engine under pressure: descriptors running out mid-scan, SIGINT and
SIGTERM, a full disk, bad input. Every case checks that no record is lost
and that errors name what went wrong. Servers: mailtls-farm on loopback."""
import gzip
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
PORT = 14525
check = looplib.Checks()


def start_farm(tmp, profiles, delay_ms=1000):
    return looplib.start_farm(BUILD, tmp, ["--smtp", str(PORT), "--profiles", profiles, "--delay-ms", str(delay_ms)],
                              name=profiles.split("=")[0])


def records(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", errors="surrogateescape") as f:
        return [json.loads(line) for line in f]


def fd_exhaustion(tmp):
    farm = start_farm(tmp, "delay=1")
    try:
        out = os.path.join(tmp, "fd.json")
        scan = subprocess.Popen([SCAN, "--threads", "1", "-p", "%d/smtp" % PORT, "--rate", "0", "-c", "400", "--per-subnet", "0",
                                 "-o", out, "127.5.0.0/22"], stderr=subprocess.PIPE, text=True)
        time.sleep(0.4)
        subprocess.run(["prlimit", "--pid", str(scan.pid), "--nofile=100:100"], check=True)
        _, err = scan.communicate(timeout=120)
        recs = records(out)
        check(scan.returncode == 0, "fd exhaustion: scan finishes with exit 0")
        check("Too many open files" in err, "fd exhaustion: warned once (%r)" % err.splitlines()[:1])
        check(len(recs) == 1024 and len({r["ip"] for r in recs}) == 1024,
              "fd exhaustion: one record per target (%d)" % len(recs))
        check(all(r["status"] == "ok" for r in recs), "fd exhaustion: every probe still ok")
    finally:
        farm.kill()
        farm.wait()


def interruption(tmp, sig):
    farm = start_farm(tmp, "tarpit=1")
    try:
        out = os.path.join(tmp, "int-%d.json.gz" % sig)
        scan = subprocess.Popen([SCAN, "--threads", "1", "-p", "%d/smtp" % PORT, "--rate", "0", "-c", "300", "--per-subnet", "0",
                                 "--grace", "0.5", "-o", out, "127.6.0.0/24"], stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        scan.send_signal(sig)
        t0 = time.time()
        _, err = scan.communicate(timeout=30)
        took = time.time() - t0
        name = signal.Signals(sig).name
        check(took < 5, "%s: scan stopped within the grace period (%.1f s)" % (name, took))
        recs = records(out)  # gzip must be complete and valid
        check(len(recs) == 256, "%s: every started probe recorded (%d of 256)" % (name, len(recs)))
        check(all(r["status"] == "interrupted" for r in recs), "%s: tarpitted probes are `interrupted`" % name)
    finally:
        farm.kill()
        farm.wait()


def full_disk(tmp):
    farm = start_farm(tmp, "starttls-auth=1")
    try:
        run = subprocess.run([SCAN, "-p", "%d/smtp" % PORT, "-o", "/dev/full", "127.7.0.0/28"],
                             capture_output=True, text=True, timeout=60)
        check(run.returncode != 0, "full disk: non-zero exit (%d)" % run.returncode)
        check("/dev/full" in run.stderr, "full disk: error names the file (%r)" % run.stderr.strip()[:200])
    finally:
        farm.kill()
        farm.wait()


def bad_input(tmp):
    path = os.path.join(tmp, "targets.txt")
    with open(path, "w") as f:
        f.write("# comment\n127.0.0.1,ok.example\nnot an address!\n\n127.0.0.1:99999\n")
    run = subprocess.run([SCAN, "-p", "%d/smtp" % (PORT + 1), "-i", path, "-o", os.devnull,
                          "--connect-timeout", "1"], capture_output=True, text=True, timeout=60)
    check(run.returncode == 3, "malformed lines do not stop the scan; exit 3 says they were skipped")
    check("%s:3:" % path in run.stderr and "%s:5:" % path in run.stderr,
          "malformed lines reported with file:line (%r)" % run.stderr.strip()[:300])
    check("2 malformed" in run.stderr, "malformed lines counted in the summary")
    for args, needle in ((["--concurrency", "0"], "--concurrency"), (["--rate", "-1"], "--rate"),
                         (["-i", "/nonexistent/x"], "/nonexistent/x"), (["--shards", "2", "--shard", "2"], "--shard"),
                         (["--bogus"], "--bogus"), (["-p", "8080"], "8080")):
        r = subprocess.run([SCAN] + args + ["127.0.0.1"], capture_output=True, text=True, timeout=30)
        lines = r.stderr.strip().splitlines()
        check(r.returncode == 2 and len(lines) == 1 and needle in lines[0],
              "bad option %s: one-line error naming it (%r)" % (" ".join(args), r.stderr.strip()[:200]))


def main():
    tmp = tempfile.mkdtemp(prefix="mailtls-limits-")
    fd_exhaustion(tmp)
    interruption(tmp, signal.SIGINT)
    interruption(tmp, signal.SIGTERM)
    full_disk(tmp)
    bad_input(tmp)
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
