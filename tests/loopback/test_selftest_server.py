#!/usr/bin/env python3
"""mailtls-selftest's own behaviour, driven by raw sockets and Python's
smtplib/imaplib/poplib on 127.117.x.y: implicit-TLS ports closed while a
t* case is armed, two_phase, guided runs, per-session modes, retry_like,
user reports, the
limits (line length, per-address rate and connection cap, idle timeout),
SASL PLAIN/LOGIN and IMAP literals, the mail refusal, SIGTERM, the
password never stored, and the --help/--version format."""
import base64
import json
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("MAILTLS_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tools", "selftest"))
sys.path.insert(0, os.path.join(SRC, "tests", "loopback"))
import harness  # noqa: E402
from looplib import Checks  # noqa: E402

PROG = os.path.join(BUILD, "mailtls-selftest")
PW = "Very-Secret-pw-4711"
check = Checks()


def st(*args):
    return subprocess.run([PROG] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)


def verdicts(state, session):
    out = st("verdict", "--state", state, "--session", session, "--format", "json").stdout.decode()
    return {v["case"]: v for v in map(json.loads, out.splitlines())}


def events(state):
    return [json.loads(x) for x in open(os.path.join(state, "events.jsonl"))]


def ports(ready):
    return {k: (a, int(p)) for k, a, p in (line.split() for line in open(ready))}


