#!/usr/bin/env python3
"""--metadata counts per port, end to end: an --mx domain record (no port)
written right after a blocklisted record of port 25 must not be counted
under port 25 (it was: the number was read from the record's stale slot);
a scan of 40 ports lists all 40 (it listed 32). Traffic: loopback only
(ports where nothing listens, a DNS port where nothing listens)."""
import json
import os
import socket
import subprocess
import sys
import tempfile

import looplib

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
check = looplib.Checks()


def free_port(kind=socket.SOCK_STREAM, n=1):
    """n distinct ports nothing listens on (bound, then released)."""
    socks = [socket.socket(socket.AF_INET, kind) for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def domain_record_has_no_port(tmp):
    bl = os.path.join(tmp, "block.txt")
    with open(bl, "w") as f:
        f.write("127.0.0.9/32\n")
    meta = os.path.join(tmp, "mx-meta.json")
    out = os.path.join(tmp, "mx.json")
    dns = free_port(socket.SOCK_DGRAM)[0]
    r = subprocess.run([SCAN, "-q", "--mx", "--resolver", "127.0.0.1:%d" % dns, "--dns-timeout", "0.2",
                        "--dns-retries", "0", "-p", "25", "--blocklist", bl, "--metadata", meta, "-o", out,
                        "127.0.0.9", "mail.example.invalid"], capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "mx scan: exit 0 (%d, %r)" % (r.returncode, r.stderr.strip()[-200:]))
    recs = [json.loads(line) for line in open(out)]
    portless = sum(x["port"] is None for x in recs)
    m = json.load(open(meta))
    check(len(recs) == 2 and portless == 1, "one blocklisted record, one domain record (%r)"
          % [(x["status"], x["port"]) for x in recs])
    check(m["ports"] == {"25": 1}, "metadata: only the blocklisted record under port 25 (%r)" % m["ports"])
    check(m.get("no_port") == 1, "metadata: the domain record counted as no_port (%r)" % m.get("no_port"))


def forty_ports(tmp):
    ports = free_port(n=40)
    meta = os.path.join(tmp, "40-meta.json")
    r = subprocess.run([SCAN, "-q", "-p", ",".join("%d/smtp" % p for p in ports), "--rate", "0",
                        "--metadata", meta, "-o", os.devnull, "127.0.0.1"], capture_output=True, text=True,
                       timeout=60)
    m = json.load(open(meta))
    check(r.returncode == 0, "40 ports: exit 0")
    check(m["records"] == 40 and m["ports"] == {str(p): 1 for p in ports},
          "metadata lists all 40 ports, one record each (%d listed)" % len(m["ports"]))


def main():
    tmp = tempfile.mkdtemp(prefix="mailtls-meta-")
    domain_record_has_no_port(tmp)
    forty_ports(tmp)
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
