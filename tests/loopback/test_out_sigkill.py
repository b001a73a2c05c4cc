#!/usr/bin/env python3
"""A SIGKILLed writer loses at most the last flush interval.

mailtls-outcheck stream writes ~2000 records/s through the gzip JSON
writer (flush interval 1000 ms, driven by out_tick) and reports every
100 ms how many records it has handed to out_write. After ~3 s it gets
SIGKILL. Every record handed over more than 1 s (plus a scheduling margin)
before the kill must be in the file, readable member by member, each line
valid JSON, with no gaps; zcat must read the same records.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zlib

BUILD = os.environ.get("MAILTLS_BUILD", "build-out")
TOOL = os.path.join(BUILD, "mailtls-outcheck")
MARGIN_MS = 400  # a tick can come one (possibly descheduled) loop turn late


def read_members(data):
    """Decompresses complete gzip members; a cut-off last member is dropped."""
    out, members = bytearray(), 0
    while data:
        d = zlib.decompressobj(wbits=31)
        chunk = d.decompress(data)
        if not d.eof:
            break  # truncated by the kill: not counted
        out += chunk
        members += 1
        data = d.unused_data
    return bytes(out), members


def run(rate, min_needed, extra=()):
    """One kill at `rate` records/s; returns a list of failure messages."""
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "kill.json.gz")
        p = subprocess.Popen([TOOL, "stream", "--rate", str(rate), "--interval-ms", "1000"] + list(extra) + [path],
                             stdout=subprocess.PIPE, text=True)
        reports = []  # (monotonic ms of the helper, records handed over)
        start = time.monotonic()
        while time.monotonic() - start < 3.0:
            line = p.stdout.readline()
            if not line:
                break
            n, t = line.split()
            reports.append((int(t), int(n)))
        p.send_signal(signal.SIGKILL)
        # The helper's clock is CLOCK_MONOTONIC in ms, like time.monotonic().
        kill_ms = int(time.monotonic() * 1000)
        p.wait()
        p.stdout.close()
        if p.returncode != -signal.SIGKILL:
            failures.append("helper was not killed by SIGKILL (rc %s)" % p.returncode)
        safe = [n for t, n in reports if t <= kill_ms - 1000 - MARGIN_MS]
        must_have = max(safe) if safe else 0
        if must_have < min_needed:
            failures.append("too few records before the kill window: %d" % must_have)

        with open(path, "rb") as f:
            data = f.read()
        text, members = read_members(data)
        lines = text.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        seqs = []
        for no, line in enumerate(lines, 1):
            try:
                seqs.append(json.loads(line)["time_ms"])
            except (ValueError, KeyError) as e:
                failures.append("line %d is not a valid record: %s" % (no, e))
                break
        if seqs != list(range(len(seqs))):
            failures.append("records are not 0..n-1 in order")
        if len(seqs) < must_have:
            failures.append("recovered %d records, needed >= %d" % (len(seqs), must_have))
        if members < 2:
            failures.append("expected several gzip members, got %d" % members)
        zc = subprocess.run(["sh", "-c", 'zcat "$0" 2>/dev/null', path], capture_output=True).stdout
        if not zc.startswith(text):
            failures.append("zcat output differs from the member-by-member read")
        print(" ".join(list(extra) + [""]) + "rate %d/s: handed over %d, needed %d, recovered %d in %d members (file %d bytes)"
              % (rate, reports[-1][1] if reports else 0, must_have, len(seqs), members, len(data)))
    return failures


def main():
    # 2000/s fills the 256 KiB buffer several times a second (size flushes);
    # 100/s never does, so only the 1 s interval flush saves the records.
    failures = run(2000, 2000) + run(100, 100)
    # the same with the writer thread the scanner uses (writer.h background)
    failures += run(2000, 2000, ["--background"]) + run(100, 100, ["--background"])
    for f in failures:
        print("FAIL:", f)
    print("PASS" if not failures else "%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
