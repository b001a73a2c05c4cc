"""Shared pieces of the loopback tests: the pass/fail tally every test
prints, and starting mailtls-farm and waiting until it listens."""
import os
import socket
import subprocess
import time


class Checks:
    """check(ok, what) prints one line per check; report() prints the
    closing `N passed, M failed` line and returns the exit status."""

    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def report(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def start_farm(build, tmp, args, name="farm"):
    """Starts mailtls-farm with args (all other services off unless given)
    and returns the process once its ready file is written."""
    ready = os.path.join(tmp, name + "-ready.json")
    off = []
    for svc in ("--smtp", "--smtps", "--imap", "--imaps", "--pop3", "--pop3s"):
        if svc not in args:
            off += [svc, "none"]
    p = subprocess.Popen([os.path.join(build, "mailtls-farm")] + off + args + ["--ready-file", ready],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(ready) and os.path.getsize(ready) > 0:
            return p
        if p.poll() is not None:
            break
        time.sleep(0.05)
    p.kill()
    raise RuntimeError("mailtls-farm did not start: %s" % " ".join(args))


def free_port(addr="127.0.0.1"):
    """A TCP port the kernel says is free on addr now."""
    s = socket.socket()
    s.bind((addr, 0))
    port = s.getsockname()[1]
    s.close()
    return port
