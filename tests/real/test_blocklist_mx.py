#!/usr/bin/env python3
"""--mx: an AAAA answer that spells a blocklisted IPv4 address another way
(issue 18 item 5) is blocklisted, whatever the list options.

unbound (tests/real/dnsfix.py, static `test.` zone, never recursing) serves
mapped.test MX 10 mx.mapped.test with AAAA ::ffff:127.53.0.2 and A
127.53.0.3; the blocklist holds 127.53.0.2/32, the default list is off. A
server bound to 0.0.0.0 logs the destination of every connection (an
IPv4-mapped connect arrives as IPv4): 127.53.0.2 must never be reached, and
the AAAA address must get a `blocklisted` record; 127.53.0.3 is probed."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "loopback"))
import dnsfix  # noqa: E402
import looplib  # noqa: E402

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(HERE, "..", "..", "build"))


class Recorder:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(64)
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
            self.seen.append(conn.getsockname()[0])
            conn.close()


def main():
    check = looplib.Checks()
    work = tempfile.mkdtemp(prefix="mailtls-bl-mx-")
    z = dnsfix.Zone()
    z.host("mx0.hosting.test", "127.10.0.1")  # what the fixture asks to see unbound up
    z.mx("mapped.test", 10, "mx.mapped.test")
    z.host("mx.mapped.test", "::ffff:127.53.0.2", "127.53.0.3")
    fx = dnsfix.Fixture(work, BUILD, z)
    srv = Recorder()
    try:
        fx.start(farm=False)
        bl = os.path.join(work, "block.txt")
        with open(bl, "w") as f:
            f.write("127.53.0.2/32\n")
        out = os.path.join(work, "out.json")
        r = subprocess.run([os.path.join(BUILD, "mailtls-scan"), "-q", "--mx", "--resolver",
                            "127.0.0.1:%d" % fx.dns_port, "-p", "%d/smtp" % srv.port, "--no-default-blocklist",
                            "--blocklist", bl, "--per-subnet", "0", "-o", out, "mapped.test"],
                           capture_output=True, text=True, timeout=120)
        recs = [json.loads(line) for line in open(out) if line.strip()]
        got = sorted(((x["ip"] or "", x["status"]) for x in recs))
        check(r.returncode == 0, "scan exit 0 (%d: %s)" % (r.returncode, r.stderr.strip()[:200]))
        check(("::ffff:127.53.0.2", "blocklisted") in got, "the AAAA ::ffff:127.53.0.2 is `blocklisted`: %s" % got)
        check("127.53.0.2" not in srv.seen, "no connection reached 127.53.0.2 (%s)" % srv.seen)
        check("127.53.0.3" in srv.seen, "the A 127.53.0.3 was probed (%s)" % srv.seen)
    except Exception as ex:
        check(False, "test ran to the end: %r" % ex)
    finally:
        srv.stop = True
        fx.stop()
        shutil.rmtree(work, ignore_errors=True)
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
