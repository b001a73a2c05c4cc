#!/usr/bin/env python3
"""--resume: a scan stopped by SIGINT (interrupted records) or killed by
SIGKILL (a torn gzip member or line) and then resumed holds every
(target, port) exactly once, in a file that still decodes."""
import csv
import gzip
import io
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
PORT = 15525
TARGETS = "127.11.0.0/24"




check = looplib.Checks()

def read_records(path, fmt):
    raw = open(path, "rb").read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)  # raises if any member is torn
    text = raw.decode("utf-8", "surrogateescape")
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(text, newline="")))
    return [json.loads(line) for line in text.splitlines()]


def scan(out, fmt, extra, stop=None, after=1.5):
    cmd = [SCAN, "-q", "--threads", "1", "-p", "%d/smtp" % PORT, "--rate", "200", "-c", "100",
           "--read-timeout", "2", "--timeout", "3", "--grace", "0.2", "-f", fmt, "-o", out] + extra + [TARGETS]
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    if stop:
        time.sleep(after)
        p.send_signal(stop)
    _, err = p.communicate(timeout=120)
    return p.returncode, err


def case(tmp, fmt, sig):
    name = "%s/%s" % (fmt, signal.Signals(sig).name)
    out = os.path.join(tmp, "scan-%s-%d.%s.gz" % (fmt, sig, fmt))
    scan(out, fmt, [], stop=sig)
    first = os.path.getsize(out)
    rc, err = scan(out, fmt, ["--resume"])
    check(rc == 0, "%s: resumed scan exits 0 (%s)" % (name, err.strip()[:200]))
    try:
        recs = read_records(out, fmt)
    except Exception as e:  # noqa: BLE001 - any decode failure is the finding
        check(False, "%s: output decodes after resume (%s)" % (name, e))
        return
    check(True, "%s: output decodes after resume (%d bytes before)" % (name, first))
    keys = [(r["ip"], str(r["port"])) for r in recs]
    check(len(keys) == 256 and len(set(keys)) == 256,
          "%s: every target exactly once (%d records, %d distinct)" % (name, len(keys), len(set(keys))))
    check(not any(r["status"] == "interrupted" for r in recs), "%s: no interrupted record left" % name)


def main():
    tmp = tempfile.mkdtemp(prefix="mailtls-resume-")
    farm = looplib.start_farm(BUILD, tmp, ["--smtp", str(PORT), "--profiles", "starttls-auth=3,tarpit=1"])
    try:
        for fmt in ("json", "csv"):
            for sig in (signal.SIGINT, signal.SIGKILL):
                case(tmp, fmt, sig)
        rc = subprocess.run([SCAN, "--resume", "127.0.0.1"], capture_output=True, text=True).returncode
        check(rc == 2, "--resume without -o FILE is refused")
    finally:
        farm.kill()
        farm.wait()
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
