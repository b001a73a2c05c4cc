#!/usr/bin/env python3
"""Records that must say exactly what the server said (issue 18, items 4, 6,
10 and 14), against scripted servers on 127.0.0.1.

- carry-over: a STARTTLS go-ahead that carries a trap (an IMAP literal, a
  partial line, an unfinished SMTP multi-line reply, a POP3 multi-line
  start), then a real TLS handshake (python ssl, certificate made now) and
  proper post-TLS capabilities: caps_after_tls/auth_after_tls must be
  exactly those.
- caps: 40 mechanisms, then PLAIN/LOGIN: the verdict sees them, the capped
  list is marked in `truncated`.
- bytes: bare LF line ends are recorded as bare LF; a reply cut by a
  deadline or a close keeps what arrived and is named in `partial`.
- auth probe (--probe-auth): servers that hang up on the fake credential
  (IMAP BYE, POP3 -ERR + close, SMTP 421, SMTP close) or fall silent; the
  record is still ok with TLS facts, and auth_probe is "disconnected" (or
  "no-reply").
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import looplib  # noqa: E402
import scripted  # noqa: E402

EHLO_OK = b"250-scripted.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"
SMTP_TLS_EHLO = b"250-x\r\n250-AUTH PLAIN\r\n250 SIZE 1000\r\n"
SMTP_AFTER_TLS = {"caps_after_tls": ["AUTH PLAIN", "SIZE 1000"], "auth_after_tls": ["PLAIN"]}
IMAP_GREETING = b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n"
IMAP_TLS_CAPS = b"* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN\r\nm2 OK done\r\n"
IMAP_AFTER_TLS = {"caps_after_tls": ["IMAP4rev1", "AUTH=PLAIN", "AUTH=LOGIN"], "auth_after_tls": ["PLAIN", "LOGIN"]}
POP3_CAPA = b"+OK\r\nUSER\r\nSTLS\r\n.\r\n"
POP3_TLS_CAPA = b"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"
POP3_AFTER_TLS = {"caps_after_tls": ["USER", "SASL PLAIN"], "auth_after_tls": ["USER", "PLAIN"]}
TLS_OK = {"status": "ok", "starttls_ok": True, "tls_version": "TLSv1.3"}


def smtp_trap(go_ahead):
    return [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", EHLO_OK), ("expect", b"STARTTLS"),
            ("send", go_ahead), ("tls",), ("expect", b"EHLO"), ("send", SMTP_TLS_EHLO),
            ("expect", b"QUIT"), ("send", b"221 bye\r\n")]


def imap_trap(go_ahead):
    return [("send", IMAP_GREETING), ("expect", b"m1 STARTTLS"), ("send", go_ahead), ("tls",),
            ("expect", b"m2 CAPABILITY"), ("send", IMAP_TLS_CAPS), ("expect", b"m3 LOGOUT"),
            ("send", b"* BYE\r\nm3 OK\r\n")]


def pop3_trap(go_ahead):
    return [("send", b"+OK hi\r\n"), ("expect", b"CAPA"), ("send", POP3_CAPA), ("expect", b"STLS"),
            ("send", go_ahead), ("tls",), ("expect", b"CAPA"), ("send", POP3_TLS_CAPA),
            ("expect", b"QUIT"), ("send", b"+OK\r\n")]


def both(*dicts):
    out = {}
    for d in dicts:
        out.update(d)
    return out


class Names:
    """Expected value: a list that names (at least) these items."""

    def __init__(self, *items):
        self.items = items

    def __eq__(self, got):
        return isinstance(got, list) and all(i in got for i in self.items)

    def __repr__(self):
        return "list naming %s" % (self.items,)


CUT_AUTH = Names("auth_before_tls")
MECHS = b" ".join(b"X-MECH-%02d" % i for i in range(40))

# name, proto, script, expected fields[, later connections' scripts]
CASES = [
    # ---- item 4: nothing parsed before TLS reaches the TLS session
    ("imap-literal-in-starttls-ok", "imap", imap_trap(b"m1 OK Begin TLS now {9}\r\n"),
     both(TLS_OK, IMAP_AFTER_TLS)),
    ("imap-partial-line-after-ok", "imap", imap_trap(b"m1 OK go\r\n* CAPABILITY EVIL AUTH=EVIL"),
     both(TLS_OK, IMAP_AFTER_TLS, {"starttls_extra_bytes": 27})),
    ("imap-literal-line-after-ok", "imap", imap_trap(b"m1 OK go\r\n* X {40}\r\n"),
     both(TLS_OK, IMAP_AFTER_TLS, {"starttls_extra_bytes": 10})),
    ("smtp-unfinished-250-after-go", "smtp", smtp_trap(b"220 go ahead\r\n250-AUTH EVIL\r\n"),
     both(TLS_OK, SMTP_AFTER_TLS, {"starttls_extra_bytes": 15})),
    ("smtp-partial-line-after-go", "smtp", smtp_trap(b"220 go ahead\r\n250-AUTH EVIL"),
     both(TLS_OK, SMTP_AFTER_TLS, {"starttls_extra_bytes": 13})),
    ("pop3-multiline-after-ok", "pop3", pop3_trap(b"+OK go\r\n+OK\r\nSASL EVIL\r\n"),
     both(TLS_OK, POP3_AFTER_TLS, {"starttls_extra_bytes": 16})),
    ("pop3-partial-line-after-ok", "pop3", pop3_trap(b"+OK go\r\nSASL EVIL"),
     both(TLS_OK, POP3_AFTER_TLS, {"starttls_extra_bytes": 9})),

    # ---- item 6: verdicts from the whole reply, not the capped lists
    ("smtp-40-mechs-then-plain", "smtp",
     [("send", b"220 x\r\n"), ("expect", b"EHLO"),
      ("send", b"250-x\r\n250-AUTH " + MECHS + b" PLAIN LOGIN\r\n250 SIZE 1\r\n"), ("expect", b"QUIT"),
      ("send", b"221 bye\r\n")],
     {"status": "ok", "plaintext_auth_before_tls": True, "starttls_offered": False,
      "truncated": CUT_AUTH}),
    ("imap-40-mechs-then-plain", "imap",
     [("send", b"* OK [CAPABILITY IMAP4rev1 LOGINDISABLED " + MECHS.replace(b"X-", b"AUTH=X-") +
       b" AUTH=PLAIN] hi\r\n"), ("expect", b"m1 LOGOUT"), ("send", b"* BYE\r\nm1 OK\r\n")],
     {"status": "ok", "plaintext_auth_before_tls": True, "truncated": CUT_AUTH}),
    ("imap-40-mechs-capability-command", "imap",
     [("send", b"* OK hi\r\n"), ("expect", b"m1 CAPABILITY"),
      ("send", b"* CAPABILITY IMAP4rev1 LOGINDISABLED " + MECHS.replace(b"X-", b"AUTH=X-") +
       b" AUTH=LOGIN\r\nm1 OK\r\n"), ("expect", b"m2 LOGOUT"), ("send", b"* BYE\r\nm2 OK\r\n")],
     {"status": "ok", "plaintext_auth_before_tls": True, "truncated": CUT_AUTH}),
    ("pop3-40-mechs-then-plain", "pop3",
     [("send", b"+OK hi\r\n"), ("expect", b"CAPA"), ("send", b"+OK\r\nSASL " + MECHS + b" PLAIN\r\n.\r\n"),
      ("expect", b"QUIT"), ("send", b"+OK\r\n")],
     {"status": "ok", "plaintext_auth_before_tls": True, "truncated": CUT_AUTH}),

    # ---- item 10: exact bytes, and partial replies
    ("smtp-bare-lf", "smtp",
     [("send", b"220-first\n220 last\n"), ("expect", b"EHLO"),
      ("send", b"250-x\n250-STARTTLS\n250 SIZE 1\n"), ("expect", b"STARTTLS"), ("send", b"454 not now\n"),
      ("expect", b"QUIT"), ("send", b"221 bye\n")],
     {"status": "starttls-refused", "banner": "220-first\n220 last\n", "starttls_reply": "454 not now",
      "caps_before_tls": ["STARTTLS", "SIZE 1"], "partial": None}),
    ("smtp-mixed-line-ends", "smtp",
     [("send", b"220-a\r\n220-b\n220 c\r\r\n"), ("expect", b"EHLO"), ("send", b"250 x\r\n"),
      ("expect", b"QUIT"), ("send", b"221 bye\r\n")],
     {"status": "ok", "banner": "220-a\r\n220-b\n220 c\r\r\n"}),
    ("smtp-greeting-stalls", "smtp", [("send", b"220-first\r\n220-second\r\n"), ("hold",)],
     {"status": "read-timeout", "phase": "await-greeting", "banner": "220-first\r\n220-second\r\n",
      "partial": ["banner"]}),
    ("smtp-greeting-stalls-mid-line", "smtp", [("send", b"220-first\n220-sec"), ("hold",)],
     {"status": "read-timeout", "banner": "220-first\n220-sec", "partial": ["banner"]}),
    ("smtp-greeting-closed", "smtp", [("send", b"220-first\r\n220-second\r\n"), ("close",)],
     {"status": "closed", "phase": "await-greeting", "banner": "220-first\r\n220-second\r\n",
      "partial": ["banner"]}),
    ("smtp-greeting-reset", "smtp", [("send", b"220-first\r\n220-sec"), ("sleep", 0.3), ("reset",)],
     {"status": "reset", "banner": "220-first\r\n220-sec", "partial": ["banner"]}),
    ("smtps-greeting-reset-under-tls", "smtps",
     [("tls",), ("send", b"220-first\r\n"), ("sleep", 0.3), ("reset",)],
     {"status": "reset", "tls_version": "TLSv1.3", "banner": "220-first\r\n", "partial": ["banner"]}),
    ("smtp-ehlo-closed", "smtp",
     [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", b"250-x\r\n250-SIZE 1\r\n"), ("close",)],
     {"status": "closed", "phase": "await-ehlo-reply", "caps_before_tls": ["SIZE 1"],
      "partial": ["caps_before_tls"], "banner": "220 x\r\n"}),
    ("imap-greeting-stalls", "imap", [("send", b"* OK hal"), ("hold",)],
     {"status": "read-timeout", "banner": "* OK hal", "partial": ["banner"]}),
    ("pop3-capa-closed", "pop3",
     [("send", b"+OK hi\r\n"), ("expect", b"CAPA"), ("send", b"+OK\r\nUSER\r\nSTLS\r\n"), ("close",)],
     {"status": "closed", "phase": "await-capa-list", "caps_before_tls": ["USER", "STLS"],
      "partial": ["caps_before_tls"], "banner": "+OK hi"}),
    ("smtp-complete-reply-not-partial", "smtp",
     [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", b"250 x\r\n"), ("expect", b"QUIT"), ("close",)],
     {"status": "ok", "partial": None}),
]

# ---- item 14: --probe-auth against servers that hang up on the credential
SMTP_SECOND = [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", EHLO_OK), ("expect", b"STARTTLS"),
               ("send", b"220 go\r\n"), ("tls",), ("expect", b"EHLO"), ("send", SMTP_TLS_EHLO),
               ("expect", b"QUIT"), ("send", b"221 bye\r\n")]
IMAP_SECOND = imap_trap(b"m1 OK go\r\n")
POP3_SECOND = pop3_trap(b"+OK go\r\n")
HANGUP = {"status": "ok", "starttls_ok": True, "tls_version": "TLSv1.3", "auth_probe": "disconnected",
          "starttls_offered": True, "plaintext_auth_before_tls": True}
AUTH_CASES = [
    ("imap-courier-bye", "imap",
     [("send", IMAP_GREETING), ("expect", b"m1 LOGIN"),
      ("send", b"* BYE Temporary problem, please try again later\r\n"), ("close",)],
     both(HANGUP, IMAP_AFTER_TLS, {"auth_probe_reply": "* BYE Temporary problem, please try again later",
                                   "banner": "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready",
                                   "caps_before_tls": ["IMAP4rev1", "STARTTLS", "AUTH=PLAIN"],
                                   "auth_before_tls": ["PLAIN"]}),
     [IMAP_SECOND]),
    ("pop3-err-then-close", "pop3",
     [("send", b"+OK hi\r\n"), ("expect", b"CAPA"), ("send", POP3_CAPA), ("expect", b"USER"),
      ("send", b"+OK\r\n"), ("expect", b"PASS"), ("send", b"-ERR authentication failed\r\n"), ("close",)],
     both(HANGUP, POP3_AFTER_TLS, {"auth_probe_reply": "-ERR authentication failed", "banner": "+OK hi",
                                   "caps_before_tls": ["USER", "STLS"]}),
     [POP3_SECOND]),
    ("smtp-421-on-auth", "smtp",
     [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", EHLO_OK), ("expect", b"AUTH PLAIN"),
      ("send", b"421 4.7.0 go away\r\n"), ("close",)],
     both(HANGUP, SMTP_AFTER_TLS, {"auth_probe_reply": "421 4.7.0 go away", "banner": "220 x\r\n",
                                   "caps_before_tls": ["PIPELINING", "STARTTLS", "AUTH PLAIN LOGIN"]}),
     [SMTP_SECOND]),
    ("smtp-close-on-auth", "smtp",
     [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", EHLO_OK), ("expect", b"AUTH PLAIN"), ("close",)],
     both(HANGUP, SMTP_AFTER_TLS, {"auth_probe_reply": None}),
     [SMTP_SECOND]),
    ("smtp-silent-on-auth", "smtp",
     [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", EHLO_OK), ("expect", b"AUTH PLAIN"), ("hold",)],
     both(HANGUP, SMTP_AFTER_TLS, {"auth_probe": "no-reply", "auth_probe_reply": None}),
     [SMTP_SECOND]),
    ("imap-silent-mid-reply-on-login", "imap",
     [("send", IMAP_GREETING), ("expect", b"m1 LOGIN"), ("send", b"m1 NO [AUTHENTICATIONFAI"), ("hold",)],
     both(HANGUP, IMAP_AFTER_TLS, {"auth_probe": "no-reply", "auth_probe_reply": "m1 NO [AUTHENTICATIONFAI",
                                   "partial": ["auth_probe_reply"]}),
     [IMAP_SECOND]),
    ("smtp-535-stays-evaluated", "smtp",
     [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", EHLO_OK), ("expect", b"AUTH PLAIN"),
      ("send", b"535 5.7.8 no\r\n")] + SMTP_SECOND[3:],
     both(TLS_OK, SMTP_AFTER_TLS, {"auth_probe": "cleartext-evaluated", "auth_probe_reply": "535 5.7.8 no"})),
]


def run_scan(scan, tmp, name, cases, ctx, extra):
    servers = {}
    targets = []
    for case in cases:
        cname, proto, script, _ = case[:4]
        then = case[4] if len(case) > 4 else ()
        srv = scripted.ScriptedServer(script, ctx, then=then).start()
        servers[srv.port] = (case, srv)
        targets.append("127.0.0.1:%d/%s" % (srv.port, proto))
    out = os.path.join(tmp, name + ".json")
    cmd = [scan, "--read-timeout", "2", "--timeout", "8", "--connect-timeout", "2", "-o", out,
           "--ehlo-name", "scanner.test", "-q"] + extra + targets
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    records = {}
    if os.path.exists(out):
        with open(out, "rb") as f:
            for raw in f:
                rec = json.loads(raw)
                records.setdefault(rec["port"], []).append(rec)
    return run, servers, records


def check_cases(check, run, servers, records):
    check(run.returncode == 0, "scanner exit 0 (stderr: %s)" % run.stderr.strip()[:300])
    for port, (case, srv) in servers.items():
        name, expected = case[0], case[3]
        recs = records.get(port, [])
        check(len(recs) == 1, "%s: exactly one record" % name)
        if recs:
            for field, want in expected.items():
                got = recs[0].get(field, "<missing>")
                check(got == want, "%s: %s = %r (want %r)" % (name, field, got, want))
        check(not srv.errors, "%s: client spoke as scripted %s" % (name, srv.errors))
        want_conns = 2 if len(case) > 4 else 1
        check(srv.accepted == want_conns, "%s: %d connection(s) (saw %d)" % (name, want_conns, srv.accepted))
        srv.close()


def main():
    check = looplib.Checks()
    build = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
    scan = os.path.join(build, "mailtls-scan")
    tmp = tempfile.mkdtemp(prefix="mailtls-connfacts-")
    crt, key = scripted.make_cert(tmp)
    ctx = scripted.tls_context(crt, key)
    check_cases(check, *run_scan(scan, tmp, "plain", CASES, ctx, []))
    check_cases(check, *run_scan(scan, tmp, "probe-auth", AUTH_CASES, ctx, ["--probe-auth"]))
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
