#!/usr/bin/env python3
"""mailtls-farm: every profile behaves as documented, and the stats agree.

Starts the farm on loopback (ports chosen by the kernel), asks it which
profile some 127.2.x.y addresses get (--list-profiles, never a copy of the
hash), talks to one address per profile with plain sockets and
`openssl s_client`, stops the farm with SIGTERM and checks that the final
stats line counts exactly the sessions, handshakes and outcomes this test
caused. Every wait is bounded; the farm is killed in `finally`.
"""
import collections
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_farm_cli import FARM, Farm, check_stats_consistent, profiles_for  # noqa: E402

SEED = "7"
MIX = ("starttls-auth=30,strict=20,implicit-only=8,no-tls=8,legacy-tls=8,delay=6,tarpit=5,"
       "busy=5,garbage=5,reset-tls=5")
DELAY_MS = 400
GARBAGE_BYTES = 3000
ARGS = ["--seed", SEED, "--profiles", MIX, "--delay-ms", str(DELAY_MS), "--idle-ms", "8000",
        "--garbage-bytes", str(GARBAGE_BYTES),]


class Expect:
    """What the farm's stats must say at the end."""

    def __init__(self):
        self.accepted = 0
        self.profiles = collections.Counter()
        self.ports = collections.Counter()
        self.ended = collections.Counter()
        self.handshakes = 0
        self.legacy_handshakes = 0
        self.starttls = 0
        self.creds_plain = 0

    def session(self, profile, kind, end):
        self.accepted += 1
        self.profiles[profile] += 1
        self.ports[kind] += 1
        self.ended[end] += 1


EXP = Expect()


def recv_until(sock, done, timeout=3.0):
    """Reads until done(data) is true, EOF, or timeout; returns the bytes."""
    data = b""
    end = time.monotonic() + timeout
    while not done(data):
        left = end - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    return data


def line_done(data):
    return data.endswith(b"\n")


def smtp_done(data):
    """A complete SMTP reply: last line has a space after the code."""
    lines = data.split(b"\r\n")
    return len(lines) >= 2 and len(lines[-2]) >= 4 and lines[-2][3:4] == b" "


class Session:
    def __init__(self, farm, addr, kind, profile, end):
        EXP.session(profile, kind, end)
        self.sock = socket.create_connection((addr, farm.port(kind)), timeout=3)

    def cmd(self, line, done=line_done, timeout=3.0):
        self.sock.sendall(line + b"\r\n")
        return recv_until(self.sock, done, timeout)

    def read(self, done=line_done, timeout=3.0):
        return recv_until(self.sock, done, timeout)

    def close(self):
        self.sock.close()


def s_client(farm, addr, kind, profile, end, extra, stdin=b"QUIT\r\n"):
    EXP.session(profile, kind, end)
    argv = ["openssl", "s_client", "-connect", f"{addr}:{farm.port(kind)}", "-brief",
            "-noservername", "-ign_eof", *extra]
    r = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=15)
    return r.stdout.decode("utf-8", "replace")


def pick(table, profile):
    for addr, p in table.items():
        if p == profile:
            return addr
    raise AssertionError("no address with profile " + profile)


