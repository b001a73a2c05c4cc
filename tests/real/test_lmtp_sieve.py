#!/usr/bin/env python3
"""Real Dovecot LMTP and ManageSieve on loopback: mailtls-scan's lmtp and
sieve rows record what the servers advertise before and after TLS, checked
field by field against the configuration written here, against the bytes
the servers send (read with a plain socket and Python's ssl) and against
`openssl s_client -starttls lmtp|sieve` for the TLS facts.

Two Dovecot instances (protocols = lmtp sieve), a "weak" one (ssl = yes,
plaintext login allowed) and a "strict" one (ssl = required), each on its
own 127.0.N.x address with kernel-chosen free ports, so the test never
collides with test_real_servers.py (10025...) or another worktree. The test
PKI is generated at test time (tests/real/fixtures.py make_pki).
--probe-auth is not part of the ManageSieve probe (see scanner/sieve.c)."""
import json
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
IMPL = "mailtls-test-sieve"


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        self.passed += bool(ok)
        self.failed += not ok


def free_port(ip):
    s = socket.socket()
    s.bind((ip, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pick_block():
    """127.0.N.1 and .2 with nothing listening on them."""
    cands = list(range(160, 200))
    random.shuffle(cands)
    for n in cands:
        ips = ["127.0.%d.1" % n, "127.0.%d.2" % n]
        try:
            ports = {ip: (free_port(ip), free_port(ip)) for ip in ips}
        except OSError:
            continue
        return ips, ports
    raise RuntimeError("no free 127.0.N.x block")


def dovecot_conf(d, name, ip, lmtp, sieve, strict, leaf):
    return "\n".join([
        "instance_name = mailtls-ls-%s-%d" % (name, os.getpid()),
        "base_dir = " + os.path.join(d, "run"),
        "state_dir = " + os.path.join(d, "state"),
        "listen = " + ip,
        "protocols = lmtp sieve",
        "hostname = lmtp-%s.test.example" % name,
        "login_greeting = mailtls-%s ready." % name,
        "managesieve_implementation_string = " + IMPL,
        "log_path = " + os.path.join(d, "dovecot.log"),
        "ssl = " + ("required" if strict else "yes"),
        "ssl_cert = <" + leaf["chain"],
        "ssl_key = <" + leaf["key"],
        "ssl_prefer_server_ciphers = yes",
        "disable_plaintext_auth = " + ("yes" if strict else "no"),
        "auth_mechanisms = plain login",
        "first_valid_uid = 100",
        "mail_location = maildir:~/Maildir",
        "passdb {", "  driver = static", "  args = password=" + fixtures.TEST_PASSWORD, "}",
        "userdb {", "  driver = static", "  args = uid=dovecot gid=dovecot home=%s/home/%%u" % d, "}",
        "service lmtp {", "  inet_listener lmtp {", "    address = " + ip, "    port = %d" % lmtp, "  }", "}",
        "service managesieve-login {", "  inet_listener sieve {", "    address = " + ip,
        "    port = %d" % sieve, "  }", "}", ""])


def read_until(sock, done, limit=65536, timeout=5):
    buf = b""
    sock.settimeout(timeout)
    while not done(buf) and len(buf) < limit:
        chunk = sock.recv(4096)
        if not chunk:
            break
        buf += chunk
    return buf


def sieve_done(buf):
    return re.search(rb"(^|\r\n)(OK|NO|BYE)\b[^\r\n]*\r\n$", buf) is not None


def smtp_done(buf):
    return re.search(rb"(^|\r\n)\d{3} [^\r\n]*\r\n$", buf) is not None


def raw_lmtp(ip, port, ca):
    """(greeting, LHLO lines before TLS, LHLO lines after TLS), as sent."""
    s = socket.create_connection((ip, port), timeout=5)
    greet = read_until(s, smtp_done)
    s.sendall(b"LHLO probe.test\r\n")
    before = read_until(s, smtp_done)
    s.sendall(b"STARTTLS\r\n")
    read_until(s, smtp_done)
    ctx = ssl.create_default_context(cafile=ca)
    t = ctx.wrap_socket(s, server_hostname=fixtures.LEAF_CN)
    t.sendall(b"LHLO probe.test\r\n")
    after = read_until(t, smtp_done)
    t.close()
    ext = lambda b: [l[4:] for l in b.decode().split("\r\n")[1:] if l]  # noqa: E731
    return greet.decode(), ext(before), ext(after)


def raw_sieve(ip, port, ca):
    """(capability lines before TLS, status line, lines after TLS), as sent."""
    s = socket.create_connection((ip, port), timeout=5)
    before = read_until(s, sieve_done).decode().split("\r\n")[:-1]
    if '"STARTTLS"' not in before:
        s.close()
        return before, None
    s.sendall(b"STARTTLS\r\n")
    read_until(s, sieve_done)
    ctx = ssl.create_default_context(cafile=ca)
    t = ctx.wrap_socket(s, server_hostname=fixtures.LEAF_CN)
    after = read_until(t, sieve_done).decode().split("\r\n")[:-1]
    t.close()
    return before, after


def s_client(ip, port, starttls, ca):
    out = subprocess.run(["openssl", "s_client", "-connect", "%s:%d" % (ip, port), "-starttls", starttls,
                          "-servername", fixtures.LEAF_CN, "-CAfile", ca], stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, errors="replace", timeout=20).stdout
    res = {}
    m = re.search(r"^New, (TLSv[0-9.]+), Cipher is (\S+)", out, re.M)
    if m:
        res["version"], res["cipher"] = m.group(1), m.group(2)
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    if m:
        import hashlib
        res["sha256"] = hashlib.sha256(ssl.PEM_cert_to_DER_cert(m.group(0))).hexdigest()
    m = re.search(r"Verify return code: (\d+)", out)
    res["verify"] = int(m.group(1)) if m else None
    return res


def wait_listening(ip, ports, deadline):
    for port in ports:
        while True:
            try:
                socket.create_connection((ip, port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("dovecot not listening on %s:%d" % (ip, port))
                time.sleep(0.1)


def check_tls(check, n, r, ref, pki):
    check(r.get("starttls_offered") is True and r.get("starttls_ok") is True, n + ": STARTTLS offered and ok")
    check(ref.get("version") and r.get("tls_version") == ref["version"] and r.get("tls_cipher") == ref["cipher"],
          n + ": TLS version and cipher as openssl s_client sees them (%s %s / %s)"
          % (r.get("tls_version"), r.get("tls_cipher"), ref))
    check(r.get("cert_sha256") == pki["leaves"]["ecdsa"]["sha256"] == ref.get("sha256"),
          n + ": certificate is the configured one, as s_client sees it")
    check(r.get("cert_trusted") is True and ref.get("verify") == 0 and r.get("cert_hostname_match") is True,
          n + ": chain trusted by the test root (scanner and s_client), name matches")


def main():
    check = Checks()
    tmp = tempfile.mkdtemp(prefix="mailtls-lmtpsieve-")
    os.chmod(tmp, 0o755)
    pki = fixtures.make_pki(os.path.join(tmp, "pki"))
    leaf = pki["leaves"]["ecdsa"]
    ips, ports = pick_block()
    inst = {}
    try:
        for name, ip, strict in (("weak", ips[0], False), ("strict", ips[1], True)):
            d = os.path.join(tmp, name)
            os.makedirs(os.path.join(d, "home"))
            conf = os.path.join(d, "dovecot.conf")
            with open(conf, "w") as f:
                f.write(dovecot_conf(d, name, ip, ports[ip][0], ports[ip][1], strict, leaf))
            rc, out = fixtures.run_daemon(["dovecot", "-c", conf], os.path.join(d, "start.out"))
            if rc != 0:
                raise RuntimeError("dovecot %s did not start: %s" % (name, out))
            inst[name] = dict(ip=ip, lmtp=ports[ip][0], sieve=ports[ip][1], conf=conf, strict=strict)
        deadline = time.monotonic() + 20
        for i in inst.values():
            wait_listening(i["ip"], (i["lmtp"], i["sieve"]), deadline)

        targets = []
        for i in inst.values():
            targets += ["%s:%d/lmtp,%s" % (i["ip"], i["lmtp"], fixtures.LEAF_CN),
                        "%s:%d/sieve,%s" % (i["ip"], i["sieve"], fixtures.LEAF_CN)]
        out = os.path.join(tmp, "out.json")
        run = subprocess.run([SCAN, "-q", "-o", out, "--ca-file", pki["root"], "--timeout", "20"] + targets,
                             capture_output=True, text=True, timeout=90)
        check(run.returncode == 0, "scan exits 0 (%s)" % run.stderr.strip()[:300])
        recs = {(r["ip"], r["protocol"]): r for r in map(json.loads, open(out))}
        check(len(recs) == 4, "one record per server (%d)" % len(recs))

        for name, i in inst.items():
            # ---- LMTP: what LHLO says, before and after TLS
            n = "%s lmtp" % name
            r = recs.get((i["ip"], "lmtp"), {})
            greet, before, after = raw_lmtp(i["ip"], i["lmtp"], pki["root"])
            check(r.get("status") == "ok" and r.get("tls_mode") == "starttls" and r.get("port") == i["lmtp"],
                  n + ": status ok, starttls mode (%s %s)" % (r.get("status"), r.get("error")))
            check(r.get("banner") == greet and ("lmtp-%s.test.example" % name) in greet and
                  ("mailtls-%s ready." % name) in greet,
                  n + ": banner is the greeting, with the configured host name and greeting (%r)" % r.get("banner"))
            check(r.get("caps_before_tls") == before and "STARTTLS" in before,
                  n + ": caps_before_tls are the LHLO extensions as sent (%s)" % before)
            check(r.get("caps_after_tls") == after and "STARTTLS" not in after,
                  n + ": caps_after_tls are the LHLO extensions under TLS (%s)" % after)
            check(r.get("auth_before_tls") == [] and r.get("auth_after_tls") == [] and
                  r.get("plaintext_auth_before_tls") is False, n + ": Dovecot LMTP offers no AUTH")
            check(r.get("starttls_reply") == "220 2.0.0 Begin TLS negotiation now.", n + ": STARTTLS reply")
            check_tls(check, n, r, s_client(i["ip"], i["lmtp"], "lmtp", pki["root"]), pki)

            # ---- ManageSieve: the greeting's capability list, again after TLS
            n = "%s sieve" % name
            r = recs.get((i["ip"], "sieve"), {})
            before, after = raw_sieve(i["ip"], i["sieve"], pki["root"])
            check(r.get("status") == "ok" and r.get("port") == i["sieve"],
                  n + ": status ok (%s %s)" % (r.get("status"), r.get("error")))
            check(r.get("banner") == before[-1] and r.get("banner") == 'OK "mailtls-%s ready."' % name,
                  n + ": banner is the greeting's OK line with the configured greeting (%r)" % r.get("banner"))
            want_before = [l for l in before[:-1]]
            got = r.get("caps_before_tls") or []
            # the scanner cuts list items at its cap (the SIEVE line is long): compare prefixes
            check(len(got) == len(want_before) and all(w.startswith(g) for g, w in zip(got, want_before)),
                  n + ": caps_before_tls are the capability lines as sent (%d lines)" % len(got))
            check('"IMPLEMENTATION" "%s"' % IMPL in got and '"STARTTLS"' in got,
                  n + ": configured implementation string and STARTTLS listed")
            mechs = ["PLAIN", "LOGIN"]
            check(r.get("auth_before_tls") == ([] if i["strict"] else mechs) and
                  r.get("plaintext_auth_before_tls") is (not i["strict"]),
                  n + ": SASL before TLS follows disable_plaintext_auth (%s)" % r.get("auth_before_tls"))
            sasl_before = [l for l in before if l.startswith('"SASL"')]
            check(sasl_before == (['"SASL" ""'] if i["strict"] else ['"SASL" "PLAIN LOGIN"']),
                  n + ": the server's own SASL line agrees (%s)" % sasl_before)
            got_after = r.get("caps_after_tls") or []
            want_after = after[:-1] if after else []
            check(len(got_after) == len(want_after) and all(w.startswith(g) for g, w in zip(got_after, want_after))
                  and '"STARTTLS"' not in got_after,
                  n + ": caps_after_tls are the capabilities re-sent under TLS (%d lines)" % len(got_after))
            check(r.get("auth_after_tls") == mechs, n + ": auth_after_tls is the configured mechanisms")
            check(r.get("starttls_reply") == 'OK "Begin TLS negotiation now."', n + ": STARTTLS reply")
            check(r.get("auth_probe") is None, n + ": no auth probe (not supported for ManageSieve)")
            check_tls(check, n, r, s_client(i["ip"], i["sieve"], "sieve", pki["root"]), pki)
    finally:
        for name, i in inst.items():
            subprocess.run(["doveadm", "-c", i["conf"], "stop"], capture_output=True, timeout=30)
            if check.failed:
                log = os.path.join(os.path.dirname(i["conf"]), "dovecot.log")
                if os.path.exists(log):
                    print("--- %s dovecot.log (tail)\n%s" % (name, open(log).read()[-2000:]))
    shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (check.passed, check.failed))
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
