#!/usr/bin/env python3
"""A disk that fills in the middle of a scan, then --resume once there is room.

The script runs itself under `unshare -m` and mounts a small tmpfs there.
For NDJSON, CSV and gzip NDJSON, a scan of N farm hosts writes into it until
the tmpfs is full; then:
  - exit status 1, and exactly one line on stderr (with -q nothing else is
    printed there), naming the path and the cause;
  - the file ends on a record boundary (each line a whole record) and, for
    gzip, on a complete member (`gzip -t` passes);
  - some records made it, not all.
The tmpfs is then made larger and the same command runs again with
--resume: exit 0, and the file holds every target exactly once, all ok.
"""
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import zlib

import looplib

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
PORT = 17612
N = 1000  # about 1.4 MB of NDJSON, 1.1 MB of CSV, 24 KB gzip
# tmpfs sizes: larger than one write (a second of output at --rate 250),
# much smaller than the whole output
CASES = [("json", "out.json", "400k"), ("csv", "out.csv", "400k"), ("json", "out.json.gz", "12k")]
check = looplib.Checks()


def gunzip(data):
    """The complete members' text, and whether nothing was cut off."""
    out = b""
    while data:
        d = zlib.decompressobj(wbits=31)
        chunk = d.decompress(data)
        if not d.eof:
            return out, False
        out += chunk
        data = d.unused_data
    return out, True


def records(path, fmt):
    """(whether the file ends on a record boundary, the whole records)."""
    data, members_whole = open(path, "rb").read(), True
    if path.endswith(".gz"):
        data, members_whole = gunzip(data)
    text = data.decode(errors="replace")
    if fmt == "json":
        lines = text.splitlines()
        recs = []
        for line in lines:
            try:
                recs.append(json.loads(line))
            except ValueError:
                break
        whole = (text == "" or text.endswith("\n")) and len(recs) == len(lines)
        return whole and members_whole, recs
    rows = list(csv.reader(io.StringIO(text, newline="")))
    ends = text.endswith("\r\n")
    header = rows[0] if rows else []
    whole = all(len(r) == len(header) for r in rows[1:])
    return ends and whole, [dict(zip(header, r)) for r in rows[1:]]


def case(tmp, mnt, targets, fmt, name, size):
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", mnt], check=True)
    try:
        path = os.path.join(mnt, name)
        cmd = [SCAN, "-q", "-p", "%d/smtp" % PORT, "-c", "500", "--rate", "250", "--per-subnet", "0",
               "-f", fmt, "-i", targets, "-o", path]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        lines = run.stderr.splitlines()
        check(run.returncode == 1, "%s: full disk exits 1 (got %d)" % (name, run.returncode))
        check(len(lines) == 1 and path in lines[0] and "No space left on device" in lines[0],
              "%s: exactly one error line naming the path (%r)" % (name, lines))
        if name.endswith(".gz"):
            gz = subprocess.run(["gzip", "-t", path], capture_output=True, text=True)
            check(gz.returncode == 0, "%s: gzip -t passes (%s)" % (name, gz.stderr.strip()))
        whole, recs = records(path, fmt)
        check(whole, "%s: the file ends on a record boundary" % name)
        check(0 < len(recs) < N, "%s: the disk filled mid-scan (%d of %d records)" % (name, len(recs), N))

        subprocess.run(["mount", "-o", "remount,size=64m", mnt], check=True)
        run = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=120)
        check(run.returncode == 0, "%s: --resume after freeing space exits 0 (%s)"
              % (name, run.stderr.strip()[-300:]))
        whole, recs = records(path, fmt)
        ips = [r["ip"] for r in recs]
        check(whole and len(ips) == N and len(set(ips)) == N,
              "%s: every target exactly once after --resume (%d records, %d distinct)"
              % (name, len(ips), len(set(ips))))
        check(all(r["status"] == "ok" for r in recs), "%s: every record ok" % name)
    finally:
        subprocess.run(["umount", mnt])


def main():
    if os.environ.get("MAILTLS_FULL_DISK_NS") != "1":
        # a mount namespace of our own, so the tmpfs is nobody else's business
        env = dict(os.environ, MAILTLS_FULL_DISK_NS="1")
        try:
            return subprocess.run(["unshare", "-m", "--propagation", "private", sys.executable,
                                   os.path.abspath(__file__)], env=env).returncode
        except OSError as e:
            print("FAIL cannot run unshare -m: %s" % e)
            return 1
    tmp = tempfile.mkdtemp(prefix="mailtls-fulldisk-")
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    targets = os.path.join(tmp, "targets.txt")
    with open(targets, "w") as f:
        for i in range(N):
            f.write("127.65.%d.%d\n" % (i // 256, i % 256))
    farm = looplib.start_farm(BUILD, tmp, ["--smtp", str(PORT), "--profiles", "starttls-auth=1"])
    try:
        for fmt, name, size in CASES:
            case(tmp, mnt, targets, fmt, name, size)
    finally:
        farm.kill()
        farm.wait()
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
