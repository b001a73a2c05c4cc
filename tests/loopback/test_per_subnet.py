#!/usr/bin/env python3
"""--per-subnet: never more than N probes in flight to one /24, measured on
the server side (connections open at once per destination /24); without
the cap the same scan does exceed N, so the check can fail."""
import collections
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

import looplib

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")


class SlowSmtp:
    """Greets after 0.3 s on every 127.x.y.z (wildcard bind on loopback-only
    machines; the scan targets only 127.51.0.0/23), counting open
    connections per destination /24."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.lock = threading.Lock()
        self.open = collections.Counter()
        self.peak = collections.Counter()
        self.total = self.total_peak = 0
        self.stop = False
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        net = conn.getsockname()[0].rsplit(".", 1)[0]
        with self.lock:
            self.open[net] += 1
            self.peak[net] = max(self.peak[net], self.open[net])
            self.total += 1
            self.total_peak = max(self.total_peak, self.total)
        counted = True

        def done():  # the conversation is over once the last reply is sent
            nonlocal counted
            if counted:
                with self.lock:
                    self.open[net] -= 1
                    self.total -= 1
                counted = False
        try:
            conn.settimeout(5)
            time.sleep(0.3)
            conn.sendall(b"220 slow\r\n")
            f = conn.makefile("rb")
            for line in f:
                if line.upper().startswith(b"EHLO"):
                    conn.sendall(b"250 slow\r\n")
                elif line.upper().startswith(b"QUIT"):
                    done()
                    conn.sendall(b"221 bye\r\n")
                    break
        except OSError:
            pass
        finally:
            done()
            conn.close()


def run(srv, cap, out, threads=1, conc=200):
    srv.peak.clear()
    srv.total_peak = 0
    r = subprocess.run([SCAN, "-q", "--threads", str(threads), "-p", "%d/smtp" % srv.port, "-c", str(conc), "--rate", "0",
                        "--per-subnet", str(cap), "-o", out, "127.51.0.0/23"], capture_output=True, text=True,
                       timeout=120)
    recs = [json.loads(line) for line in open(out)]
    return r.returncode, recs, dict(srv.peak)


def run_mapped(srv, cap, out):
    """One /24 named two ways: 127.51.2.1-20 and ::ffff:127.51.2.21-40
    (IPv4-mapped: the connection is IPv4). Issue 18 item 5: the mapped
    spelling counts in the same /24."""
    srv.peak.clear()
    targets = ["127.51.2.%d" % i for i in range(1, 21)] + ["::ffff:127.51.2.%d" % i for i in range(21, 41)]
    r = subprocess.run([SCAN, "-q", "--threads", "1", "-p", "%d/smtp" % srv.port, "-c", "40", "--rate", "0",
                        "--no-default-blocklist", "--per-subnet", str(cap), "-o", out] + targets,
                       capture_output=True, text=True, timeout=120)
    recs = [json.loads(line) for line in open(out)]
    return r.returncode, recs, dict(srv.peak)


def main():
    check = looplib.Checks()


    tmp = tempfile.mkdtemp(prefix="mailtls-subnet-")
    srv = SlowSmtp()
    try:
        rc, recs, peak = run(srv, 8, os.path.join(tmp, "capped.json"))
        check(rc == 0 and len(recs) == 512 and all(r["status"] == "ok" for r in recs),
              "--per-subnet 8: 512 records, all ok (%d)" % len(recs))
        check(peak and max(peak.values()) <= 8, "--per-subnet 8: at most 8 at once per /24 (%s)" % peak)
        check(peak and min(peak.values()) == 8, "--per-subnet 8: the cap is reached, so it is what bounds (%s)" % peak)
        rc, recs, peak = run(srv, 8, os.path.join(tmp, "threads.json"), threads=2)
        check(rc == 0 and len(recs) == 512, "--per-subnet 8 --threads 2: 512 records")
        check(peak and max(peak.values()) <= 8, "--threads 2: the cap holds for the whole scan (%s)" % peak)
        rc, recs, peak = run(srv, 32, os.path.join(tmp, "room.json"), threads=2, conc=60)
        check(rc == 0 and len(recs) == 512, "-c 60 --per-subnet 32 --threads 2: 512 records")
        check(srv.total_peak == 60, "-c 60 with room in both /24s: all 60 in flight (%d)" % srv.total_peak)
        rc, recs, peak = run_mapped(srv, 4, os.path.join(tmp, "mapped.json"))
        check(rc == 0 and len(recs) == 40 and all(r["status"] == "ok" for r in recs),
              "--per-subnet 4, IPv4 and IPv4-mapped targets: 40 records, all ok (%d)" % len(recs))
        check(peak.get("127.51.2", 99) <= 4,
              "--per-subnet 4: ::ffff:127.51.2.x counts in 127.51.2.0/24 (%s)" % peak)
        rc, recs, peak = run(srv, 0, os.path.join(tmp, "uncapped.json"))
        check(rc == 0 and len(recs) == 512, "--per-subnet 0: 512 records")
        check(peak and max(peak.values()) > 8, "--per-subnet 0: more than 8 at once per /24 (%s)" % peak)
    finally:
        srv.stop = True
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
