#!/usr/bin/env python3
"""The per-probe memory ceiling holds against hostile certificate chains
(issue 18 item 2). tools/benchlib/chainsrv.py answers every 127.x address
on one port with raw TLS 1.2 bytes: a ServerHello, a Certificate message,
then silence. 300 probes are in flight at once (-c 300 --rate 0) against:

  big     a 256 KiB certificate message          -> tls-failed, "exceeds 65536 bytes"
  many    20 certificates of 2.9 KB (57 KB)       -> tls-failed, "20 certificates exceeds 16"
  exts    one certificate of 4,000 extensions     -> tls-failed, "exceeds 512"
  sans    one 56 KB certificate of 6,300 SANs     -> accepted, then read-timeout in the handshake
  chain16 16 certificates of 2.9 KB (46 KB)       -> accepted, then read-timeout in the handshake

Each record is checked; the peak RSS of mailtls-scan (ru_maxrss from
wait4) must stay under the documented ceiling x in flight + the RSS of a
one-probe run (process, libraries, trust store). Before the caps, a 210 KB
chain cost 1.1 MiB per probe. Under AddressSanitizer RSS means nothing
(shadow memory, quarantine): the records are checked, RSS is not."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter

import looplib

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(HERE, "../../build"))
SRC = os.environ.get("MAILTLS_SRC", os.path.join(HERE, "../.."))
SCAN = os.path.join(BUILD, "mailtls-scan")
CHAINSRV = os.path.join(SRC, "tools", "benchlib", "chainsrv.py")
CEILING_KIB = 768  # README "Resources": the per-probe memory ceiling
N = 300
check = looplib.Checks()


def sanitized():
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            return any(line.startswith("MAILTLS_SANITIZE:BOOL=ON") for line in f)
    except OSError:
        return False


def free_port():
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cert_der(tmp, name, ext_lines):
    cnf = os.path.join(tmp, name + ".cnf")
    with open(cnf, "w") as f:
        f.write("[req]\ndistinguished_name=dn\nx509_extensions=ext\nprompt=no\n[dn]\nCN=%s\n[ext]\n%s\n"
                % (name, "\n".join(ext_lines)))
    pem, der = os.path.join(tmp, name + ".pem"), os.path.join(tmp, name + ".der")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", os.path.join(tmp, name + ".key"), "-out", pem, "-days", "2", "-config", cnf],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-in", pem, "-outform", "DER", "-out", der], check=True, capture_output=True)
    return der


def serve(tmp, der, body):
    port = free_port()
    ready = os.path.join(tmp, "ready-%d" % port)
    p = subprocess.Popen([sys.executable, CHAINSRV, "--port", str(port), "--der", der, "--body-bytes", str(body),
                          "--ready-file", ready, "--max-s", "120"])
    for _ in range(100):
        if os.path.exists(ready):
            return p, port
        time.sleep(0.05)
    p.kill()
    raise RuntimeError("chainsrv.py did not start")


def scan(tmp, port, n, net):
    out = os.path.join(tmp, "out-%d-%d.json" % (port, n))
    targets = ["127.%d.%d.%d:%d/smtps" % (net, i // 250, i % 250 + 1, port) for i in range(n)]
    p = subprocess.Popen([SCAN, "-q", "--threads", "1", "-c", str(n), "--rate", "0", "--per-subnet", "0",
                          "--read-timeout", "10", "-o", out, "-i", "-"], stdin=subprocess.PIPE)
    p.stdin.write(("\n".join(targets) + "\n").encode())
    p.stdin.close()
    deadline = time.monotonic() + 90
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            p.kill()
            raise RuntimeError("mailtls-scan did not finish")
        time.sleep(0.1)
    p.returncode = os.waitstatus_to_exitcode(status)
    with open(out) as f:
        recs = [json.loads(line) for line in f]
    return p.returncode, recs, ru.ru_maxrss


def case(tmp, name, der, body, net, want_status, want_error, base=None):
    srv, port = serve(tmp, der, body)
    try:
        if base is None:
            _, _, base = scan(tmp, port, 1, net)
        rc, recs, peak = scan(tmp, port, N, net)
    finally:
        srv.terminate()
        srv.wait(timeout=10)
    got = Counter((r["status"], r["phase"], r["error"]) for r in recs)
    check(len(recs) == N and len({r["ip"] for r in recs}) == N, "%s: one record per target (%d)" % (name, len(recs)))
    ok = [r for r in recs if r["status"] == want_status and want_error in (r["error"] or "")
          and r["phase"] == "tls-handshake"]
    check(len(ok) == N, "%s: every record is %s in tls-handshake, error %r: %s" % (name, want_status, want_error, dict(got)))
    per = (peak - base) / (N - 1)
    if sanitized():
        print("     %s: peak RSS %.1f MiB (sanitizer build: not checked)" % (name, peak / 1024.0))
        return base
    check(peak <= base + N * CEILING_KIB,
          "%s: peak RSS %.1f MiB = one-probe run %.1f MiB + %.0f KiB per probe (ceiling %d KiB)"
          % (name, peak / 1024.0, base / 1024.0, per, CEILING_KIB))
    return base


def main():
    tmp = tempfile.mkdtemp(prefix="mailtls-tlsmem-")
    small = cert_der(tmp, "small", ["subjectAltName=DNS:chain.test"])
    sans = cert_der(tmp, "sans", ["subjectAltName=" + ",".join("DNS:a%d.x" % i for i in range(6300))])
    mid = cert_der(tmp, "mid", ["subjectAltName=" + ",".join("DNS:b%d.x" % i for i in range(330))])
    exts = cert_der(tmp, "exts", ["1.2.3.%d=DER:05:00" % i for i in range(4000)])
    body = lambda n: 3 + n * (3 + os.path.getsize(mid))  # n whole copies of mid
    # the one-probe run (process, libraries, trust store, one probe) once
    base = case(tmp, "big", small, 256 * 1024, 64, "tls-failed", "certificate message exceeds 65536 bytes")
    case(tmp, "many", mid, body(20), 65, "tls-failed", "chain of 20 certificates exceeds 16", base)
    case(tmp, "exts", exts, 64 * 1024, 66, "tls-failed", "extensions and name entries exceeds 512", base)
    case(tmp, "sans", sans, 64 * 1024, 67, "read-timeout", "TLS handshake not complete in time", base)
    case(tmp, "chain16", mid, body(16), 68, "read-timeout", "TLS handshake not complete in time", base)
    subprocess.run(["rm", "-rf", tmp])
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
