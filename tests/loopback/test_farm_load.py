#!/usr/bin/env python3
"""mailtls-farm: load smoke test.

2000 plaintext sessions (SMTP, IMAP, POP3 in turn) to 2000 different
addresses 127.3.0.0 + i, 200 at a time, each reading the greeting and
saying QUIT/LOGOUT; then 200 implicit-TLS SMTP sessions to 127.4.0.0 + i
from 8 threads. The farm runs 2 worker threads. Every session must get
the answer its profile (from --list-profiles) dictates, the whole run must
finish within 20 s, and the final stats line must count the same sessions,
outcomes and handshakes.
"""
import collections
import errno
import os
import selectors
import socket
import ssl
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_farm_cli import Farm, check_stats_consistent, profiles_for  # noqa: E402

MIX = "starttls-auth=6,strict=2,implicit-only=1,no-tls=1,busy=1"
ARGS = ["--seed", "11", "--profiles", MIX, "--threads", "2"]
N_PLAIN = 2000
N_TLS = 200
CONCURRENCY = 200
BUDGET_S = 20.0

GREETING = {"smtp": b"220 ", "imap": b"* OK ", "pop3": b"+OK "}
BUSY = {"smtp": b"421 ", "imap": b"* BYE ", "pop3": b"-ERR "}
GOODBYE_CMD = {"smtp": b"QUIT\r\n", "imap": b"q LOGOUT\r\n", "pop3": b"QUIT\r\n"}
GOODBYE = {"smtp": b"221 2.0.0 Bye\r\n", "imap": b"q OK Logout completed.\r\n",
           "pop3": b"+OK Logging out.\r\n"}


class Conn:
    def __init__(self, addr, port, proto, profile):
        self.addr, self.proto, self.profile = addr, proto, profile
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        rc = self.sock.connect_ex((addr, port))
        assert rc in (0, errno.EINPROGRESS), (addr, rc)
        self.data = b""
        self.sent_quit = False
        self.error = None


def run_plain(farm, table, deadline):
    """Returns the list of failures (empty when all sessions behaved)."""
    addrs = list(table)
    protos = ["smtp", "imap", "pop3"]
    sel = selectors.DefaultSelector()
    failures, done, next_i = [], 0, 0
    open_conns = 0

    def start_more():
        nonlocal next_i, open_conns
        while open_conns < CONCURRENCY and next_i < len(addrs):
            addr = addrs[next_i]
            proto = protos[next_i % 3]
            c = Conn(addr, farm.port(proto), proto, table[addr])
            sel.register(c.sock, selectors.EVENT_READ, c)
            next_i += 1
            open_conns += 1

    def finish(c):
        nonlocal done, open_conns
        sel.unregister(c.sock)
        c.sock.close()
        done += 1
        open_conns -= 1
        busy = c.profile == "busy"
        first = c.data.split(b"\n", 1)[0]
        want = BUSY[c.proto] if busy else GREETING[c.proto]
        if not first.startswith(want):
            failures.append((c.addr, c.proto, c.profile, "greeting", c.data[:80]))
        elif not busy and not c.data.endswith(GOODBYE[c.proto]):
            failures.append((c.addr, c.proto, c.profile, "goodbye", c.data[-80:]))

    start_more()
    while done < len(addrs) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            c = key.data
            try:
                chunk = c.sock.recv(65536)
            except ConnectionError as e:
                c.data += ("<%s>" % e).encode()
                finish(c)
                continue
            except BlockingIOError:
                continue
            if not chunk:
                finish(c)
                continue
            c.data += chunk
            if not c.sent_quit and c.profile != "busy" and c.data.endswith(b"\n"):
                c.sent_quit = True
                c.sock.sendall(GOODBYE_CMD[c.proto])
        start_more()
    if done < len(addrs):
        failures.append(("timeout", "%d of %d sessions finished" % (done, len(addrs))))
    sel.close()
    return failures


def run_tls(farm, table, deadline):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    addrs = list(table)
    failures = []
    lock = threading.Lock()
    counter = iter(range(len(addrs)))

    def one(addr, profile):
        raw = socket.create_connection((addr, farm.port("smtps")), timeout=5)
        try:
            if profile == "no-tls":
                try:
                    ctx.wrap_socket(raw).close()
                    return "handshake succeeded on a no-tls host"
                except (ssl.SSLError, ConnectionError, OSError):
                    return None
            with ctx.wrap_socket(raw) as s:
                if s.version() != "TLSv1.3":
                    return "version " + str(s.version())
                data = s.recv(4096)
                if profile == "busy":
                    return None if data.startswith(b"421 ") else "busy: %r" % data
                if not data.startswith(b"220 "):
                    return "greeting %r" % data
                s.sendall(b"QUIT\r\n")
                data = s.recv(4096)
                return None if data.startswith(b"221 ") else "quit: %r" % data
        finally:
            raw.close()

    def worker():
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            addr = addrs[i]
            try:
                err = one(addr, table[addr])
            except Exception as e:  # noqa: BLE001 - every failure is reported
                err = repr(e)
            if err:
                with lock:
                    failures.append((addr, table[addr], err))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    if any(t.is_alive() for t in threads):
        failures.append(("timeout", "TLS workers still running"))
    return failures


def main():
    plain = profiles_for("127.3.0.0", N_PLAIN, "--seed", "11", "--profiles", MIX)
    tls = profiles_for("127.4.0.0", N_TLS, "--seed", "11", "--profiles", MIX)
    with tempfile.TemporaryDirectory() as tmp:
        farm = Farm(*ARGS, tmpdir=tmp)
        try:
            t0 = time.monotonic()
            deadline = t0 + BUDGET_S
            failures = run_plain(farm, plain, deadline)
            t_plain = time.monotonic() - t0
            failures += run_tls(farm, tls, deadline)
            t_all = time.monotonic() - t0
            assert not failures, "%d failures, first: %r" % (len(failures), failures[:5])
            farm.settle(N_PLAIN + N_TLS)
            stats = farm.stop()
        finally:
            farm.kill()
    check_stats_consistent(stats)
    pc = collections.Counter(plain.values())
    tc = collections.Counter(tls.values())
    want_profiles = {p: pc[p] + tc[p] for p in set(pc) | set(tc)}
    got_profiles = {p: n for p, n in stats["profiles"].items() if n}
    assert got_profiles == want_profiles, (got_profiles, want_profiles)
    ports = collections.Counter()
    for key, n in stats["ports"].items():
        ports[key.split("/")[0]] += n
    assert ports["smtp"] == 667 and ports["imap"] == 667 and ports["pop3"] == 666, ports
    assert ports["smtps"] == N_TLS, ports
    want_completed = (N_PLAIN - pc["busy"]) + (N_TLS - tc["busy"] - tc["no-tls"])
    want_server_closed = pc["busy"] + tc["busy"] + tc["no-tls"]
    ended = {k: v for k, v in stats["ended"].items() if v}
    assert ended == {"completed": want_completed, "server_closed": want_server_closed}, \
        (ended, want_completed, want_server_closed)
    assert stats["tls_handshakes"] == N_TLS - tc["no-tls"], stats["tls_handshakes"]
    assert stats["rejected_full"] == 0 and stats["rejected_nonlocal"] == 0, stats
    print("test_farm_load: ok, %d plaintext sessions in %.2f s (%.0f/s), %d TLS, total %.2f s"
          % (N_PLAIN, t_plain, N_PLAIN / t_plain, N_TLS, t_all))


if __name__ == "__main__":
    main()
