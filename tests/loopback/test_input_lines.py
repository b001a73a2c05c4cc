#!/usr/bin/env python3
"""Input that used to be quietly misread (issue 18, item 9):

- 5,000 identical target lines give one connection (counted by the farm)
  and 4,999 `duplicate` records; mailtls-stats counts one record;
- a line with a NUL byte (`127.16.0.3<NUL>.5`) or another control byte is
  refused with file:line, and nothing is sent to the address before it;
- `::1:993`-style lines are refused with the [ADDR]:PORT hint;
- --resume after a scan with duplicates keeps every line's record once."""
import json
import os
import subprocess
import sys
import tempfile

import countfarm
import looplib

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
STATS = os.path.join(BUILD, "mailtls-stats")
check = looplib.Checks()


def scan(port, inp, out, extra=()):
    cmd = [SCAN, "-q", "--threads", "1", "-p", "%d/smtp" % port, "-c", "50", "--read-timeout", "3",
           "--timeout", "5", "-i", inp, "-o", out] + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def records(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_duplicates(tmp):
    port = countfarm.free_port()
    farm = countfarm.CountingFarm(BUILD, tmp, port)
    inp = os.path.join(tmp, "same.txt")
    with open(inp, "w") as f:
        f.write("127.16.0.1\n" * 5000)
        f.write("127.16.0.2,mail.example.test\n127.16.0.2,MAIL.example.test,other-tag\n")
        f.write("127.16.0.2,other.example.test\n")
    out = os.path.join(tmp, "same.json")
    r = scan(port, inp, out)
    accepted = farm.stop()
    check(accepted == 3, "5,000 identical lines + 3 SNI lines: 3 connections at the server (got %d)" % accepted)
    recs = records(out)
    by = {}
    for x in recs:
        by.setdefault((x["ip"], x["host"], x["status"]), 0)
        by[(x["ip"], x["host"], x["status"])] += 1
    check(len(recs) == 5003, "one record per input line (%d records, rc %d, %s)" % (len(recs), r.returncode,
                                                                                    r.stderr.strip()[:200]))
    check(by.get(("127.16.0.1", None, "duplicate")) == 4999, "4,999 `duplicate` records (%s)" % by)
    dup = [x for x in recs if x["status"] == "duplicate"]
    check(all(x["error"] and "earlier input line" in x["error"] and x["port"] == port for x in dup),
          "duplicate records name their port and say why")
    check(by.get(("127.16.0.2", "MAIL.example.test", "duplicate")) == 1,
          "a name differing only in case (and tag) is a duplicate")
    check(by.get(("127.16.0.2", "other.example.test", "duplicate")) is None,
          "another SNI name on the same address is its own target")
    st = subprocess.run([STATS, "-f", "json", out], capture_output=True, text=True)
    summ = {}
    try:
        summ = {row["metric"]: row["value"] for row in json.loads(st.stdout)["summary"]}
    except (ValueError, KeyError) as e:
        check(False, "mailtls-stats JSON parses (%s: %s)" % (e, st.stdout[:200]))
    check(summ.get("records") == 3 and summ.get("duplicate_records") == 5000,
          "mailtls-stats counts 3 records, the 5,000 duplicates apart (%s)" % summ)
    # --resume over it: every line still has exactly one record
    farm = countfarm.CountingFarm(BUILD, tmp, port)
    r = scan(port, inp, out, ["--resume"])
    accepted = farm.stop()
    recs = records(out)
    check(r.returncode == 0 and accepted == 0, "resume of a finished scan: rc 0, no connection (rc %d, %d)"
          % (r.returncode, accepted))
    check(len(recs) == 5003 and sum(x["status"] == "duplicate" for x in recs) == 5000,
          "after resume: still one record per line (%d)" % len(recs))


def test_refused_lines(tmp):
    port = countfarm.free_port()
    farm = countfarm.CountingFarm(BUILD, tmp, port)
    inp = os.path.join(tmp, "bad.txt")
    with open(inp, "wb") as f:
        f.write(b"127.16.0.3\x00.5\n")       # line 1: NUL
        f.write(b"127.16.0.4\x1b\n")         # line 2: ESC
        f.write(b"::1:993\n")                # line 3: ambiguous
        f.write(b"127.16.0.6\t# tab before a comment is a blank\r\n")  # line 4: fine (CRLF)
        f.write(b"127.16.0.7\r# x\r\n")      # line 5: a stray CR (the CRLF one is fine)
    out = os.path.join(tmp, "bad.json")
    r = scan(port, inp, out)
    accepted = farm.stop()
    recs = records(out)
    ips = sorted(x["ip"] for x in recs)
    check(ips == ["127.16.0.6"], "only the clean line is scanned (%s)" % ips)
    check(accepted == 1, "one connection at the server (%d)" % accepted)
    err = r.stderr
    check("bad.txt:1: control byte 0x00 (NUL)" in err, "NUL refused with file:line (%s)" % err.strip()[:300])
    check("bad.txt:2: control byte 0x1B (ESC)" in err, "ESC refused with file:line")
    check("bad.txt:3: '::1:993' is ambiguous: use [::1]:993" in err, "::1:993 refused with the hint")
    check("bad.txt:5: control byte 0x0D (CR)" in err, "a stray CR is refused")


def main():
    tmp = tempfile.mkdtemp(prefix="mailtls-input-")
    test_duplicates(tmp)
    test_refused_lines(tmp)
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
