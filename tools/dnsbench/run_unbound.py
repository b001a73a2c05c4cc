#!/usr/bin/env python3
"""run_unbound.py - starts unbound on loopback with the test zone of
tests/real/dnsfix.py (10,010 mail domains) and runs mailtls-dnsbench
against it. Usage: tools/dnsbench/run_unbound.py [BUILD_DIR] [dnsbench args...]
Defaults: --type a over the zone's exchanger and domain names, 200000
queries, concurrency 500. Nothing leaves loopback (unbound refuses every
name outside test.).
"""
import os
import subprocess
import sys
import tempfile

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(SRC, "tests", "real"))
import dnsfix  # noqa: E402


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SRC, "build")
    extra = sys.argv[2:]
    work = tempfile.mkdtemp(prefix="mtdnsbench-")
    fx = dnsfix.start(work, build, farm=False)
    try:
        names = os.path.join(work, "names.txt")
        with open(names, "w") as f:
            for n in fx.zone.addr_of:
                f.write(n + "\n")
        cmd = [os.path.join(build, "mailtls-dnsbench"), "--resolver", f"127.0.0.1:{fx.dns_port}",
               "--names", names] + (extra or ["--queries", "200000", "--concurrency", "500"])
        print("#", " ".join(cmd), flush=True)
        # warm unbound's answer path once, then measure
        subprocess.run(cmd[:5] + ["--queries", "20000"], capture_output=True)
        return subprocess.run(cmd).returncode
    finally:
        fx.stop()
        subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())
