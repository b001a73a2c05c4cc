#!/usr/bin/env python3
"""10,000 targets with about 5,000 in flight against the farm's profile mix:
every target exactly one record, every status one the profile explains, a
clean exit (under the ASan build this is also the LeakSanitizer check), and
the peak memory printed."""
import collections
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import looplib

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
FARM = os.path.join(BUILD, "mailtls-farm")
PORT = 16525
# half the hosts wait 10 s before greeting: at 1000 new connections/s about
# 5,000 probes are in flight, while the CPU load stays what 2 cores can serve
MIX = "delay=50,starttls-auth=30,strict=10,no-tls=3,legacy-tls=3,busy=2,garbage=2"
# what each profile may produce on a STARTTLS SMTP port
EXPECTED = {"starttls-auth": {"ok"}, "strict": {"ok"}, "no-tls": {"ok"}, "legacy-tls": {"ok"},
            "delay": {"ok"}, "busy": {"server-busy"}, "garbage": {"protocol-error"}}


def main():
    check = looplib.Checks()


    tmp = tempfile.mkdtemp(prefix="mailtls-scale-")
    farm = looplib.start_farm(BUILD, tmp, ["--smtp", str(PORT), "--profiles", MIX, "--delay-ms", "10000",
                                           "--max-sessions", "12000"])
    try:
        profiles = dict(line.split() for line in subprocess.run(
            [FARM, "--profiles", MIX, "--list-profiles", "10240", "--base", "127.40.0.0"],
            capture_output=True, text=True, check=True).stdout.splitlines())
        out = os.path.join(tmp, "scale.json")
        t0 = time.time()
        run = subprocess.run([SCAN, "-p", "%d/smtp" % PORT, "-c", "5000", "--per-subnet", "0", "--rate", "1000", "--read-timeout", "25",
                              "--timeout", "40", "-o", out, "-i", "-"],
                             input="".join("127.40.%d.%d\n" % (i // 256, i % 256) for i in range(10000)),
                             capture_output=True, text=True, timeout=600)
        took = time.time() - t0
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        check(run.returncode == 0, "scan exits 0")
        check("Sanitizer" not in run.stderr, "no sanitizer or leak report (%s)" % run.stderr[-300:].strip())
        recs = [json.loads(line) for line in open(out)]
        ips = collections.Counter(r["ip"] for r in recs)
        check(len(recs) == 10000 and len(ips) == 10000, "10,000 targets, one record each (%d records, %d ips)"
              % (len(recs), len(ips)))
        wrong = [(r["ip"], profiles.get(r["ip"]), r["status"]) for r in recs
                 if r["status"] not in EXPECTED.get(profiles.get(r["ip"]), set())]
        check(not wrong, "every status matches its host's profile (%d off: %s)" % (len(wrong), wrong[:5]))
        print("10,000 targets, -c 5000: %.1f s, peak RSS of the largest child %.0f MiB" % (took, peak_kib / 1024))
    finally:
        farm.kill()
        farm.wait()
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
