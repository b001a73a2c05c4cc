#!/usr/bin/env python3
"""Blocklist and allowlist on the wire: a server on every 127.x.y.z logs
the destination address of each connection it accepts; nothing blocklisted
(or outside an allowlist) is ever connected to, and each such target still
gets exactly one `blocklisted` record. Shards: the union of the shards'
records is the whole range, without overlap."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

import looplib

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")


class Recorder:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))  # loopback-only machine; targets are 127.52.0.0/24
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.stop = False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.seen.append(conn.getsockname()[0])  # an IPv4-mapped connect arrives as IPv4
            conn.close()  # the probe records `closed`; what matters is the address


def scan(srv, tmp, name, *extra):
    out = os.path.join(tmp, name + ".json")
    r = subprocess.run([SCAN, "-q", "-p", "%d/smtp" % srv.port, "--per-subnet", "0", "--rate", "0", "-o", out]
                       + list(extra) + ["127.52.0.0/24"], capture_output=True, text=True, timeout=120)
    return r.returncode, [json.loads(line) for line in open(out)]


def scan_list(srv, tmp, name, targets, *extra):
    out = os.path.join(tmp, name + ".json")
    r = subprocess.run([SCAN, "-q", "-p", "%d/smtp" % srv.port, "--per-subnet", "0", "--rate", "0", "-o", out]
                       + list(extra) + targets, capture_output=True, text=True, timeout=120)
    return r.returncode, [json.loads(line) for line in open(out)]


def embedded_v4(check, srv, tmp):
    """Issue 18 item 5: the IPv4-mapped spelling of a blocklisted IPv4
    address is blocked too, with or without the default list (which blocks
    ::ffff:0:0/96 as a whole); its unlisted neighbour is reached."""
    bl = os.path.join(tmp, "block-mapped.txt")
    with open(bl, "w") as f:
        f.write("127.52.1.2/32\n")
    for extra in (["--no-default-blocklist"], []):
        srv.seen.clear()
        targets = ["::ffff:127.52.1.2", "[::ffff:127.52.1.2]:%d/smtp" % srv.port, "::ffff:127.52.1.3"]
        rc, recs = scan_list(srv, tmp, "mapped", targets, "--blocklist", bl, *extra)
        label = " ".join(extra) or "default list"
        status = [(r["ip"], r["status"]) for r in recs]
        check(rc == 0 and len(recs) >= 2, "mapped (%s): records for both addresses: %s" % (label, status))
        blocked = [r for r in recs if r["ip"] == "::ffff:127.52.1.2"]
        check(blocked and all(r["status"] == "blocklisted" for r in blocked),
              "mapped (%s): ::ffff:127.52.1.2 is `blocklisted`: %s" % (label, status))
        check("127.52.1.2" not in srv.seen, "mapped (%s): no connection reached 127.52.1.2 (%s)" % (label, srv.seen))
        other = [r for r in recs if r["ip"] == "::ffff:127.52.1.3"]
        if extra:
            check(len(other) == 1 and other[0]["status"] != "blocklisted" and "127.52.1.3" in srv.seen,
                  "mapped (%s): the unlisted ::ffff:127.52.1.3 is probed (%s)" % (label, srv.seen))
        else:
            check(len(other) == 1 and other[0]["status"] == "blocklisted" and not srv.seen,
                  "mapped (%s): the default list blocks every IPv4-mapped address (%s)" % (label, srv.seen))


def main():
    check = looplib.Checks()


    tmp = tempfile.mkdtemp(prefix="mailtls-blocklist-")
    srv = Recorder()
    try:
        embedded_v4(check, srv, tmp)
        bl = os.path.join(tmp, "block.txt")
        with open(bl, "w") as f:
            f.write("# opt-out requests\n127.52.0.0/26   # a whole /26\n127.52.0.200\n")
        blocked = {"127.52.0.%d" % i for i in range(64)} | {"127.52.0.200"}
        srv.seen.clear()
        rc, recs = scan(srv, tmp, "block", "--blocklist", bl)
        by_status = {}
        for r in recs:
            by_status.setdefault(r["status"], set()).add(r["ip"])
        check(rc == 0 and len(recs) == 256 and len({r["ip"] for r in recs}) == 256,
              "blocklist: one record per address (%d)" % len(recs))
        check(by_status.get("blocklisted") == blocked, "blocklist: exactly the listed addresses are `blocklisted`")
        check(not (set(srv.seen) & blocked), "blocklist: no connection reached a blocklisted address (%d seen)"
              % len(set(srv.seen) & blocked))
        check(len(set(srv.seen)) == 256 - len(blocked), "blocklist: every other address was contacted (%d)"
              % len(set(srv.seen)))

        al = os.path.join(tmp, "allow.txt")
        with open(al, "w") as f:
            f.write("127.52.0.128/25\n")
        srv.seen.clear()
        rc, recs = scan(srv, tmp, "allow", "--allowlist", al)
        allowed = {"127.52.0.%d" % i for i in range(128, 256)}
        check(rc == 0 and len(recs) == 256, "allowlist: one record per address")
        check(set(srv.seen) == allowed, "allowlist: connections only inside the allowlist (%d)" % len(set(srv.seen)))
        check({r["ip"] for r in recs if r["status"] == "blocklisted"} == {"127.52.0.%d" % i for i in range(128)},
              "allowlist: everything outside it is `blocklisted`")

        for n in (2, 3, 7):
            parts = [scan(srv, tmp, "shard%d-%d" % (n, i), "--seed", "11", "--shards", str(n), "--shard", str(i))[1]
                     for i in range(n)]
            ips = [r["ip"] for part in parts for r in part]
            check(len(ips) == 256 and len(set(ips)) == 256,
                  "--shards %d: shards are disjoint and their union is the /24 (%d, %d distinct)"
                  % (n, len(ips), len(set(ips))))
    finally:
        srv.stop = True
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
