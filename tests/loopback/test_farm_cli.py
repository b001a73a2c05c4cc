#!/usr/bin/env python3
"""mailtls-farm: command-line checks, plus the Farm helper the other
test_farm_* scripts import.

Run as a test it checks, without opening any socket:
  * --print-profile agrees with --list-profiles for many addresses;
  * the mix is honoured (a single-profile mix gives that profile everywhere,
    weights roughly hold over 20000 addresses, the seed changes the pick);
  * --dump-config output read back with --config gives the same dump;
  * bad values and non-loopback --bind are refused.

Everything here stays on loopback: the farm is started on port 0 (the
kernel picks free ports) and the ready file says which.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
FARM = os.path.join(BUILD, "mailtls-farm")


def farm_cmd(*args, timeout=20):
    """Runs the farm binary in a no-server mode; returns CompletedProcess."""
    return subprocess.run([FARM, *args], capture_output=True, text=True, timeout=timeout)


def profiles_for(base, count, *args):
    """{address: profile} for count addresses from base, as the farm computes them."""
    r = farm_cmd("--list-profiles", str(count), "--base", base, *args)
    assert r.returncode == 0, r.stderr
    out = {}
    for line in r.stdout.splitlines():
        addr, prof = line.split()
        out[addr] = prof
    assert len(out) == count, (len(out), count)
    return out


class Farm:
    """A running mailtls-farm on loopback, stopped (SIGTERM) by stop()."""

    def __init__(self, *args, tmpdir):
        self.ready_path = os.path.join(tmpdir, "farm.ready")
        self.out_path = os.path.join(tmpdir, "farm.stdout")
        self.err_path = os.path.join(tmpdir, "farm.stderr")
        # Interval stats let settle() see when every session has ended.
        argv = [FARM, "--smtp", "0", "--smtps", "0", "--imap", "0", "--imaps", "0",
                "--pop3", "0", "--pop3s", "0", "--stats-interval", "1",
                "--ready-file", self.ready_path, *args]
        self.args = args
        self.proc = subprocess.Popen(argv, stdout=open(self.out_path, "wb"),
                                     stderr=open(self.err_path, "wb"))
        deadline = time.monotonic() + 10
        while not os.path.exists(self.ready_path):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("farm did not get ready: " + open(self.err_path).read())
            time.sleep(0.02)
        with open(self.ready_path) as f:
            self.ready = json.load(f)
        assert self.ready["pid"] == self.proc.pid

    def port(self, kind):
        return self.ready[kind][0]

    def profile(self, addr):
        r = farm_cmd("--print-profile", addr, *self.args)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()

    def settle(self, accepted, timeout=8.0):
        """Waits (bounded) for an interval stats line showing `accepted`
        sessions, all ended, so that stop() counts nothing as open_at_stop."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            lines = open(self.out_path).read().splitlines()
            try:
                st = json.loads(lines[-1]) if lines else {}
            except ValueError:
                st = {}  # a line still being written
            if st.get("accepted") == accepted and st.get("active") == 0:
                return st
            time.sleep(0.1)
        raise AssertionError("farm not settled at %d sessions: %s"
                             % (accepted, open(self.out_path).read()[-600:]))

    def stop(self):
        """SIGTERM, wait, return the final stats line (a dict)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("farm did not stop within 15 s of SIGTERM")
        assert self.proc.returncode == 0, ("farm exit code", self.proc.returncode,
                                           open(self.err_path).read())
        lines = [l for l in open(self.out_path).read().splitlines() if l.strip()]
        assert lines, "no stats line on stdout"
        stats = json.loads(lines[-1])
        assert stats["type"] == "stats" and stats["final"] is True, stats
        assert not os.path.exists(self.ready_path), "ready file left behind"
        return stats

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def stderr_text(self):
        return open(self.err_path).read()


def check_stats_consistent(stats):
    """Invariants of every final stats line."""
    ended = sum(stats["ended"].values())
    assert ended == stats["ended_total"], stats
    assert stats["accepted"] == ended, ("accepted != ended", stats)
    assert stats["active"] == 0, stats
    assert sum(stats["profiles"].values()) == stats["accepted"], stats
    assert sum(stats["ports"].values()) == stats["accepted"], stats


def main():
    assert os.access(FARM, os.X_OK), FARM + " not built"

    # --print-profile and --list-profiles use the same pick.
    mix = ["--profiles", "starttls-auth=5,strict=3,busy=1,tarpit=1", "--seed", "42"]
    listed = profiles_for("127.9.0.250", 40, *mix)  # crosses a /24 boundary
    assert "127.9.1.0" in listed
    for addr in list(listed)[::5]:
        r = farm_cmd("--print-profile", addr, *mix)
        assert r.returncode == 0 and r.stdout.strip() == listed[addr], (addr, r.stdout)
    assert set(listed.values()) <= {"starttls-auth", "strict", "busy", "tarpit"}

    # A single-profile mix gives every address that profile.
    only = profiles_for("127.5.0.0", 300, "--profiles", "garbage=1")
    assert set(only.values()) == {"garbage"}, set(only.values())

    # Weights hold roughly over 20000 addresses (expected 12500 / 5000 / 2500).
    many = profiles_for("127.6.0.0", 20000, "--profiles", "strict=5,no-tls=2,delay=1")
    counts = {p: list(many.values()).count(p) for p in ("strict", "no-tls", "delay")}
    assert 11900 < counts["strict"] < 13100, counts
    assert 4600 < counts["no-tls"] < 5400, counts
    assert 2200 < counts["delay"] < 2800, counts

    # The seed changes the assignment.
    a = profiles_for("127.7.0.0", 200, "--seed", "1")
    b = profiles_for("127.7.0.0", 200, "--seed", "2")
    assert a != b

    # --dump-config round-trips through --config.
    with tempfile.TemporaryDirectory() as tmp:
        d1 = farm_cmd("--dump-config", "--seed", "9", "--smtp", "2600,2601", "--imap", "none",
                      "--profiles", "strict=1,busy=2")
        assert d1.returncode == 0, d1.stderr
        assert "smtp = 2600,2601" in d1.stdout and "imap = none" in d1.stdout, d1.stdout
        path = os.path.join(tmp, "farm.conf")
        with open(path, "w") as f:
            f.write(d1.stdout)
        d2 = farm_cmd("--config", path, "--dump-config")
        assert d2.returncode == 0, d2.stderr
        assert d1.stdout == d2.stdout, (d1.stdout, d2.stdout)

    # Refusals: unknown profile, zero weights, bad numbers, a port twice;
    # and a non-loopback bind.
    for bad in (["--profiles", "nonsense=1"], ["--profiles", "strict=0"],
                ["--seed", "x"], ["--smtp", "70000"], ["--threads", "0"],
                ["--smtp", "2600", "--imap", "2600"]):
        r = farm_cmd("--print-profile", "127.0.0.1", *bad)
        assert r.returncode == 2, (bad, r.returncode, r.stderr)
    for bind in ("192.0.2.1", "::", "10.0.0.1"):
        # Would need the network: must be refused before listening.
        r = farm_cmd("--bind", bind, "--smtp", "0", "--smtps", "none", "--imap", "none",
                     "--imaps", "none", "--pop3", "none", "--pop3s", "none", timeout=10)
        assert r.returncode != 0 and "only 0.0.0.0, 127.0.0.0/8 or ::1" in r.stderr, (bind, r)
    print("test_farm_cli: ok")


if __name__ == "__main__":
    main()