class Raw:
    """A line client on a plain socket (TLS on request)."""

    def __init__(self, addr, timeout=5):
        self.s = socket.create_connection(addr, timeout=timeout)
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            d = self.s.recv(4096)
            if not d:
                raise EOFError(self.buf)
            self.buf += d
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln.decode() + "\n"

    def cmd(self, text, until=None):
        self.s.sendall(text.encode() if isinstance(text, str) else text)
        out = self.line()
        while until and not out.splitlines()[-1].startswith(until):
            out += self.line()
        return out

    def closed(self, wait=3):
        self.s.settimeout(wait)
        try:
            return self.s.recv(100) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def client_ip(addr):
    """The source address the server sees (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(addr)
        return s.getsockname()[0]


def test_implicit_and_cases(state, p):
    cip = client_ip(p["smtp"])
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    st("arm", "--state", state, "--client", cip, "--case", "baseline", "--session", "imp-base")
    with socket.create_connection(p["imaps"], timeout=5) as s, ctx.wrap_socket(s) as t:
        check(t.recv(200).startswith(b"* OK"), "baseline: imaps completes TLS and greets")
    st("arm", "--state", state, "--client", cip, "--case", "t2", "--session", "imp-t2")
    for kind in ("smtps", "imaps", "pop3s"):
        with socket.create_connection(p[kind], timeout=5) as s:
            try:
                ctx.wrap_socket(s)
                ok = False
            except (ssl.SSLError, OSError):
                ok = True
        check(ok, f"t2 armed: {kind} closed before any TLS")
    ev = [e for e in events(state) if e["session"] == "imp-t2"]
    check(sum(e["event"] == "disrupt" and e["detail"] == "implicit_tls_closed" for e in ev) == 3,
          "three implicit_tls_closed disrupt events")

    # t3: STARTTLS refused, the connection stays usable
    st("arm", "--state", state, "--client", cip, "--case", "t3", "--session", "t3raw")
    r = Raw(p["smtp"])
    r.line()
    ehlo = r.cmd("EHLO x\r\n", until="250 ")
    check("STARTTLS" in ehlo and "AUTH PLAIN LOGIN" in ehlo, "t3: STARTTLS and AUTH advertised in cleartext")
    check(r.cmd("STARTTLS\r\n").startswith("454"), "t3: STARTTLS refused with 454")
    check(r.cmd("MAIL FROM:<a@b.c>\r\n").startswith("550 5.7.1"), "MAIL FROM refused: no mail accepted")
    check(r.cmd("DATA\r\n").startswith("503"), "DATA refused (no transaction)")
    r.cmd("QUIT\r\n")

    # t1: STARTTLS missing; sent anyway it is unknown
    st("arm", "--state", state, "--client", cip, "--case", "t1", "--session", "t1raw")
    r = Raw(p["imap"])
    r.line()
    caps = r.cmd("a CAPABILITY\r\n", until="a ")
    check("STARTTLS" not in caps and "AUTH=PLAIN" in caps, "t1: IMAP CAPABILITY without STARTTLS")
    check(r.cmd("b STARTTLS\r\n").startswith("b BAD"), "t1: STARTTLS sent anyway is BAD")
    r = Raw(p["pop3"])
    r.line()
    capa = r.cmd("CAPA\r\n", until=".")
    check("STLS" not in capa and "USER" in capa, "t1: POP3 CAPA without STLS")

    # baseline: no AUTH before TLS
    st("arm", "--state", state, "--client", cip, "--case", "baseline", "--session", "b-raw")
    r = Raw(p["imap"])
    r.line()
    caps = r.cmd("a CAPABILITY\r\n", until="a ")
    check("STARTTLS" in caps and "LOGINDISABLED" in caps and "AUTH=" not in caps,
          "baseline: IMAP offers STARTTLS, LOGINDISABLED before TLS")


def smtp_login(addr, user, careless=True):
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    try:
        s = smtplib.SMTP(*addr, local_hostname="client.example", timeout=5)
        s.ehlo()
        if s.has_extn("starttls") or not careless:
            s.starttls(context=ctx)
            s.ehlo()
        s.login(user, PW)
        s.quit()
    except Exception:
        pass


def test_scenarios(state, p):
    cip = client_ip(p["smtp"])
    st("arm", "--state", state, "--client", cip, "--case", "t1", "--scenario", "two_phase", "--session", "two")
    smtp_login(p["smtp"], "test-two@selftest.example")
    smtp_login(p["smtp"], "test-two@selftest.example")
    ev = [e for e in events(state) if e["session"] == "two" and e["event"] == "login"]
    check([(e["phase"], e["tls"]) for e in ev] == [("learn", True), ("attack", False)],
          f"two_phase: first login learn under TLS, second attacked in cleartext ({len(ev)} logins)")
    v = verdicts(state, "two")
    check(v["t1"]["verdict"] == "FAIL" and v["t1"]["scenario"] == "two_phase", "two_phase t1 verdict FAIL")

    st("arm", "--state", state, "--client", cip, "--case", "guided", "--session", "walk")
    for _ in range(6):
        smtp_login(p["smtp"], "test-walk@selftest.example")
    v = verdicts(state, "walk")
    got = [v[c]["verdict"] for c in ("baseline", "t1", "t2", "t3", "t4")]
    check(got == ["PASS", "FAIL", "INCONCLUSIVE", "INCONCLUSIVE", "PASS"],
          f"guided: careless smtplib walks baseline..t4: {got}")
    cases = [e["case"] for e in events(state) if e["session"] == "walk" and e["event"] == "connect"]
    check(cases == ["baseline", "t1", "t2", "t3", "t4", "baseline"], f"guided: Nth connection plays case N: {cases}")

    st("arm", "--state", state, "--client", cip, "--case", "t1", "--session", "retry")
    for _ in range(6):
        r = Raw(p["smtp"])
        r.line()
        r.cmd("EHLO x\r\n", until="250 ")
        r.cmd("QUIT\r\n")
    v = verdicts(state, "retry")["t1"]
    check(v["verdict"] == "INCONCLUSIVE" and "retry_like" in v["findings"], "6 connects, no auth: retry_like")

    # A session's own mode: applies where that session last logged in from.
    st("arm", "--state", state, "--client", cip, "--case", "off")
    smtp_login(p["smtp"], "test-persess@selftest.example")  # serve default: baseline, binds the address
    check(st("arm", "--state", state, "--session", "persess", "--case", "t1").returncode == 0,
          "arm --session S without --client")
    smtp_login(p["smtp"], "test-persess@selftest.example")
    v = verdicts(state, "persess")
    check(v["baseline"]["verdict"] == "PASS" and v["t1"]["verdict"] == "FAIL",
          f"per-session mode: baseline PASS, then t1 FAIL ({v['baseline']['verdict']}, {v['t1']['verdict']})")
    st("arm", "--state", state, "--session", "persess", "--case", "off")

    st("report", "--state", state, "--session", "rep", "--case", "t2", "--prompt")
    st("report", "--state", state, "--session", "rep", "--case", "t3", "--cannot-connect")
    v = verdicts(state, "rep")
    check(v["t2"]["verdict"] == "WARN" and v["t2"]["findings"] == ["user_prompt"], "report --prompt: WARN")
    check(v["t3"]["verdict"] == "NOT_APPLICABLE" and "user_cannot_connect" in v["t3"]["findings"],
          "report --cannot-connect: NOT_APPLICABLE")
    check(v["t1"]["verdict"] == "SKIPPED", "a case never run: SKIPPED")
    check(st("report", "--state", state, "--session", "bad session", "--case", "t1", "--prompt").returncode == 2,
          "report refuses a malformed session id")


def test_auth_forms(state, p):
    cip = client_ip(p["smtp"])
    st("arm", "--state", state, "--client", cip, "--case", "t1", "--session", "forms")
    b = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    r = Raw(p["smtp"])
    r.line()
    r.cmd("EHLO x\r\n", until="250 ")
    check(r.cmd("AUTH LOGIN\r\n").startswith("334 VXNlcm5hbWU6"), "SMTP AUTH LOGIN asks for the user")
    check(r.cmd(b("test-smtplogin@selftest.example") + "\r\n").startswith("334 UGFzc3dvcmQ6"), "then the password")
    check(r.cmd(b(PW) + "\r\n").startswith("235"), "AUTH LOGIN accepted")
    check(r.cmd("AUTH PLAIN\r\n").startswith("334"), "AUTH PLAIN without initial response: 334")
    check(r.cmd(b("\0test-smtpplain@selftest.example\0" + PW) + "\r\n").startswith("235"), "then accepted")
    check(r.cmd("AUTH PLAIN\r\n").startswith("334") and r.cmd("*\r\n").startswith("501"), "AUTH cancelled by *")
    r = Raw(p["imap"])
    r.line()
    u, pw = "test-imaplit@selftest.example", PW
    check(r.cmd(f"a1 LOGIN {{{len(u)}}}\r\n").startswith("+"), "IMAP literal: + for the user literal")
    check(r.cmd(f"{u} {{{len(pw)}}}\r\n").startswith("+"), "IMAP literal: + for the password literal")
    check(r.cmd(pw + "\r\n").startswith("a1 OK"), "IMAP LOGIN with literals accepted")
    check(r.cmd('a2 LOGIN "test-imapq@selftest.example" "p\\"w"\r\n').startswith("a2 OK"), "IMAP quoted LOGIN")
    check(r.cmd("a3 AUTHENTICATE PLAIN " + b("\0test-imapauth@selftest.example\0" + PW) + "\r\n")
          .startswith("a3 OK"), "IMAP AUTHENTICATE PLAIN with initial response")
    r = Raw(p["pop3"])
    r.line()
    r.cmd("USER test-popuser@selftest.example\r\n")
    check(r.cmd(f"PASS {PW}\r\n").startswith("+OK"), "POP3 USER/PASS accepted")
    check(r.cmd("AUTH PLAIN " + b("\0test-popauth@selftest.example\0" + PW) + "\r\n").startswith("+OK"),
          "POP3 AUTH PLAIN accepted")
    time.sleep(0.2)
    logins = {(e["session"], e["mechanism"], e["tls"]) for e in events(state) if e["event"] == "login"}
    want = {("smtplogin", "LOGIN", False), ("smtpplain", "PLAIN", False), ("imaplit", "imap_login", False),
            ("imapq", "imap_login", False), ("imapauth", "PLAIN", False), ("popuser", "USER", False),
            ("popauth", "PLAIN", False)}
    check(want <= logins, f"every login logged with its session and mechanism ({sorted(want - logins)})")


def test_hostile(state, p):
    """Garbage, NULs, drip-fed literals and bytes pipelined after STARTTLS:
    the server keeps answering (the ASan build runs this too)."""
    import random
    cip = client_ip(p["smtp"])
    st("arm", "--state", state, "--client", cip, "--case", "baseline", "--session", "hostile")
    rnd = random.Random(15)
    for kind in ("smtp", "imap", "pop3"):
        r = Raw(p[kind], timeout=3)
        r.line()
        for _ in range(40):
            chunk = bytes(rnd.choice(b"\x00\r\n {}+*\"\\AUTHLOGINPLAIN=0123456789\xff") for _ in range(rnd.randint(1, 300)))
            try:
                r.s.sendall(chunk)
            except OSError:
                break
        r.s.close()
    r = Raw(p["imap"])
    r.line()
    u = "test-drip@selftest.example"
    msg = f"d1 LOGIN {{{len(u)}}}\r\n".encode()
    for i in range(len(msg)):
        r.s.sendall(msg[i:i + 1])
        time.sleep(0.002)
    check(r.line().startswith("+"), "IMAP literal announcement drip-fed one byte at a time: +")
    rest = f"{u} \"{PW}\"\r\n".encode()
    for i in range(len(rest)):
        r.s.sendall(rest[i:i + 1])
    check(r.line().startswith("d1 OK"), "drip-fed IMAP LOGIN completes")
    r = Raw(p["smtp"])
    r.line()
    r.cmd("EHLO x\r\n", until="250 ")
    check(r.cmd("STARTTLS\r\nEHLO pipelined\r\n").startswith("220"), "STARTTLS with a pipelined EHLO: 220")
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    try:
        t = ctx.wrap_socket(r.s)
        t.sendall(b"EHLO after\r\n")
        ok = t.recv(100).startswith(b"250")
    except (ssl.SSLError, OSError):
        ok = False
    check(ok, "the pipelined cleartext was dropped: TLS and EHLO work after it")
    for kind in ("smtp", "imap", "pop3"):
        r = Raw(p[kind])
        check(r.line()[0] in "2*+", f"{kind} still greets after the garbage")


def test_limits(tmp, ip):
    state = os.path.join(tmp, "lim")
    proc, ready = harness.start(PROG, state, ip, ["--ip-rate", "1", "--ip-burst", "6", "--max-conns-per-ip", "2",
                                                  "--idle-timeout", "2", "--t3-drop"], kinds=("smtp", "imap"))
    p = ports(ready)
    try:
        cip = client_ip(p["smtp"])
        st("arm", "--state", state, "--client", cip, "--case", "t3", "--session", "drop")
        r = Raw(p["smtp"])
        r.line()
        r.cmd("EHLO x\r\n", until="250 ")
        r.s.sendall(b"STARTTLS\r\n")
        check(r.closed(), "t3 with --t3-drop: STARTTLS answered by a close")
        st("arm", "--state", state, "--client", cip, "--case", "off")
        r = Raw(p["smtp"])
        r.line()
        r.s.sendall(b"A" * 3000)
        check(r.line().startswith("500 5.5.0 Line too long") and r.closed(), "over-long line: 500, then closed")
        r = Raw(p["imap"])
        r.line()
        check(r.cmd("a LOGIN {999999}\r\n").startswith("* BYE"), "IMAP literal larger than the line cap: BYE")
        a, b2 = Raw(p["smtp"]), Raw(p["smtp"])
        a.line(), b2.line()
        c = Raw(p["smtp"])
        # 5 tokens of 6 used so far: this refusal is the connection cap's, not the rate's.
        check(c.line().startswith("421"), "third open connection from one address: 421 (--max-conns-per-ip 2)")
        t0 = time.time()
        check(a.closed(wait=5) and time.time() - t0 < 4.5, "idle connection closed (--idle-timeout 2)")
        b2.closed(wait=5)
        # The bucket holds at most 6 tokens (the burst) and earns 1 a second:
        # of 12 quick connections at most 6 + elapsed seconds (+1 for the
        # fraction) are accepted, whatever the machine's load.
        refused, t0 = 0, time.time()
        for _ in range(12):
            r = Raw(p["smtp"])
            refused += r.line().startswith("421")
            r.s.close()
        took = time.time() - t0
        check(refused >= 1 and 12 - refused <= 7 + took,
              f"per-address rate 1/s, burst 6: {12 - refused} of 12 accepted in {took:.2f} s")
        idle = [e for e in events(state) if e["event"] == "disconnect" and e["detail"] == "idle_timeout"]
        check(len(idle) >= 1, "idle_timeout logged as the disconnect detail")
    finally:
        rc = harness.stop(proc)
    check(rc == 0, f"SIGTERM: exit status 0 (got {rc})")


def test_help():
    h = st("--help").stdout.decode().splitlines()
    check(h[0].startswith("Usage: mailtls-selftest ") and h[1].startswith("   or:"), "--help: Usage lines")
    check(max(map(len, h)) <= 80 and "Examples:" in h and h[-2] == "Exit status:", "--help: 80 columns, sections")
    check(st("--version").stdout.decode().startswith("mailtls-selftest "), "--version")
    check(st("serve", "--state", "/nonexistent/x/y", "--listen", "smtp:127.0.0.1:0").returncode == 1,
          "unwritable --state: exit 1")
    check(st("serve", "--state", "/tmp", "--listen", "ftp:127.0.0.1:0").returncode == 2, "bad --listen: exit 2")


def main():
    tmp = tempfile.mkdtemp(prefix="selftest-srv-")
    ip = harness.random_ip()
    state = os.path.join(tmp, "main")
    proc, ready = harness.start(PROG, state, ip, ["--ip-rate", "0"])
    try:
        p = ports(ready)
        test_implicit_and_cases(state, p)
        test_scenarios(state, p)
        test_auth_forms(state, p)
        test_hostile(state, p)
    finally:
        check(harness.stop(proc) == 0, "main server stops on SIGTERM with status 0")
    test_limits(tmp, harness.random_ip())
    test_help()
    leaks = []
    for root, _, files in os.walk(tmp):
        for f in files:
            data = open(os.path.join(root, f), "rb").read()
            if PW.encode() in data or base64.b64encode(PW.encode()) in data:
                leaks.append(f)
    check(not leaks, f"the password appears in no file of the state directories {leaks}")
    ev = events(state)
    check(all(e["session"] == "" or e["session"].isascii() for e in ev) and
          not any("selftest.example" in json.dumps(e) for e in ev), "no user name in the event log, only sessions")
    shutil.rmtree(tmp, ignore_errors=True)
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
