#!/usr/bin/env python3
"""threads.py - mailtls-scan at --threads 1 and 2, the shared lock, and a
multi-core model for 16 and 64 cores.

usage: tools/benchlib/threads.py BUILD_DIR [--hosts N] [--runs R] [-c N]

Starts mailtls-farm (STARTTLS SMTP, profile starttls-auth, 2 threads) on
port 16525 and scans N farm hosts (127.66.0.1 upward, 25 per /24) R times
at --threads 1 and R times at --threads 2, alternating, with
MAILTLS_LOCK_STATS=1 so that the scanner reports how long its one shared
lock (scanner/workers.h) was held and waited for, per callback. Prints
the median of each figure:
  hosts/s, scanner CPU per probe (user+sys, wait4), farm CPU per host;
  the lock's hold time per probe (holder's CPU time, minus what the
  accounting itself costs, and wall time), wait time per probe, and the
  share of lock turns that found it taken;
  the serial fraction (lock hold CPU / scanner CPU per probe);
and the model: per-core rate (1 / scanner CPU per probe) x cores, capped
by 1 / (lock hold CPU per probe), the work only one thread at a time can
do; beside it Amdahl's law with the same serial fraction. The servers are
assumed to run elsewhere (their CPU is not part of the model).

Runs in a private network namespace (re-executes itself under unshare -n
unless tools/bench already did); nothing resolves a name.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from benchlib import common, servers  # noqa: E402
from benchlib.common import BenchError, fmt, table  # noqa: E402

PORT = 16525
NET = 66  # 127.66.0.0/16 upward (tools/bench: farm hosts use 20-65)
CORES = (16, 64)
LOCK_RE = re.compile(r"^mailtls-scan: lock (\S+) (.*)$")


def enter_netns():
    if os.environ.get("MAILTLS_BENCH_NETNS") == "1":
        subprocess.run(["ip", "link", "set", "lo", "up"], check=False)
        try:
            with open("/proc/sys/net/core/somaxconn", "w") as f:
                f.write("65535")
        except OSError:
            pass
        return
    if os.geteuid() == 0 and shutil.which("unshare"):
        env = dict(os.environ, MAILTLS_BENCH_NETNS="1")
        os.execvpe("unshare", ["unshare", "-n", "--", sys.executable, os.path.abspath(__file__)]
                   + sys.argv[1:], env)
    raise SystemExit("threads.py: needs root and unshare (a private network namespace)")


def parse_lock(text):
    """{callback: {calls, contended, hold_ns, hold_cpu_ns, wait_ns, ...}} from stderr."""
    out = {}
    for line in text.splitlines():
        m = LOCK_RE.match(line.strip())
        if m:
            out[m.group(1)] = {k: int(v) for k, v in (kv.split("=") for kv in m.group(2).split())}
    return out


def scan_once(build, tmp, targets, threads, conc, farm):
    out = os.path.join(tmp, "out-%d.json" % threads)
    meta = os.path.join(tmp, "meta-%d.json" % threads)
    err = os.path.join(tmp, "err-%d.txt" % threads)
    cmd = [os.path.join(build, "mailtls-scan"), "-p", "%d/smtp" % PORT, "-c", str(conc), "--rate", "0",
           "--per-subnet", "0", "-i", targets, "-o", out, "--metadata", meta, "-q",
           "--ehlo-name", "bench.example", "--connect-timeout", "30", "--threads", str(threads)]
    env = dict(os.environ, MAILTLS_LOCK_STATS="1")
    f0 = farm.cpu_s()
    t0 = time.monotonic()
    p = common.spawn(cmd, nofile=max(65536, 2 * conc + 4096), stderr=open(err, "w"), env=env)
    rc, ru, timed_out = common.wait_rusage(p, 600)
    wall = time.monotonic() - t0
    farm_cpu = farm.cpu_s() - f0
    text = open(err).read()
    if rc != 0 or timed_out:
        raise BenchError("mailtls-scan --threads %d: exit %s: %s" % (threads, rc, text.strip()[-300:]))
    with open(meta) as f:
        ok = json.load(f).get("status", {}).get("ok", 0)
    lock = parse_lock(text)
    if "all" not in lock:
        raise BenchError("mailtls-scan printed no lock figures (built before MAILTLS_LOCK_STATS?)")
    return dict(threads=threads, wall_s=wall, cpu_s=common.ru_cpu_s(ru), farm_cpu_s=farm_cpu, ok=ok,
                lock=lock, load=os.getloadavg()[0])


def per_probe(r, n):
    a = r["lock"]["all"]
    overhead = a["calls"] * a.get("clock_overhead_ns", 0)
    return dict(rate=r["ok"] / r["wall_s"], cpu_us=r["cpu_s"] * 1e6 / n, farm_us=r["farm_cpu_s"] * 1e6 / n,
                hold_cpu_us=max(0, a["hold_cpu_ns"] - overhead) / 1e3 / n, hold_us=a["hold_ns"] / 1e3 / n,
                wait_us=a["wait_ns"] / 1e3 / n, contended=a["contended"] / max(1, a["calls"]),
                turns=a["calls"] / n,
                emit_cpu_us=r["lock"].get("emit", {}).get("hold_cpu_ns", 0) / 1e3 / n,
                next_cpu_us=r["lock"].get("next_job", {}).get("hold_cpu_ns", 0) / 1e3 / n,
                load=r["load"])


def median_of(rows, key):
    return statistics.median(r[key] for r in rows)


def model(cpu_us, serial_us, cores):
    """(capped linear, Amdahl) hosts/s at `cores`."""
    per_core = 1e6 / cpu_us
    cap = 1e6 / serial_us if serial_us > 0 else float("inf")
    f = serial_us / cpu_us
    amdahl = per_core / (f + (1 - f) / cores)
    return min(per_core * cores, cap), amdahl, cap


def main():
    ap = argparse.ArgumentParser(description="--threads 1/2 and the shared lock (tools/BENCH.md)")
    ap.add_argument("build")
    ap.add_argument("--hosts", type=int, default=20000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("-c", "--concurrency", type=int, default=1000)
    args = ap.parse_args()
    enter_netns()
    tmp = tempfile.mkdtemp(prefix="mtthreads-")
    farm = None
    try:
        targets = os.path.join(tmp, "targets")
        common.write_lines(targets, common.host_list(NET, args.hosts))
        farm = servers.Farm(args.build, tmp, "threads", PORT, "starttls-auth=1", threads=2)
        res = {1: [], 2: []}
        for i in range(args.runs):
            for t in (1, 2):
                r = scan_once(args.build, tmp, targets, t, args.concurrency, farm)
                res[t].append(per_probe(r, args.hosts))
                common.log("threads: run %d --threads %d: %.0f hosts/s, %.0f us CPU/probe, load %.1f"
                           % (i + 1, t, res[t][-1]["rate"], res[t][-1]["cpu_us"], r["load"]))
        report(args, res)
    finally:
        if farm:
            farm.stop()
        common.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def report(args, res):
    med = {t: {k: median_of(rows, k) for k in rows[0]} for t, rows in res.items()}
    rows = []
    for t in (1, 2):
        m = med[t]
        rows.append(["--threads %d" % t, fmt(m["rate"]), fmt(m["cpu_us"]), fmt(m["farm_us"]),
                     "%.2f" % m["hold_cpu_us"], "%.2f / %.2f" % (m["emit_cpu_us"], m["next_cpu_us"]),
                     "%.1f" % m["hold_us"], "%.2f" % m["wait_us"], "%.2f%%" % (100 * m["contended"]),
                     "%.1f" % m["load"]])
    print(table(["scan", "hosts/s", "scanner CPU us/probe", "farm CPU us/host", "lock hold CPU us/probe",
                 "of it emit / next_job", "lock hold wall us/probe", "lock wait us/probe", "turns contended",
                 "load"], rows))
    print("%s hosts, -c %d, median of %d runs each; lock figures from MAILTLS_LOCK_STATS=1 (hold CPU: the "
          "holder's thread CPU time, minus the accounting's own clock reads; wall figures include a "
          "holder's preemption on a busy machine)" % (fmt(args.hosts), args.concurrency, args.runs))
    m = med[2]
    cpu, serial = m["cpu_us"], m["hold_cpu_us"]
    print("serial fraction (--threads 2): %.2f%% (lock hold CPU %.2f us of %.0f us scanner CPU per probe)"
          % (100 * serial / cpu, serial, cpu))
    body = []
    for n in CORES:
        capped, amdahl, cap = model(cpu, serial, n)
        body.append([str(n), fmt(1e6 / cpu * n), fmt(cap), fmt(capped), fmt(amdahl)])
    print(table(["cores", "per-core rate x cores", "lock cap 1/serial", "projected hosts/s (min)",
                 "Amdahl hosts/s"], body))
    print("model: servers elsewhere (farm CPU not counted); one scanner process; the per-core rate is "
          "1 / scanner CPU per probe at --threads 2 (the output thread's CPU included); the feed, the "
          "output formatting of records that is not done ahead, and the status line are the serial part.")
    print("threads model: " + json.dumps(dict(
        per_core=1e6 / cpu, serial_us=serial, serial_fraction=serial / cpu,
        rate_t1=med[1]["rate"], rate_t2=med[2]["rate"], cpu_us_t1=med[1]["cpu_us"], cpu_us_t2=cpu,
        projected={str(n): model(cpu, serial, n)[0] for n in CORES})))


if __name__ == "__main__":
    try:
        main()
    except BenchError as e:
        common.log(str(e))
        sys.exit(2)
