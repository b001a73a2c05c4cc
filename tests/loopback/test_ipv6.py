#!/usr/bin/env python3
"""IPv6 end to end on ::1 (the only IPv6 loopback address): the target forms
[::1]:PORT/PROTO,NAME and ::1 with -p, SNI and the certificate name check
from the given name, the address written back in its text form."""
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scripted  # noqa: E402

import looplib

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")


def serve(sock, ctx, sni_seen):
    sock.settimeout(0.2)
    while True:
        try:
            conn, _ = sock.accept()
        except socket.timeout:
            continue
        except OSError:
            return
        try:
            conn.settimeout(5)
            f = conn.makefile("rb")
            conn.sendall(b"220 v6.test ESMTP\r\n")
            f.readline()  # EHLO
            conn.sendall(b"250-v6.test\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n")
            f.readline()  # STARTTLS
            conn.sendall(b"220 go\r\n")
            tls = ctx.wrap_socket(conn, server_side=True)
            tf = tls.makefile("rb")
            tf.readline()  # EHLO
            tls.sendall(b"250-v6.test\r\n250 AUTH PLAIN LOGIN\r\n")
            tf.readline()  # QUIT
            tls.sendall(b"221 bye\r\n")
            tls.close()
        except (OSError, ssl.SSLError):
            conn.close()


def main():
    check = looplib.Checks()


    tmp = tempfile.mkdtemp(prefix="mailtls-v6-")
    crt, key = scripted.make_cert(tmp, cn="mx.v6.test")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(crt, key)
    sni_seen = []
    ctx.sni_callback = lambda sslobj, name, c: sni_seen.append(name)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.bind(("::1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    threading.Thread(target=serve, args=(sock, ctx, sni_seen), daemon=True).start()
    out = os.path.join(tmp, "v6.json")
    run = subprocess.run([SCAN, "-q", "-o", out, "-p", "%d/smtp" % port, "[::1]:%d/smtp,mx.v6.test" % port,
                          "::1,wrong.v6.test"], capture_output=True, text=True, timeout=60)
    sock.close()
    check(run.returncode == 0, "scan exits 0 (%s)" % run.stderr.strip()[:200])
    recs = {r["host"]: r for r in map(json.loads, open(out))}
    check(sorted(recs) == ["mx.v6.test", "wrong.v6.test"], "one record per target (%s)" % sorted(recs))
    good, wrong = recs.get("mx.v6.test", {}), recs.get("wrong.v6.test", {})
    check(good.get("ip") == "::1" and good.get("port") == port, "address and port written back (%s)" % good.get("ip"))
    check(good.get("status") == "ok" and good.get("starttls_ok") is True, "STARTTLS over IPv6 works")
    check(good.get("auth_before_tls") == ["PLAIN"] and good.get("auth_after_tls") == ["PLAIN", "LOGIN"],
          "capabilities before and after TLS")
    check(good.get("cert_hostname_match") is True, "name from the target line matches the certificate")
    check(wrong.get("cert_hostname_match") is False, "a wrong name does not match")
    check(sorted(sni_seen) == ["mx.v6.test", "wrong.v6.test"], "SNI carries the given names (%s)" % sni_seen)
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
