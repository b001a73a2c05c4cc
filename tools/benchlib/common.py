"""Process, CPU and memory helpers for tools/bench.

Every process the bench starts goes through spawn(): it runs in its own
session (so a Ctrl-C on the terminal reaches only the bench, which then
stops everything in order) and is remembered in REGISTRY, which cleanup()
walks: SIGTERM to the process group, a bounded wait, then SIGKILL.
"""
import os
import resource
import signal
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
REGISTRY = []  # Popen objects still to be stopped at exit


def log(msg):
    sys.stderr.write("bench: %s\n" % msg)
    sys.stderr.flush()


class BenchError(Exception):
    pass


# Without CAP_SYS_RESOURCE the hard limit cannot be raised: every process
# the bench starts gets at most this many descriptors.
NOFILE_HARD = resource.getrlimit(resource.RLIMIT_NOFILE)[1]


def nofile_cap(want):
    if NOFILE_HARD == resource.RLIM_INFINITY:
        return want
    return min(want, NOFILE_HARD)


def _limits(nofile):
    def pre():
        if nofile:
            n = nofile_cap(nofile)
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return pre


def spawn(cmd, nofile=None, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
          stderr=subprocess.DEVNULL, cwd=None, env=None):
    p = subprocess.Popen(cmd, stdin=stdin, stdout=stdout, stderr=stderr, cwd=cwd, env=env,
                         start_new_session=True, preexec_fn=_limits(nofile))
    REGISTRY.append(p)
    return p


def stop(p, timeout=5.0, sig=signal.SIGTERM):
    """Stops p and its process group; returns its exit code (or None)."""
    if p.returncode is None:
        for s, wait_s in ((sig, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(p.pid, s)
            except OSError:
                pass
            try:
                p.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
    else:
        # The leader is gone; members of its group may remain (xargs children).
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
    if p in REGISTRY:
        REGISTRY.remove(p)
    return p.returncode


def cleanup():
    for p in list(REGISTRY):
        stop(p, timeout=3.0)


def wait_rusage(p, timeout):
    """Waits for p (at most timeout s, then kills it) with wait4, so the
    rusage of p and its waited-for descendants is known. Returns
    (exit code, rusage, timed_out)."""
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            break
        if time.monotonic() > deadline:
            timed_out = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.02)
    p.returncode = os.waitstatus_to_exitcode(status)
    try:
        os.killpg(p.pid, signal.SIGKILL)  # stragglers of its group, if any
    except OSError:
        pass
    if p in REGISTRY:
        REGISTRY.remove(p)
    return p.returncode, ru, timed_out


def ru_cpu_s(ru):
    return ru.ru_utime + ru.ru_stime


# ------------------------------------------------------------------ /proc

def pid_stat(pid):
    """(ppid, utime+stime s, cutime+cstime s) of pid, or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(rest[1]), (int(rest[11]) + int(rest[12])) / TICK, (int(rest[13]) + int(rest[14])) / TICK


def pid_cpu_s(pid):
    st = pid_stat(pid)
    return st[1] if st else 0.0


def rss_kib(pid):
    try:
        with open("/proc/%d/statm" % pid) as f:
            return int(f.read().split()[1]) * PAGE // 1024
    except (OSError, IndexError, ValueError):
        return 0


def vm_rss_kib(pid):
    """VmRSS from /proc/PID/status (what the brief asks to sample)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return 0


def socket_count(pid):
    n = 0
    try:
        d = "/proc/%d/fd" % pid
        for name in os.listdir(d):
            try:
                if os.readlink(os.path.join(d, name)).startswith("socket:"):
                    n += 1
            except OSError:
                pass
    except OSError:
        pass
    return n


def descendants(root):
    """root and every process below it (one /proc scan)."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = pid_stat(int(name))
        if st:
            children.setdefault(st[0], []).append(int(name))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu_s(root):
    """CPU of root's live tree plus everything root has reaped (cutime):
    a delta of two calls is the CPU the tree used in between, children that
    exited meanwhile included (once their parent reaped them)."""
    total = 0.0
    for i, p in enumerate(descendants(root)):
        st = pid_stat(p)
        if st:
            total += st[1] + st[2]
    return total


def machine_busy_s():
    """Busy CPU seconds of the whole machine since boot (all cores)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v[:8]) - idle) / TICK


class RssSampler:
    """Samples the summed RSS of a process tree every interval_s in a
    thread; .peak_kib is the largest sum seen."""

    def __init__(self, root_pid, interval_s=0.1, tree=True):
        self.root, self.interval, self.tree = root_pid, interval_s, tree
        self.peak_kib = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            pids = descendants(self.root) if self.tree else [self.root]
            self.peak_kib = max(self.peak_kib, sum(rss_kib(p) for p in pids))
            self._stop.wait(self.interval)

    def done(self):
        self._stop.set()
        self._t.join()
        return self.peak_kib


# ------------------------------------------------------------------ misc

def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


HOSTS_PER_24 = 25  # below mailtls's --per-subnet default (32 in flight per /24)


def host_list(first_octet2, n, start=0):
    """n distinct addresses from 127.<first_octet2>.0.1 upward, 25 per /24
    (127.B.C.1-25), into the next /16 when one is full (6,400 per /16)."""
    out = []
    per16 = 256 * HOSTS_PER_24
    for i in range(start, start + n):
        b2 = first_octet2 + i // per16
        j = i % per16
        out.append("127.%d.%d.%d" % (b2, j // HOSTS_PER_24, j % HOSTS_PER_24 + 1))
    return out


def write_lines(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def fmt(v, digits=0, unit=""):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if digits == 0:
        return "{:,.0f}{}".format(v, unit)
    return "{:,.{d}f}{}".format(v, unit, d=digits)


def table(headers, rows, align=None):
    """Plain-text table; first column left-aligned, the others right."""
    cols = len(headers)
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    w = [max(len(r[i]) for r in cells) for i in range(cols)]
    lines = []
    for k, r in enumerate(cells):
        parts = []
        for i, c in enumerate(r):
            left = (align[i] == "l") if align else i == 0
            parts.append(c.ljust(w[i]) if left else c.rjust(w[i]))
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * x for x in w))
    return "\n".join(lines)


def port_free(port, addr="127.0.0.1"):
    import socket
    for a in (addr, "0.0.0.0"):
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if a == "0.0.0.0":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"lo")
            s.bind((a, port))
        except OSError:
            return False
        finally:
            s.close()
    return True
