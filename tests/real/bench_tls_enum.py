#!/usr/bin/env python3
"""Cost of TLS enumeration per target (not a test; numbers in
scanner/TLS-ENUM.md). One enumsrv.py server on 127.0.13.1 with N ports
(TLS 1.2 + 1.3, OpenSSL's default suites at level 0, server order); each
port is one target. Runs mailtls-scan without enumeration, with
--tls-versions and with --ciphers, and nmap ssl-enum-ciphers on the same
ports, each under /usr/bin/time -v; handshakes are counted by the server.

    MAILTLS_BUILD=build-enum tests/real/bench_tls_enum.py [N]
"""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import enumlib  # noqa: E402
import enumsrv  # noqa: E402


def timed(cmd):
    r = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, timeout=1200)
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", r.stderr).group(1))
    sys_ = float(re.search(r"System time \(seconds\): ([\d.]+)", r.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", r.stderr).group(1)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return (user + sys_) * 1000, wall, rss, r.stdout


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    work = tempfile.mkdtemp(prefix="mailtls-enum-bench-")
    pki = enumsrv.make_pki(os.path.join(work, "pki"))
    log = os.path.join(work, "conns.log")
    ports = list(range(14650, 14650 + n))
    cfg = dict(ip="127.0.13.1", ports=ports, mode="implicit", min="TLSv1.2", max="TLSv1.3",
               ciphers="DEFAULT:@SECLEVEL=0", server_order=True,
               certs=[[os.path.join(pki, "ec.pem"), os.path.join(pki, "ec.key")]], log=log)
    srv = enumlib.Servers(work)
    srv.start("bench", cfg)
    time.sleep(0.5)
    targets = ["127.0.13.1:%d/smtps" % p for p in ports]
    base = [enumlib.SCAN, "-q", "--no-default-blocklist", "--ehlo-name", "bench.invalid", "--per-ip", "8"]
    print("%-28s %10s %12s %12s %10s %8s" % ("run", "conns", "conns/target", "CPU ms/tgt", "wall", "maxRSS"))
    try:
        for name, extra in (("mailtls (probe only)", []), ("mailtls --tls-versions", ["--tls-versions"]),
                            ("mailtls --ciphers", ["--ciphers"])):
            before = sum(1 for _ in open(log))
            cpu, wall, rss, out = timed(base + extra + targets)
            time.sleep(0.3)
            conns = sum(1 for _ in open(log)) - before
            print("%-28s %10d %12.1f %12.2f %10s %7dk" % (name, conns, conns / n, cpu / n, wall, rss))
        before = sum(1 for _ in open(log))
        cpu, wall, rss, out = timed(["nmap", "-n", "-Pn", "-sT", "-p", ",".join(map(str, ports)),
                                     "--script", "ssl-enum-ciphers", "--script-args", "ssl-enum-ciphers.skip-ports=false",
                                     "-sV", "--version-light", "127.0.13.1"])
        time.sleep(0.3)
        conns = sum(1 for _ in open(log)) - before
        print("%-28s %10d %12.1f %12.2f %10s %7dk" % ("nmap -sV ssl-enum-ciphers", conns, conns / n, cpu / n, wall, rss))
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