def check_starttls_auth(farm, a):
    s = Session(farm, a, "smtp", "starttls-auth", "completed")
    assert s.read().startswith(b"220 h" + a.replace(".", "-").encode() + b".farm.test ESMTP")
    ehlo = s.cmd(b"EHLO client.test", smtp_done)
    assert b"250-STARTTLS\r\n" in ehlo and b"250-AUTH PLAIN LOGIN\r\n" in ehlo, ehlo
    assert ehlo.endswith(b"250 8BITMIME\r\n"), ehlo
    assert s.cmd(b"AUTH PLAIN AHVzZXIAcGFzcw==").startswith(b"535 5.7.8"), "AUTH PLAIN"
    assert s.cmd(b"AUTH LOGIN").startswith(b"334 VXNlcm5hbWU6")
    assert s.cmd(b"dXNlcg==").startswith(b"334 UGFzc3dvcmQ6")
    assert s.cmd(b"cGFzcw==").startswith(b"535 ")
    EXP.creds_plain += 2
    assert s.cmd(b"FROB").startswith(b"502 ")
    assert s.cmd(b"QUIT").startswith(b"221 ")
    assert s.read() == b"", "server must close after QUIT"
    s.close()

    # STARTTLS with TLS 1.3 and the generated ECDSA certificate, EHLO again.
    out = s_client(farm, a, "smtp", "starttls-auth", "completed", ["-starttls", "smtp"],
                   b"EHLO again.test\r\nQUIT\r\n")
    EXP.handshakes += 1
    EXP.starttls += 1
    assert "Protocol version: TLSv1.3" in out, out
    assert "Signature type: ECDSA" in out and "CN = mailtls-farm" in out, out
    after = out.split("CONNECTION ESTABLISHED", 1)[1]
    assert "250-AUTH PLAIN LOGIN" in after and "STARTTLS" not in after, after
    assert "221 2.0.0" in after, after
    out = s_client(farm, a, "smtp", "starttls-auth", "completed", ["-starttls", "smtp", "-tls1_2"])
    EXP.handshakes += 1
    EXP.starttls += 1
    assert "Protocol version: TLSv1.2" in out and "ECDHE-ECDSA" in out, out

    s = Session(farm, a, "imap", "starttls-auth", "completed")
    greet = s.read()
    assert greet.startswith(b"* OK [CAPABILITY IMAP4rev1") and b" STARTTLS AUTH=PLAIN AUTH=LOGIN]" \
        in greet, greet
    assert s.cmd(b"a1 LOGIN user pass") == b"a1 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n"
    EXP.creds_plain += 1
    bye = s.cmd(b"a2 LOGOUT", lambda d: b"a2 OK" in d and d.endswith(b"\n"))
    assert bye.startswith(b"* BYE") and b"a2 OK Logout completed." in bye, bye
    s.close()

    s = Session(farm, a, "pop3", "starttls-auth", "completed")
    assert s.read().startswith(b"+OK")
    capa = s.cmd(b"CAPA", lambda d: d.endswith(b"\r\n.\r\n"))
    for item in (b"\r\nUSER\r\n", b"\r\nSASL PLAIN LOGIN\r\n", b"\r\nSTLS\r\n"):
        assert item in capa, capa
    assert s.cmd(b"USER u") == b"+OK\r\n"
    assert s.cmd(b"PASS p").startswith(b"-ERR [AUTH] Authentication failed")
    EXP.creds_plain += 1
    assert s.cmd(b"QUIT").startswith(b"+OK")
    s.close()

    out = s_client(farm, a, "imaps", "starttls-auth", "completed", [], b"a LOGOUT\r\n")
    EXP.handshakes += 1
    assert "TLSv1.3" in out and "* OK [CAPABILITY IMAP4rev1 SASL-IR ID AUTH=PLAIN" in out, out
    assert "a OK Logout completed." in out, out
    out = s_client(farm, a, "pop3", "starttls-auth", "completed", ["-starttls", "pop3"])
    EXP.handshakes += 1
    EXP.starttls += 1
    assert "TLSv1.3" in out and "+OK Logging out." in out, out


def check_pipelining(farm, a):
    """Commands pipelined and split at odd places, one byte at a time at the end."""
    s = Session(farm, a, "smtp", "starttls-auth", "completed")
    s.read()
    s.sock.sendall(b"EHLO x\r\nNOOP\r\nRS")
    time.sleep(0.05)
    s.sock.sendall(b"ET\r\nQU")
    for b in b"IT\r\n":
        time.sleep(0.01)
        s.sock.sendall(bytes([b]))
    data = recv_until(s.sock, lambda d: b"221 " in d and d.endswith(b"\n"))
    assert data.count(b"250 2.0.0 Ok\r\n") == 2 and data.endswith(b"221 2.0.0 Bye\r\n"), data
    s.close()

    # An over-long line ends the session with an error.
    s = Session(farm, a, "smtp", "starttls-auth", "error")
    s.read()
    s.sock.sendall(b"A" * 1500)
    data = recv_until(s.sock, lambda d: False, timeout=3)
    assert data == b"500 5.5.0 Line too long\r\n", data
    s.close()

    # Plaintext pipelined after STARTTLS is dropped, never executed.
    s = Session(farm, a, "smtp", "starttls-auth", "tls_failed")
    s.read()
    data = s.cmd(b"EHLO x\r\nSTARTTLS\r\nRSET", lambda d: b"220 2.0.0" in d)
    EXP.starttls += 1
    assert data.endswith(b"220 2.0.0 Ready to start TLS\r\n"), data
    assert recv_until(s.sock, lambda d: False, timeout=0.5) == b"", "RSET must not be answered"
    s.close()  # the farm waits for a ClientHello and sees EOF: a failed handshake


