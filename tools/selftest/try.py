#!/usr/bin/env python3
"""Runs one named client through every case against a running mailtls-selftest
and prints the verdict table.

  tools/selftest/try.py --state DIR --ready FILE --client curl-smtp-ssl
  tools/selftest/try.py --list

For each case (baseline, t1, t2, t3, t4) it arms the case for the address
the server sees (mailtls-selftest arm --session SESSION), runs the client
once with user test-SESSION@selftest.example, then prints the verdict of
that (session, case). The session is NAME-CASE-RUNID so reruns never mix.
"""
import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clients import CLIENTS  # noqa: E402

CASES = ["baseline", "t1", "t2", "t3", "t4"]


def read_ports(ready):
    ports, ip = {}, None
    for line in open(ready):
        kind, addr, port = line.split()
        ports[kind] = int(port)
        ip = addr
    return ip, ports


def client_address(ip, port):
    """The source address the server will see for our connections: the
    kernel's route choice, learnt from a UDP socket's connect (which sends
    nothing, so the server logs no stray connection)."""
    fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.connect((ip, port))
        return s.getsockname()[0]


def verdict(prog, state, session, case):
    out = subprocess.run([prog, "verdict", "--state", state, "--session", session, "--format", "json"],
                         check=True, stdout=subprocess.PIPE).stdout.decode()
    import json
    for line in out.splitlines():
        v = json.loads(line)
        if v["case"] == case:
            return v
    return {"verdict": "SKIPPED", "findings": []}


def run_client(prog, state, ready, name, certfile=None, timeout=20, runid=None, log=None):
    """Runs client `name` through every case; returns {case: verdict object}."""
    ip, ports = read_ports(ready)
    any_port = next(iter(ports.values()))
    caddr = client_address(ip, any_port)
    runid = runid or str(int(time.time() * 1000) % 10**8)
    results = {}
    _, run = CLIENTS[name]
    for case in CASES:
        session = f"{name}-{case}-{runid}"[-32:].lstrip("-")
        subprocess.run([prog, "arm", "--state", state, "--client", caddr, "--case", case,
                        "--session", session, "--ttl", "120"], check=True)
        with tempfile.TemporaryDirectory(prefix="selftest-home-") as home:
            ctx = {"ip": ip, "ports": ports, "user": f"test-{session}@selftest.example",
                   "password": "Pw-" + runid + "-notlogged", "home": home, "timeout": timeout,
                   "certfile": certfile or ""}
            rc, out = run(ctx)
        time.sleep(0.2)  # the server logs the disconnect after the client exits
        v = verdict(prog, state, session, case)
        v["client_rc"] = rc
        v["password"] = ctx["password"]
        results[case] = v
        if log:
            log.write(f"--- {name} {case} rc={rc}\n{out[-2000:]}\n")
    subprocess.run([prog, "arm", "--state", state, "--client", caddr, "--case", "off"], check=True)
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--state", help="the server's --state DIR")
    ap.add_argument("--ready", help="the server's --ready-file")
    ap.add_argument("--client", action="append", help="client name (repeatable), see --list")
    ap.add_argument("--cert", help="the server's certificate, for clients that verify (mutt)")
    ap.add_argument("--prog", default=os.environ.get("MAILTLS_SELFTEST", "mailtls-selftest"))
    ap.add_argument("--list", action="store_true", help="list the client names")
    a = ap.parse_args()
    if a.list or not a.client:
        for n, (d, _) in CLIENTS.items():
            print(f"{n:24} {d}")
        return 0
    print(f"{'client':24} " + " ".join(f"{c:13}" for c in CASES))
    for name in a.client:
        if name not in CLIENTS:
            print(f"unknown client {name} (see --list)", file=sys.stderr)
            return 2
        res = run_client(a.prog, a.state, a.ready, name, certfile=a.cert)
        print(f"{name:24} " + " ".join(f"{res[c]['verdict']:13}" for c in CASES), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
