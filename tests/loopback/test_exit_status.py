#!/usr/bin/env python3
"""What mailtls-scan tells the person or script that ran it: the exit status
(0 complete, 1 fatal I/O, 2 usage, 3 incomplete) with a last stderr line that
says why and, after an interruption, the exact --resume command (which is
then run); a terminal on stdin announced and stopped by Ctrl-C; the line
before a scan of more than a million probes; the status line's in-flight,
queued and ETA numbers. Traffic: loopback only (mailtls-farm, and ports where
nothing listens)."""
import fcntl
import json
import os
import select
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time

import looplib

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
check = looplib.Checks()


def free_port():
    """A TCP port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def farm(tmp, profile, name, extra=()):
    p = looplib.start_farm(BUILD, tmp, ["--smtp", "0", "--profiles", profile] + list(extra), name=name)
    ready = json.load(open(os.path.join(tmp, name + "-ready.json")))
    return p, ready["smtp"][0]


def run(args, timeout=60, **kw):
    return subprocess.run([SCAN] + args, capture_output=True, text=True, timeout=timeout, **kw)


def last_line(err):
    lines = err.strip().splitlines()
    return lines[-1] if lines else ""


def first_line(proc, secs=5.0):
    """The first stderr line of proc, or '' if none came within secs (a
    scan that says nothing must fail the check, not hang the test)."""
    fd = proc.stderr.fileno()
    buf = b""
    deadline = time.time() + secs
    while b"\n" not in buf and time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
        if not ready:
            break
        chunk = os.read(fd, 1)
        if not chunk:
            break
        buf += chunk
    return buf.decode(errors="replace")


def finish(proc, timeout=30):
    """proc's stderr once it exits; killed if it does not within timeout
    (a scan of 127.0.0.0/8 left running would go on for days)."""
    try:
        err = proc.communicate(timeout=timeout)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        err = proc.communicate()[1]
    return err.decode(errors="replace") if isinstance(err, bytes) else err


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def complete(tmp):
    out = os.path.join(tmp, "ok.json")
    r = run(["-p", "%d/smtp" % free_port(), "-o", out, "127.0.0.1", "127.0.0.2"])
    check(r.returncode == 0, "every target recorded (refused): exit 0 (%d, %r)" % (r.returncode, last_line(r.stderr)))
    check("incomplete" not in r.stderr, "exit 0: no 'incomplete' line")
    check(len(records(out)) == 2, "exit 0: two records")


def usage(tmp):
    cases = (
        (["--bogus", "127.0.0.1"], "--bogus"),
        (["-p", "8080", "127.0.0.1"], "8080"),
        (["-i", os.path.join(tmp, "missing.txt")], "missing.txt"),
        (["--blocklist", os.path.join(tmp, "missing-bl.txt"), "127.0.0.1"], "missing-bl.txt"),
        (["-o", os.path.join(tmp, "no-such-dir", "out.json"), "127.0.0.1"], "no-such-dir"),
    )
    for args, needle in cases:
        r = run(args)
        check(r.returncode == 2 and needle in last_line(r.stderr),
              "usage error %s: exit 2, last line names it (%d, %r)" % (needle, r.returncode, last_line(r.stderr)))
    check(not os.path.exists(os.path.join(tmp, "no-such-dir")), "unopenable output: nothing created")


def fatal_io(tmp):
    r = run(["-p", "%d/smtp" % free_port(), "-o", "/dev/full", "127.0.0.1"])
    check(r.returncode == 1 and "/dev/full" in r.stderr,
          "output write fails (/dev/full): exit 1, path named (%d, %r)" % (r.returncode, r.stderr.strip()[-200:]))


def out_of_memory(tmp):
    """Less and less address space (prlimit --as) until the scan cannot
    start: the first run that fails must exit 1 and say why, never 2 and
    never a crash. (ASan reserves terabytes of shadow: skipped there.)"""
    out = os.path.join(tmp, "oom.json")
    for mib in (200, 100, 50, 30, 20):
        r = subprocess.run(["prlimit", "--nofile=4096:4096", "--as=%d" % (mib << 20), SCAN, "-c", "4000",
                            "--threads", "1", "-p", "%d/smtp" % free_port(), "-o", out, "127.0.0.1"],
                           capture_output=True, text=True, timeout=60)
        if "AddressSanitizer" in r.stderr:
            print("skip out of memory: not under ASan")
            return
        if r.returncode != 0:
            check(r.returncode == 1 and "memory" in last_line(r.stderr),
                  "out of memory at %d MiB: exit 1, last line says so (%d, %r)" % (mib, r.returncode,
                                                                                  last_line(r.stderr)))
            return
    check(False, "out of memory: the scan ran even at 20 MiB of address space")


def malformed(tmp):
    out = os.path.join(tmp, "malformed.json")
    path = os.path.join(tmp, "targets.txt")
    with open(path, "w") as f:
        f.write("127.0.0.1\nnot a target!\n127.0.0.2\n")
    r = run(["-p", "%d/smtp" % free_port(), "-o", out, "-i", path])
    last = last_line(r.stderr)
    check(r.returncode == 3, "malformed line skipped: exit 3 (%d)" % r.returncode)
    check("1 malformed input lines skipped" in last and "--resume" not in last,
          "malformed: last line says why, no resume hint (%r)" % last)
    check(len(records(out)) == 2, "malformed: the good lines still scanned")


def unresolved(tmp):
    out = os.path.join(tmp, "names.json")
    r = run(["-p", "%d/smtp,%d/smtp" % (free_port(), free_port()), "-o", out, "127.0.0.1", "mx.example.invalid"])
    last = last_line(r.stderr)
    check(r.returncode == 3, "host name without --resolver: exit 3 (%d)" % r.returncode)
    check("2 records of host names not resolved (no --resolver given)" in last, "names: last line says why (%r)" % last)
    recs = records(out)
    check(len(recs) == 4 and sum(x["status"] == "local-error" for x in recs) == 2, "names: local-error records kept")


def interrupt_and_resume(tmp):
    """A tarpit keeps probes open; SIGINT gives exit 3 and the command to
    continue; that command, run as printed (the farm gone: refused), ends
    the scan with every target recorded once and exit 0."""
    p, port = farm(tmp, "tarpit", "resume")
    out = os.path.join(tmp, "it's a scan.json")  # the quote must survive the shell quoting
    args = [SCAN, "--threads", "1", "-p", "%d/smtp" % port, "--rate", "0", "-c", "20", "--per-subnet", "0",
            "--grace", "0.2", "--ehlo-name", "scan test", "-o", out, "127.23.0.0/26"]
    try:
        scan = subprocess.Popen(args, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        scan.send_signal(signal.SIGINT)
        err = finish(scan)
    finally:
        p.kill()
        p.wait()
    last = last_line(err)
    check(scan.returncode == 3, "SIGINT mid-scan: exit 3 (%d)" % scan.returncode)
    check("interrupted by SIGINT" in last and "continue with: " in last, "SIGINT: last line says why (%r)" % last)
    cmd = last.split("continue with: ", 1)[-1]
    words = shlex.split(cmd)
    check(words == args + ["--resume"], "resume command = the command line + --resume (%r)" % cmd)
    first = records(out)
    check(len(first) == 20 and all(x["status"] == "interrupted" for x in first),
          "SIGINT: probes in flight recorded as interrupted (%d)" % len(first))
    r = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=60)
    recs = records(out)
    check(r.returncode == 0, "resume command run by a shell: exit 0 (%d, %r)" % (r.returncode, last_line(r.stderr)))
    final = {}
    for x in recs:
        final[x["ip"]] = x["status"]
    check(len(final) == 64 and "interrupted" not in final.values(),
          "after resume: all 64 targets have a final record (%d)" % len(final))


def interrupt_stdout(tmp):
    p, port = farm(tmp, "tarpit", "stdout")
    try:
        scan = subprocess.Popen([SCAN, "-p", "%d/smtp" % port, "--rate", "0", "-c", "5", "--grace", "0.2",
                                 "127.24.0.0/28"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.7)
        scan.send_signal(signal.SIGTERM)
        err = finish(scan)
    finally:
        p.kill()
        p.wait()
    last = last_line(err)
    check(scan.returncode == 3 and "interrupted by SIGTERM" in last, "SIGTERM to stdout: exit 3 (%d)" % scan.returncode)
    check("no --resume: the records went to stdout" in last and "continue with" not in last,
          "stdout: says resume is impossible instead of a command (%r)" % last)


def big_range(tmp):
    """127.0.0.0/8 on a port where nothing listens, slowly: the plan line
    comes first; the status line has an ETA although the range is far from
    read; SIGINT stops it with exit 3 and a resume command."""
    out = os.path.join(tmp, "big.json")
    scan = subprocess.Popen([SCAN, "--status", "-p", "%d/smtp" % free_port(), "--rate", "50", "-o", out,
                             "127.0.0.0/8"], stderr=subprocess.PIPE)
    first = first_line(scan)
    time.sleep(2.5)
    scan.send_signal(signal.SIGINT)
    err = finish(scan)
    check("16,777,216 targets x 1 port = 16,777,216 probes, at --rate 50 at least 3.9 days" in first,
          "/8: one line with the count and the time first (%r)" % first)
    check(scan.returncode == 3 and "--resume" in last_line(err), "/8: SIGINT gives exit 3 and the resume hint")
    etas = [x.split("ETA ")[1].split()[0] for x in err.replace("\r", "\n").splitlines() if "ETA " in x]
    check(any(e.endswith("h") and "d" in e for e in etas), "/8: the status line has an ETA in days (%r)" % etas)
    r = run(["-q", "-p", "%d/smtp" % free_port(), "-o", out, "127.0.0.0/30"])
    check("probes" not in r.stderr, "small scan: no plan line")


def terminal(tmp):
    """stdin a terminal (a pty that is the scan's controlling terminal):
    the scan says it reads targets from it; typed lines are scanned while
    it waits; Ctrl-C (the byte \\x03, turned into SIGINT by the terminal)
    ends it at once with exit 3; Ctrl-D ends the input with exit 0."""
    port = free_port()
    for end, want in ((b"\x03", 3), (b"\x04", 0)):
        out = os.path.join(tmp, "tty-%d.json" % want)
        master, slave = os.openpty()

        def own_terminal():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        scan = subprocess.Popen([SCAN, "-p", "%d/smtp" % port, "-o", out], stdin=slave, stderr=subprocess.PIPE,
                                preexec_fn=own_terminal)
        os.close(slave)
        first = first_line(scan)
        check("reading targets from the terminal" in first and "Ctrl-D" in first,
              "terminal: says it reads targets from it (%r)" % first)
        os.write(master, b"127.0.0.1\n127.0.0.2\n")
        deadline = time.time() + 10
        while time.time() < deadline and (not os.path.exists(out) or len(open(out).read().splitlines()) < 2):
            time.sleep(0.1)
        check(os.path.exists(out) and len(records(out)) == 2, "terminal: typed targets scanned while waiting for more")
        t0 = time.time()
        os.write(master, end)
        err = finish(scan, 10)
        os.close(master)
        name = "Ctrl-C" if want == 3 else "Ctrl-D"
        check(scan.returncode == want and time.time() - t0 < 5,
              "terminal %s: exit %d in %.1f s (%d)" % (name, want, time.time() - t0, scan.returncode))
        if want == 3:
            check("interrupted by SIGINT" in last_line(err), "terminal Ctrl-C: last line says so (%r)" % last_line(err))


def status_line(tmp):
    """--per-subnet 8 lets only 8 of 64 probes to one /24 be open; the
    status line must show those 8 in flight and the rest queued."""
    p, port = farm(tmp, "delay", "status", ["--delay-ms", "1000"])
    try:
        r = run(["--threads", "1", "--status", "-p", "%d/smtp" % port, "--rate", "0", "-c", "64",
                 "--per-subnet", "8", "-o", os.path.join(tmp, "status.json"), "127.25.0.0/26"], timeout=60)
    finally:
        p.kill()
        p.wait()
    shown = [x for x in r.stderr.replace("\r", "\n").splitlines() if " in flight " in x]
    check(len(shown) >= 3, "status lines printed (%d)" % len(shown))
    ok_open = ok_queued = False
    for x in shown:
        w = x.split()
        n_open = int(w[w.index("flight") + 1])
        n_queued = int(w[w.index("queued") + 1]) if "queued" in w else -1
        ok_open = ok_open or (0 < n_open <= 8)
        if n_open > 8:
            ok_open = False
            break
        ok_queued = ok_queued or n_queued > 8
    check(ok_open, "in flight counts open connections only, never above --per-subnet 8 (%r)" % shown[:3])
    check(ok_queued, "queued jobs shown as their own number (%r)" % shown[:3])
    check(r.returncode == 0, "status scan: exit 0")


def main():
    tmp = tempfile.mkdtemp(prefix="mailtls-exit-")
    complete(tmp)
    usage(tmp)
    fatal_io(tmp)
    out_of_memory(tmp)
    malformed(tmp)
    unresolved(tmp)
    interrupt_and_resume(tmp)
    interrupt_stdout(tmp)
    big_range(tmp)
    terminal(tmp)
    status_line(tmp)
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