def check_strict(farm, a):
    s = Session(farm, a, "smtp", "strict", "completed")
    s.read()
    ehlo = s.cmd(b"EHLO x", smtp_done)
    assert b"250-STARTTLS" in ehlo and b"AUTH" not in ehlo, ehlo
    assert s.cmd(b"AUTH PLAIN AHUAcA==").startswith(b"530 5.7.0 Must issue a STARTTLS command")
    assert s.cmd(b"MAIL FROM:<a@b.test>").startswith(b"530 5.7.0")
    assert s.cmd(b"QUIT").startswith(b"221")
    s.close()
    s = Session(farm, a, "imap", "strict", "completed")
    greet = s.read()
    assert b"STARTTLS LOGINDISABLED]" in greet and b"AUTH=" not in greet, greet
    assert s.cmd(b"x LOGIN u p").startswith(b"x NO [PRIVACYREQUIRED]")
    assert s.cmd(b"y AUTHENTICATE PLAIN").startswith(b"y NO [PRIVACYREQUIRED]")
    s.cmd(b"z LOGOUT", lambda d: b"z OK" in d)
    s.close()
    s = Session(farm, a, "pop3", "strict", "completed")
    s.read()
    capa = s.cmd(b"CAPA", lambda d: d.endswith(b"\r\n.\r\n"))
    assert b"STLS" in capa and b"USER" not in capa and b"SASL" not in capa, capa
    assert s.cmd(b"USER u") == (b"-ERR [AUTH] Plaintext authentication disallowed on "
                                b"non-secure (SSL/TLS) connections.\r\n")
    s.cmd(b"QUIT")
    s.close()
    out = s_client(farm, a, "smtp", "strict", "completed", ["-starttls", "smtp"],
                   b"EHLO x\r\nQUIT\r\n")
    EXP.handshakes += 1
    EXP.starttls += 1
    assert "250-AUTH PLAIN LOGIN" in out.split("CONNECTION ESTABLISHED", 1)[1], out


