#!/usr/bin/env python3
"""Measures mailtls-farm on loopback: TLS handshakes per second and the
farm's CPU per session.

usage: tools/farm/bench.py BUILD_DIR [--clients N] [--seconds S] [--threads T]

Starts the farm (profile starttls-auth everywhere, ports picked by the
kernel), then
  1. runs N parallel `openssl s_time -new` clients against the implicit-TLS
     SMTP port of 127.0.0.1 for S seconds, once with TLS 1.3, once with 1.2;
  2. runs 20000 plaintext SMTP sessions (greeting, QUIT) from one Python
     selectors client, 500 at a time, to 127.5.0.0 + i.
For each phase it reports sessions counted by the farm's own stats, wall
time, and farm CPU (utime+stime from /proc) per session. Everything stays
on loopback and every phase is bounded in time.
"""
import argparse
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def last_stats(path):
    lines = [l for l in open(path).read().splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else None


def wait_stats(path, after_uptime, timeout=5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            st = last_stats(path)
        except ValueError:
            st = None
        if st and st["uptime_ms"] > after_uptime and st["active"] == 0:
            return st
        time.sleep(0.2)
    raise SystemExit("no settled stats line within %d s" % timeout)


def plaintext_sessions(port, n, concurrency, budget_s):
    sel = selectors.DefaultSelector()
    started = done = 0
    deadline = time.monotonic() + budget_s

    def start():
        nonlocal started
        a = 0x7F050000 + started
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.%d.%d.%d" % ((a >> 16) & 255, (a >> 8) & 255, a & 255), port))
        sel.register(s, selectors.EVENT_READ, [False])
        started += 1

    while started < min(n, concurrency):
        start()
    while done < n and time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            s, state = key.fileobj, key.data
            try:
                chunk = s.recv(4096)
            except (BlockingIOError, ConnectionError):
                chunk = b""
            if chunk and not state[0]:
                state[0] = True
                s.send(b"QUIT\r\n")
            elif not chunk:
                sel.unregister(s)
                s.close()
                done += 1
                if started < n:
                    start()
    sel.close()
    return done


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    opt = ap.parse_args()
    farm_bin = os.path.join(opt.build, "mailtls-farm")
    with tempfile.TemporaryDirectory() as tmp:
        ready, out = os.path.join(tmp, "ready"), os.path.join(tmp, "out")
        proc = subprocess.Popen(
            [farm_bin, "--profiles", "starttls-auth=1", "--smtp", "0", "--smtps", "0",
             "--imap", "none", "--imaps", "none", "--pop3", "none", "--pop3s", "none",
             "--threads", str(opt.threads), "--stats-interval", "1", "--ready-file", ready],
            stdout=open(out, "w"), stderr=subprocess.DEVNULL)
        try:
            end = time.monotonic() + 10
            while not os.path.exists(ready) and time.monotonic() < end:
                time.sleep(0.05)
            ports = json.load(open(ready))
            prev = {"uptime_ms": 0, "tls_handshakes": 0}
            for label, extra in (("TLS 1.3 implicit", []), ("TLS 1.2 implicit", ["-tls1_2"])):
                c0, t0 = cpu_s(proc.pid), time.monotonic()
                clients = [subprocess.Popen(
                    ["openssl", "s_time", "-connect", "127.0.0.1:%d" % ports["smtps"][0], "-new",
                     "-time", str(opt.seconds), *extra],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for _ in range(opt.clients)]
                for c in clients:
                    c.wait(timeout=opt.seconds + 30)
                wall, cpu = time.monotonic() - t0, cpu_s(proc.pid) - c0
                st = wait_stats(out, prev["uptime_ms"])
                n = st["tls_handshakes"] - prev["tls_handshakes"]
                print("%-18s %6d handshakes in %.1f s = %5.0f/s; farm CPU %.2f s = %.0f us each"
                      " (%.0f%% of one core)" % (label, n, wall, n / wall, cpu, cpu / n * 1e6,
                                                  cpu / wall * 100))
                prev = st
            c0, t0 = cpu_s(proc.pid), time.monotonic()
            n_done = plaintext_sessions(ports["smtp"][0], 20000, 500, 60)
            wall, cpu = time.monotonic() - t0, cpu_s(proc.pid) - c0
            st = wait_stats(out, prev["uptime_ms"])
            key = "smtp/%d" % ports["smtp"][0]
            n = st["ports"][key] - prev.get("ports", {}).get(key, 0)
            print("%-18s %6d sessions   in %.1f s = %5.0f/s; farm CPU %.2f s = %.0f us each"
                  " (client-bound)" % ("plaintext SMTP", n, wall, n / wall, cpu, cpu / n * 1e6))
            assert n_done == n == 20000, (n_done, n)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=15)


if __name__ == "__main__":
    sys.exit(main())
