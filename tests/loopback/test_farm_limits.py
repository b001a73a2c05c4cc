#!/usr/bin/env python3
"""mailtls-farm: limits and set-up options.

  * --max-sessions: connections beyond the cap are closed at once and
    counted as rejected_full, the others are served;
  * --idle-ms closes a quiet session, --max-session-ms ends a tarpit
    (which ignores the idle timeout);
  * --bind 127.0.0.1 answers there and nowhere else in 127/8;
  * --cert/--key serve the given certificate instead of the generated one.
All on loopback, every wait bounded, farms killed in `finally`.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_farm_cli import Farm, check_stats_consistent, profiles_for  # noqa: E402


def closed_after(sock, timeout):
    """Seconds until the peer closed (reading and discarding), or None."""
    t0 = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - t0 < timeout:
        try:
            if sock.recv(4096) == b"":
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except ConnectionResetError:
            return time.monotonic() - t0
    return None


def check_max_sessions(tmp):
    farm = Farm("--profiles", "tarpit=1", "--max-sessions", "3", "--smtps", "none",
                "--imap", "none", "--imaps", "none", "--pop3", "none", "--pop3s", "none",
                tmpdir=tmp)
    socks = []
    try:
        for i in range(5):
            socks.append(socket.create_connection(("127.8.0.%d" % (i + 1), farm.port("smtp")),
                                                  timeout=2))
            time.sleep(0.05)  # keep the order: the first three get the slots
        for i, s in enumerate(socks):
            t = closed_after(s, 0.5)
            assert (t is None) == (i < 3), (i, t)
        for s in socks:
            s.close()
        farm.settle(3)
        stats = farm.stop()
    finally:
        farm.kill()
    check_stats_consistent(stats)
    assert stats["accepted"] == 3 and stats["rejected_full"] == 2, stats
    assert stats["ended"]["client_closed"] == 3, stats


def check_timeouts(tmp):
    args = ("--profiles", "starttls-auth=1,tarpit=1", "--seed", "3", "--idle-ms", "300",
            "--max-session-ms", "900")
    table = profiles_for("127.8.1.0", 64, *args)
    normal = next(a for a, p in table.items() if p == "starttls-auth")
    tarpit = next(a for a, p in table.items() if p == "tarpit")
    farm = Farm(*args, tmpdir=tmp)
    try:
        s = socket.create_connection((normal, farm.port("smtp")), timeout=2)
        assert s.recv(100).startswith(b"220 ")
        t = closed_after(s, 3)
        assert t is not None and 0.2 <= t < 1.0, ("idle timeout", t)
        s.close()
        # Activity postpones the idle timeout.
        s = socket.create_connection((normal, farm.port("pop3")), timeout=2)
        s.recv(100)
        for _ in range(4):
            time.sleep(0.15)
            s.sendall(b"NOOP\r\n")
            assert s.recv(100).startswith(b"-ERR")
        s.sendall(b"QUIT\r\n")
        assert s.recv(100).startswith(b"+OK")
        s.close()
        # The tarpit outlives the idle timeout, then hits max-session.
        s = socket.create_connection((tarpit, farm.port("imaps")), timeout=2)
        s.sendall(b"\x16\x03\x01\x00\x05hello")
        t = closed_after(s, 3)
        assert t is not None and 0.7 <= t < 1.6, ("max-session", t)
        s.close()
        farm.settle(3)
        stats = farm.stop()
    finally:
        farm.kill()
    check_stats_consistent(stats)
    assert stats["ended"]["timeout"] == 2 and stats["ended"]["completed"] == 1, stats


def check_bind_and_cert(tmp):
    cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj",
                    "/CN=fixture.farm.test", "-keyout", key, "-out", cert],
                   check=True, capture_output=True, timeout=30)
    farm = Farm("--bind", "127.0.0.1", "--cert", cert, "--key", key, "--profiles",
                "implicit-only=1", tmpdir=tmp)
    try:
        s = socket.create_connection(("127.0.0.1", farm.port("smtp")), timeout=2)
        assert s.recv(100).startswith(b"220 h127-0-0-1.farm.test")
        s.close()
        try:
            socket.create_connection(("127.0.0.2", farm.port("smtp")), timeout=2).close()
            raise AssertionError("127.0.0.2 must not be served with --bind 127.0.0.1")
        except ConnectionRefusedError:
            pass
        r = subprocess.run(["openssl", "s_client", "-connect",
                            "127.0.0.1:%d" % farm.port("pop3s"), "-brief", "-noservername",
                            "-ign_eof"], input=b"QUIT\r\n", stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=15)
        out = r.stdout.decode("utf-8", "replace")
        assert "CN = fixture.farm.test" in out and "+OK Logging out." in out, out
        stats = farm.stop()
    finally:
        farm.kill()
    check_stats_consistent(stats)
    assert stats["accepted"] == 2 and stats["tls_handshakes"] == 1, stats


def main():
    with tempfile.TemporaryDirectory() as tmp:
        check_max_sessions(tmp)
    with tempfile.TemporaryDirectory() as tmp:
        check_timeouts(tmp)
    with tempfile.TemporaryDirectory() as tmp:
        check_bind_and_cert(tmp)
    print("test_farm_limits: ok")


if __name__ == "__main__":
    main()