def check_legacy(farm, a):
    out = s_client(farm, a, "smtp", "legacy-tls", "completed",
                   ["-starttls", "smtp", "-tls1", "-cipher", "DEFAULT@SECLEVEL=0"])
    EXP.handshakes += 1
    EXP.legacy_handshakes += 1
    EXP.starttls += 1
    assert "Protocol version: TLSv1\n" in out and "221 2.0.0" in out, out
    out = s_client(farm, a, "pop3s", "legacy-tls", "completed",
                   ["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
    EXP.handshakes += 1
    EXP.legacy_handshakes += 1
    assert "Protocol version: TLSv1.1\n" in out and "+OK Logging out." in out, out
    out = s_client(farm, a, "smtps", "legacy-tls", "tls_failed", ["-tls1_2"])
    assert "CONNECTION ESTABLISHED" not in out, out


def check_busy(farm, a):
    for kind, want in (("smtp", b"421 4.7.0 "), ("imap", b"* BYE Too busy"),
                       ("pop3", b"-ERR [SYS/TEMP] Too busy")):
        s = Session(farm, a, kind, "busy", "server_closed")
        data = recv_until(s.sock, lambda d: False, timeout=3)  # until the farm closes
        assert data.startswith(want) and data.count(b"\n") == 1, (kind, data)
        s.close()
    out = s_client(farm, a, "imaps", "busy", "server_closed", [], b"")
    EXP.handshakes += 1
    assert "* BYE Too busy" in out, out


def check_tarpit(farm, a):
    s = Session(farm, a, "smtp", "tarpit", "client_closed")
    t0 = time.monotonic()
    s.sock.sendall(b"EHLO x\r\n")
    data = recv_until(s.sock, lambda d: bool(d), timeout=1.0)
    assert data == b"" and time.monotonic() - t0 >= 0.9, data
    s.close()


def check_garbage(farm, a):
    s = Session(farm, a, "smtp", "garbage", "client_closed")
    data = recv_until(s.sock, lambda d: len(d) >= 37 + GARBAGE_BYTES, timeout=3)
    assert len(data) == 37 + GARBAGE_BYTES, len(data)
    assert b"\x00" in data[:4], data[:16]
    try:
        data.decode("utf-8")
        raise AssertionError("garbage must not be valid UTF-8")
    except UnicodeDecodeError:
        pass
    tail = data[-GARBAGE_BYTES:]
    assert b"\n" not in tail and b"\r" not in tail, "the long line has no CRLF"
    # It stays open, saying nothing more.
    assert recv_until(s.sock, lambda d: bool(d), timeout=0.3) == b""
    s.close()


def check_delay(farm, a):
    t0 = time.monotonic()
    s = Session(farm, a, "smtp", "delay", "completed")
    greet = s.read(timeout=5)
    took = time.monotonic() - t0
    assert greet.startswith(b"220 ") and DELAY_MS / 1000 * 0.9 <= took < 3, (greet, took)
    assert b"AUTH PLAIN LOGIN" in s.cmd(b"EHLO x", smtp_done)
    s.cmd(b"QUIT")
    s.close()
    # A client that gives up during the delay is counted as leaving.
    s = Session(farm, a, "pop3", "delay", "client_closed")
    s.close()


def check_reset_tls(farm, a):
    s = Session(farm, a, "smtp", "reset-tls", "server_closed")
    s.read()
    assert b"250-STARTTLS" in s.cmd(b"EHLO x", smtp_done)
    assert s.cmd(b"STARTTLS").startswith(b"220 2.0.0")
    EXP.starttls += 1
    s.sock.sendall(b"\x16\x03\x01\x00\x2f" + b"\x01" * 47)  # looks like a ClientHello
    try:
        data = recv_until(s.sock, lambda d: False, timeout=3)
        raise AssertionError("expected a reset, got %r" % data)
    except ConnectionResetError:
        pass
    s.close()
    out = s_client(farm, a, "smtps", "reset-tls", "server_closed", [])
    assert "CONNECTION ESTABLISHED" not in out and "errno=104" in out, out


def check_no_tls(farm, a):
    s = Session(farm, a, "smtp", "no-tls", "completed")
    s.read()
    ehlo = s.cmd(b"EHLO x", smtp_done)
    assert b"STARTTLS" not in ehlo and b"250-AUTH PLAIN LOGIN" in ehlo, ehlo
    assert s.cmd(b"STARTTLS").startswith(b"502 ")
    s.cmd(b"QUIT")
    s.close()
    s = Session(farm, a, "pop3s", "no-tls", "server_closed")
    t0 = time.monotonic()
    assert recv_until(s.sock, lambda d: False, timeout=2) == b""
    assert time.monotonic() - t0 < 1.0, "implicit port must close at once"
    s.close()


def check_implicit_only(farm, a):
    s = Session(farm, a, "smtp", "implicit-only", "completed")
    s.read()
    ehlo = s.cmd(b"EHLO x", smtp_done)
    assert b"STARTTLS" not in ehlo and b"AUTH" not in ehlo, ehlo
    assert s.cmd(b"AUTH PLAIN AHUAcA==").startswith(b"503 5.5.1")
    s.cmd(b"QUIT")
    s.close()
    s = Session(farm, a, "imap", "implicit-only", "completed")
    greet = s.read()
    assert b"STARTTLS" not in greet and b"LOGINDISABLED" in greet, greet
    assert s.cmd(b"t STARTTLS").startswith(b"t BAD")
    s.cmd(b"u LOGOUT", lambda d: b"u OK" in d)
    s.close()
    out = s_client(farm, a, "smtps", "implicit-only", "completed", [], b"EHLO x\r\nQUIT\r\n")
    EXP.handshakes += 1
    assert "TLSv1.3" in out and "250-AUTH PLAIN LOGIN" in out and "221 2.0.0" in out, out


def main():
    table = profiles_for("127.2.0.0", 512, "--seed", SEED, "--profiles", MIX)
    addrs = {p: pick(table, p) for p in set(table.values())}
    assert len(addrs) == 10, addrs
    with tempfile.TemporaryDirectory() as tmp:
        farm = Farm(*ARGS, tmpdir=tmp)
        try:
            for p, a in addrs.items():
                assert farm.profile(a) == p
            check_tarpit(farm, addrs["tarpit"])
            check_garbage(farm, addrs["garbage"])
            check_delay(farm, addrs["delay"])
            check_starttls_auth(farm, addrs["starttls-auth"])
            check_pipelining(farm, addrs["starttls-auth"])
            check_strict(farm, addrs["strict"])
            check_legacy(farm, addrs["legacy-tls"])
            check_busy(farm, addrs["busy"])
            check_reset_tls(farm, addrs["reset-tls"])
            check_no_tls(farm, addrs["no-tls"])
            check_implicit_only(farm, addrs["implicit-only"])
            farm.settle(EXP.accepted)
            stats = farm.stop()
        finally:
            farm.kill()
    check_stats_consistent(stats)
    got_ports = collections.Counter()
    for key, n in stats["ports"].items():
        got_ports[key.split("/")[0]] += n
    checks = [
        ("accepted", stats["accepted"], EXP.accepted),
        ("profiles", {k: v for k, v in stats["profiles"].items() if v}, dict(EXP.profiles)),
        ("ports", {k: v for k, v in got_ports.items() if v}, dict(EXP.ports)),
        ("ended", {k: v for k, v in stats["ended"].items() if v}, dict(EXP.ended)),
        ("tls_handshakes", stats["tls_handshakes"], EXP.handshakes),
        ("tls_handshakes_legacy", stats["tls_handshakes_legacy"], EXP.legacy_handshakes),
        ("starttls_go_ahead", stats["starttls_go_ahead"], EXP.starttls),
        ("auth_creds_plaintext", stats["auth_creds_plaintext"], EXP.creds_plain),
        ("plaintext_after_starttls_bytes", stats["plaintext_after_starttls_bytes"], 6),
        ("rejected_nonlocal", stats["rejected_nonlocal"], 0),
    ]
    bad = [(name, got, want) for name, got, want in checks if got != want]
    assert not bad, "stats disagree: %r\nfull line: %s" % (bad, json.dumps(stats))
    print("test_farm_basic: ok, %d sessions, %d TLS handshakes" % (EXP.accepted, EXP.handshakes))


if __name__ == "__main__":
    main()
