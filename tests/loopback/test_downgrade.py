#!/usr/bin/env python3
"""--downgrade-checks against small servers (tests/loopback/downgrade_srv.py):
STARTTLS command injection per protocol (vulnerable and correct servers),
STARTTLS required, a masked STARTTLS middlebox; and the same servers scanned
without the option (nothing injected, nothing asked, masked still seen).
Servers bind 127.113.0.x (this test's loopback range)."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import downgrade_srv  # noqa: E402
import looplib  # noqa: E402
import scripted  # noqa: E402

ADDR = "127.113.0.1"
AFTER = {"smtp": ["AUTH PLAIN"], "lmtp": ["AUTH PLAIN"], "imap": ["IMAP4rev1", "AUTH=PLAIN"],
         "pop3": ["USER"], "sieve": ['"IMPLEMENTATION" "dg"', '"SASL" "PLAIN"']}

# name, protocol, server options, fields expected with --downgrade-checks
CASES = [
    ("smtp-vulnerable", "smtp", {"vulnerable": True},
     {"starttls_injection": True, "starttls_required": False, "starttls_masked": None}),
    ("smtp-correct-required", "smtp", {"require_tls": True},
     {"starttls_injection": False, "starttls_required": True, "starttls_masked": None}),
    ("smtp-530-auth-not-tls", "smtp", {"mail_reply": "530 5.7.0 Authentication required\r\n"},
     {"starttls_injection": False, "starttls_required": None}),
    ("smtp-masked", "smtp", {"masked": "XXXXXXXA"},
     {"starttls_injection": None, "starttls_required": False, "starttls_masked": "XXXXXXXA",
      "starttls_offered": False}),
    ("lmtp-vulnerable", "lmtp", {"vulnerable": True},
     {"starttls_injection": True, "starttls_required": None}),
    ("lmtp-correct", "lmtp", {}, {"starttls_injection": False, "starttls_required": None}),
    ("imap-vulnerable", "imap", {"vulnerable": True, "require_tls": True},
     {"starttls_injection": True, "starttls_required": True}),
    ("imap-correct", "imap", {}, {"starttls_injection": False, "starttls_required": False}),
    ("imap-masked", "imap", {"masked": "X-STARTTLS"},
     {"starttls_injection": None, "starttls_masked": "X-STARTTLS", "starttls_offered": False}),
    ("pop3-vulnerable", "pop3", {"vulnerable": True},
     {"starttls_injection": True, "starttls_required": False}),
    ("pop3-correct-required", "pop3", {"require_tls": True},
     {"starttls_injection": False, "starttls_required": True}),
    ("sieve-vulnerable", "sieve", {"vulnerable": True}, {"starttls_injection": True}),
    ("sieve-vulnerable-noop-first", "sieve", {"vulnerable": True, "noop_first": True},
     {"starttls_injection": True}),
    ("sieve-correct", "sieve", {}, {"starttls_injection": False, "starttls_required": None}),
]


def scan(build, tmp, servers, extra, name):
    out = os.path.join(tmp, name + ".json")
    targets = ["%s:%d/%s" % (s.addr, s.port, proto) for _, proto, s in servers]
    cmd = [os.path.join(build, "mailtls-scan"), "--read-timeout", "3", "--timeout", "15", "--connect-timeout",
           "2", "--ehlo-name", "scanner.test", "-q", "-o", out] + extra + targets
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    recs = {}
    with open(out) as f:
        for raw in f:
            rec = json.loads(raw)
            recs[rec["port"]] = rec
    return run, recs


def main():
    check = looplib.Checks()
    build = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
    tmp = tempfile.mkdtemp(prefix="mailtls-downgrade-")
    crt, key = scripted.make_cert(tmp)
    ctx = scripted.tls_context(crt, key)

    def start_all():
        return [(n, p, downgrade_srv.DowngradeServer(p, ctx, ADDR, **o).start()) for n, p, o, _ in CASES]

    servers = start_all()
    run, recs = scan(build, tmp, servers, ["--downgrade-checks"], "on")
    check(run.returncode == 0, "scan with --downgrade-checks exits 0 (%d: %s)" % (run.returncode, run.stderr[-300:]))
    for (name, proto, srv), (_, _, opts, want) in zip(servers, CASES):
        rec = recs.get(srv.port)
        if not rec:
            check(False, "%s: a record" % name)
            continue
        check(rec["status"] == "ok", "%s: status ok (%s, %s)" % (name, rec["status"], rec.get("error")))
        for field, value in want.items():
            check(rec.get(field) == value, "%s: %s == %r (got %r)" % (name, field, value, rec.get(field)))
        if "masked" in opts:
            check(not srv.starttls_chunks, "%s: no STARTTLS sent to a server that does not offer it" % name)
            check(srv.sessions == 1, "%s: no injection connection without STARTTLS (%d)" % (name, srv.sessions))
            continue
        check(rec.get("starttls_ok") is True, "%s: TLS came up" % name)
        check(rec.get("caps_after_tls") == AFTER[proto],
              "%s: post-TLS capabilities as without the check (%r)" % (name, rec.get("caps_after_tls")))
        noop = "a NOOP" if proto == "imap" else "NOOP"
        check(srv.sessions == 2, "%s: the probe, then one injection connection (%d)" % (name, srv.sessions))
        chunks = [c.decode("latin-1") for c in srv.starttls_chunks]
        check(len(chunks) == 2 and "NOOP" not in chunks[0],
              "%s: the probe's own STARTTLS goes alone (%r)" % (name, chunks))
        chunk = chunks[-1] if chunks else ""
        check(chunk.endswith("\r\n" + noop + "\r\n") and ("STARTTLS\r\n" in chunk or "STLS\r\n" in chunk),
              "%s: STARTTLS and %s arrived in one read on the injection connection (%r)" % (name, noop, chunk))
        tls_sent = [c for c in srv.cmds if c.startswith("tls:")]
        check(not any("NOOP" in c for c in tls_sent),
              "%s: the injected command never went out inside our TLS session (%r)" % (name, tls_sent))
        buffered = [c for c in srv.cmds if c.startswith("buffered:")]
        check(buffered == (["buffered:" + noop] if opts.get("vulnerable") else []),
              "%s: the server served %r from its pre-TLS buffer" % (name, buffered))
        mails = [c for c in srv.cmds if c.upper().startswith("MAIL")]
        if proto == "smtp":
            check(mails == ["MAIL FROM:<>"], "%s: one MAIL FROM:<> before TLS, on the probe only (%r)" % (name, mails))
            check(not any(c.upper().startswith(("RCPT", "DATA")) for c in srv.cmds),
                  "%s: never RCPT, never DATA" % name)
            check("RSET" in srv.cmds, "%s: RSET after MAIL" % name)
        else:
            check(not mails, "%s: no MAIL command for %s" % (name, proto))
        check(not srv.errors, "%s: server saw no error (%r)" % (name, srv.errors))
    for _, _, s in servers:
        s.close()

    # mailtls-stats counts them per port (each server has a port of its own)
    st = subprocess.run([os.path.join(build, "mailtls-stats"), "--format", "json", os.path.join(tmp, "on.json")],
                        capture_output=True, text=True, timeout=30)
    rows = {r["port"]: r for r in json.loads(st.stdout)["ports"]} if st.returncode == 0 else {}
    for (name, proto, srv), (_, _, opts, want) in zip(servers, CASES):
        row = rows.get(srv.port, {})
        got = (row.get("starttls_injection"), row.get("starttls_required"), row.get("starttls_masked"))
        exp = (int(want.get("starttls_injection") is True), int(want.get("starttls_required") is True),
               int(want.get("starttls_masked") is not None))
        check(got == exp, "%s: mailtls-stats injection/required/masked %r (want %r)" % (name, got, exp))
    total = sum(r.get("starttls_injection", 0) for r in rows.values())
    check(total == sum(1 for c in CASES if c[3].get("starttls_injection")),
          "mailtls-stats: %d injection-vulnerable servers in all" % total)

    # the same servers without the option: nothing injected, nothing asked
    servers = start_all()
    run, recs = scan(build, tmp, servers, [], "off")
    check(run.returncode == 0, "scan without the option exits 0")
    for (name, proto, srv), (_, _, opts, want) in zip(servers, CASES):
        rec = recs.get(srv.port, {})
        check(rec.get("starttls_injection", 0) is None and rec.get("starttls_required", 0) is None,
              "%s: off by default: starttls_injection and starttls_required null" % name)
        check(rec.get("starttls_masked") == want.get("starttls_masked"),
              "%s: starttls_masked computed anyway (%r)" % (name, rec.get("starttls_masked")))
        check(not any("NOOP" in c or c.upper().startswith("MAIL") for c in srv.cmds),
              "%s: no NOOP, no MAIL without the option (%r)" % (name, srv.cmds))
        check(srv.sessions == 1, "%s: one connection without the option (%d)" % (name, srv.sessions))
        if not opts.get("masked"):
            check(rec.get("starttls_ok") is True, "%s: TLS came up" % name)
    for _, _, s in servers:
        s.close()

    # SIGINT while the injection connection waits for a greeting: the scan
    # stops within --grace, opens nothing more, and the record is the probe's
    srv = downgrade_srv.DowngradeServer("smtp", ctx, ADDR, mute_after=1).start()
    out = os.path.join(tmp, "int.json")
    p = subprocess.Popen([os.path.join(build, "mailtls-scan"), "-q", "--downgrade-checks", "--read-timeout", "5",
                          "--grace", "0.3", "-o", out, "%s:%d/smtp" % (srv.addr, srv.port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        if srv.sessions >= 2:
            break
        time.sleep(0.02)
    time.sleep(0.2)
    t0 = time.time()
    p.send_signal(signal.SIGINT)
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
    check(time.time() - t0 < 2, "SIGINT during the injection connection: exit within the grace (%.1f s)" %
          (time.time() - t0))
    rec = json.loads(open(out).readline()) if os.path.exists(out) and os.path.getsize(out) else {}
    check(srv.sessions == 2, "the probe and its injection connection, no third (%d)" % srv.sessions)
    check(rec.get("status") == "ok" and rec.get("starttls_ok") is True and rec.get("error") is None,
          "interrupted injection: the record keeps the probe's own status (%s, %s)" % (rec.get("status"),
                                                                                    rec.get("error")))
    check(rec.get("starttls_injection", 0) is None and rec.get("starttls_required") is False,
          "interrupted injection: starttls_injection null, starttls_required measured (%r)" %
          rec.get("starttls_injection", 0))
    srv.close()
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
