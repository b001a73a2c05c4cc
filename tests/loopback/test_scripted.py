#!/usr/bin/env python3
"""Scripted servers: protocol corners and hostile peers, one record each.

Every case is a script the server plays and the record fields the scanner
must produce. All cases run in one scan, in parallel, on 127.0.0.1.
"""
import json
import os
import subprocess
import sys
import socket
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scripted  # noqa: E402

import looplib  # noqa: E402  (tests/loopback/looplib.py)

EHLO_OK = b"250-scripted.test\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n"

CASES = [
    # name, port proto, script, expected fields
    ("smtp-multiline-greeting", "smtp",
     [("send", b"220-scripted.test first\r\n220-second\r\n"), ("sleep", 0.3), ("send", b"220 last\r\n"),
      ("expect", b"EHLO"), ("send", b"250-scripted.test\r\n250 SIZE 100\r\n"), ("expect", b"QUIT"),
      ("send", b"221 bye\r\n")],
     {"status": "ok", "starttls_offered": False, "auth_before_tls": [], "plaintext_auth_before_tls": False,
      "banner": "220-scripted.test first\r\n220-second\r\n220 last\r\n", "caps_before_tls": ["SIZE 100"]}),
    ("smtp-421", "smtp", [("send", b"421 4.7.0 too busy\r\n"), ("close",)],
     {"status": "server-busy", "banner": "421 4.7.0 too busy\r\n"}),
    ("smtp-554", "smtp", [("send", b"554 no service\r\n"), ("close",)],
     {"status": "rejected"}),
    ("smtp-helo-fallback", "smtp",
     [("send", b"220 old\r\n"), ("expect", b"EHLO"), ("send", b"502 what\r\n"), ("expect", b"HELO"),
      ("send", b"250 ok\r\n"), ("expect", b"QUIT"), ("send", b"221 bye\r\n")],
     {"status": "ok", "starttls_offered": False, "phase": "await-quit-reply"}),
    ("smtp-starttls-454", "smtp",
     [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", EHLO_OK), ("expect", b"STARTTLS"),
      ("send", b"454 4.7.0 TLS not available\r\n"), ("expect", b"QUIT"), ("send", b"221 bye\r\n")],
     {"status": "starttls-refused", "starttls_offered": True, "starttls_ok": False,
      "starttls_reply": "454 4.7.0 TLS not available", "plaintext_auth_before_tls": True,
      "auth_before_tls": ["PLAIN", "LOGIN"]}),
    ("smtp-extra-bytes-after-starttls", "smtp",
     [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", EHLO_OK), ("expect", b"STARTTLS"),
      ("send", b"220 go ahead\r\n250 injected\r\n"), ("tls",), ("expect", b"EHLO"),
      ("send", b"250-x\r\n250 AUTH PLAIN\r\n"), ("expect", b"QUIT"), ("send", b"221 bye\r\n")],
     {"status": "ok", "starttls_ok": True, "starttls_extra_bytes": 14, "auth_after_tls": ["PLAIN"]}),
    ("smtp-full-starttls", "smtp",
     [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", EHLO_OK), ("expect", b"STARTTLS"),
      ("send", b"220 go ahead\r\n"), ("tls",), ("expect", b"EHLO"),
      ("send", b"250-x\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE\r\n"), ("expect", b"QUIT"), ("send", b"221 bye\r\n")],
     {"status": "ok", "starttls_ok": True, "starttls_extra_bytes": 0, "tls_version": "TLSv1.3",
      "auth_after_tls": ["PLAIN", "LOGIN"], "caps_after_tls": ["AUTH PLAIN LOGIN", "SIZE"],
      "cert_subject": "CN=scripted.test", "cert_san": ["scripted.test"], "cert_trusted": False,
      "cert_hostname_match": None}),
    ("smtp-reset-in-handshake", "smtp",
     [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", EHLO_OK), ("expect", b"STARTTLS"),
      ("send", b"220 go\r\n"), ("sleep", 0.2), ("reset",)],
     {"status": ("tls-failed", "reset"), "starttls_ok": False, "phase": "tls-handshake"}),
    ("smtp-plaintext-instead-of-serverhello", "smtp",
     [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", EHLO_OK), ("expect", b"STARTTLS"),
      ("send", b"220 go\r\n"), ("sleep", 0.2), ("send", b"500 what is this\r\n" * 4), ("close",)],
     {"status": "tls-failed", "starttls_ok": False}),
    ("smtp-silent", "smtp", [("hold",)], {"status": "read-timeout", "phase": "await-greeting"}),
    ("smtp-endless-line", "smtp", [("send", b"220 " + b"A" * 20000)],
     {"status": "protocol-error", "phase": "await-greeting"}),
    ("smtp-garbage", "smtp", [("send", b"\x00\xff\xfe garbage\r\n"), ("close",)],
     {"status": "protocol-error", "banner": "\ufffd\ufffd\ufffd garbage", "banner_b64": "AP/+IGdhcmJhZ2U="}),
    ("smtp-closed-mid-reply", "smtp", [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", b"250-x\r\n"),
                                       ("close",)],
     {"status": "closed", "phase": "await-ehlo-reply"}),
    ("smtp-drip", "smtp", [("drip", b"220 slow greeting that never ends", 0.5)],
     {"status": "read-timeout"}),
    ("smtps-implicit", "smtps",
     [("tls",), ("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", b"250-x\r\n250 AUTH PLAIN\r\n"),
      ("expect", b"QUIT"), ("send", b"221 bye\r\n")],
     {"status": "ok", "tls_mode": "implicit", "starttls_offered": None, "auth_before_tls": [],
      "plaintext_auth_before_tls": False, "auth_after_tls": ["PLAIN"], "tls_version": "TLSv1.3"}),
    ("imap-greeting-caps", "imap",
     [("send", b"* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] hi\r\n"), ("expect", b"m1 STARTTLS"),
      ("send", b"m1 OK go\r\n"), ("tls",), ("expect", b"m2 CAPABILITY"),
      ("send", b"* CAPABILITY IMAP4rev1 AUTH=PLAIN AUTH=LOGIN\r\nm2 OK\r\n"), ("expect", b"m3 LOGOUT"),
      ("send", b"* BYE\r\nm3 OK\r\n")],
     {"status": "ok", "starttls_offered": True, "starttls_ok": True, "auth_before_tls": ["PLAIN"],
      "plaintext_auth_before_tls": True, "auth_after_tls": ["PLAIN", "LOGIN"]}),
    ("imap-noise-literal-logindisabled", "imap",
     [("send", b"* OK Waiting for authentication process to respond..\r\n"), ("sleep", 0.2),
      ("send", b"* OK ready\r\n"), ("expect", b"m1 CAPABILITY"),
      ("send", b"* FLAGS (x)\r\n* ID {12}\r\nline1\r\nline2\r\n* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n"
               b"m1 OK done\r\n"),
      ("expect", b"m2 STARTTLS"), ("send", b"m2 NO not now\r\n"), ("expect", b"m3 LOGOUT"),
      ("send", b"m3 OK\r\n")],
     {"status": "starttls-refused", "plaintext_auth_before_tls": False, "auth_before_tls": [],
      "starttls_offered": True, "banner": "* OK ready"}),
    ("imap-bye", "imap", [("send", b"* BYE go away\r\n"), ("close",)], {"status": "server-busy"}),
    ("smtp-10mb-reply", "smtp",
     [("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", b"250-" + b"X" * 60 + b"\r\n" * 1) ,
      ("send", (b"250-" + b"Y" * 96 + b"\r\n") * 100000)],
     {"status": "protocol-error", "phase": "await-ehlo-reply"}),
    ("smtp-hostile-bytes-in-caps", "smtp",
     [("send", b"220 h\x00st \xc3\x28 \"quoted\", comma\r\n"), ("expect", b"EHLO"),
      ("send", b"250-x\r\n250-AUTH PL\x00AIN \xff\r\n250 X-\x01\x7f\r\n"), ("expect", b"QUIT"),
      ("send", b"221 bye\r\n")],
     {"status": "ok", "banner": "220 h\ufffdst \ufffd( \"quoted\", comma\r\n",
      "banner_b64": "MjIwIGgAc3Qgwygg"
                    "InF1b3RlZCIsIGNvbW1hDQo=",
      "caps_before_tls": ["AUTH PL\ufffdAIN \ufffd", "X-\x01\x7f"],
      "caps_before_tls_b64": ["QVVUSCBQTABBSU4g/w==", None],
      "auth_before_tls": ["PL\ufffdAIN", "\ufffd"], "auth_before_tls_b64": ["UEwAQUlO", "/w=="],
      "plaintext_auth_before_tls": False}),
    ("smtps-chain-of-50", "smtps",
     [("tls",), ("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", b"250 x\r\n"), ("expect", b"QUIT"),
      ("send", b"221 bye\r\n")],
     # over the per-probe memory caps (README "Resources"): refused, saying why
     {"status": "tls-failed", "cert_subject": None,
      "error": "handshake: certificate chain of 50 certificates exceeds 16 (the per-probe limit)"}, "chain50"),
    ("smtps-chain-of-16", "smtps",
     [("tls",), ("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", b"250 x\r\n"), ("expect", b"QUIT"),
      ("send", b"221 bye\r\n")],
     {"status": "ok", "cert_subject": "CN=level15", "cert_trusted": False, "cert_chain_len": 16}, "chain16"),
    ("smtps-100kb-certificate", "smtps",
     [("tls",), ("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", b"250 x\r\n"), ("expect", b"QUIT"),
      ("send", b"221 bye\r\n")],
     {"status": "tls-failed", "cert_subject": None,
      "error": "handshake: certificate message exceeds 65536 bytes (the per-probe limit)"}, "big"),
    ("smtps-60kb-certificate", "smtps",
     [("tls",), ("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", b"250 x\r\n"), ("expect", b"QUIT"),
      ("send", b"221 bye\r\n")],
     {"status": "ok", "cert_subject": "CN=big.test", "truncated": ["cert_san"]}, "big60"),
    ("smtps-nul-in-cn", "smtps",
     [("tls",), ("send", b"220 x\r\n"), ("expect", b"EHLO"), ("send", b"250 x\r\n"), ("expect", b"QUIT"),
      ("send", b"221 bye\r\n")],
     {"status": "ok", "cert_subject": "CN=evil.example\\00.good.test"}, "nulcn"),
    ("pop3-no-capa", "pop3",
     [("send", b"+OK hi\r\n"), ("expect", b"CAPA"), ("send", b"-ERR unknown\r\n"), ("expect", b"STLS"),
      ("send", b"-ERR no\r\n"), ("expect", b"QUIT"), ("send", b"+OK\r\n")],
     {"status": "ok", "starttls_offered": False, "plaintext_auth_before_tls": None}),
    ("pop3-stls", "pop3",
     [("send", b"+OK hi\r\n"), ("expect", b"CAPA"), ("send", b"+OK\r\nUSER\r\nSTLS\r\n..odd\r\n.\r\n"),
      ("expect", b"STLS"), ("send", b"+OK go\r\n"), ("tls",), ("expect", b"CAPA"),
      ("send", b"+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"), ("expect", b"QUIT"), ("send", b"+OK\r\n")],
     {"status": "ok", "starttls_offered": True, "starttls_ok": True, "auth_before_tls": ["USER"],
      "plaintext_auth_before_tls": True, "auth_after_tls": ["USER", "PLAIN"],
      "caps_before_tls": ["USER", "STLS", ".odd"]}),
]


def main():
    check = looplib.Checks()
    build = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
    scan = os.path.join(build, "mailtls-scan")
    tmp = tempfile.mkdtemp(prefix="mailtls-scripted-")
    crt, key = scripted.make_cert(tmp)
    ctx = scripted.tls_context(crt, key)
    servers = {}
    targets = []
    certs = {"chain50": scripted.make_long_chain(tmp), "big": scripted.make_big_cert(tmp),
             "chain16": scripted.make_long_chain(tmp, 16), "big60": scripted.make_big_cert(tmp, 900, "big60"),
             "nulcn": scripted.make_nul_cn_cert(tmp)}
    for name, proto, script, _, *cert in CASES:
        case_ctx = scripted.tls_context(*certs[cert[0]]) if cert else ctx
        srv = scripted.ScriptedServer(script, case_ctx).start()
        servers[srv.port] = (name, srv)
        targets.append("127.0.0.1:%d/%s" % (srv.port, proto))
    backlog = socket.socket()
    backlog.bind(("127.0.0.1", 0))
    backlog.listen(0)
    fillers = []
    for _ in range(4):  # fill the accept queue; later SYNs are dropped
        f = socket.socket()
        f.setblocking(False)
        f.connect_ex(backlog.getsockname())
        fillers.append(f)
    time.sleep(0.2)
    targets.append("127.0.0.1:%d/smtp" % backlog.getsockname()[1])
    out = os.path.join(tmp, "out.json")
    cmd = [scan, "--read-timeout", "2", "--timeout", "4", "--connect-timeout", "2", "-o", out,
           "--ehlo-name", "scanner.test", "-q"] + targets
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)


    check(run.returncode == 0, "scanner exit 0 (stderr: %s)" % run.stderr.strip()[:300])
    records = {}
    with open(out, "rb") as f:
        for raw in f:
            rec = json.loads(raw)
            records.setdefault(rec["port"], []).append(rec)
    blk = records.pop(backlog.getsockname()[1], [])
    check(len(blk) == 1 and blk[0]["status"] == "connect-timeout",
          "backlog-full: one connect-timeout record (%s)" % [r["status"] for r in blk])
    check(sorted(records) == sorted(servers), "one record per case (%d cases, %d records)"
          % (len(servers), sum(len(v) for v in records.values())))
    for port, (name, srv) in servers.items():
        recs = records.get(port, [])
        check(len(recs) == 1, "%s: exactly one record" % name)
        if not recs:
            continue
        rec = recs[0]
        expected = next(c[3] for c in CASES if c[0] == name)
        check(len(json.dumps(rec)) < 64 * 1024, "%s: record stays small (%d bytes)" % (name, len(json.dumps(rec))))
        for field, want in expected.items():
            got = rec.get(field, "<missing>")
            ok = got in want if isinstance(want, tuple) else got == want
            check(ok, "%s: %s = %r (want %r)" % (name, field, got, want))
        check(not srv.errors, "%s: client spoke as scripted %s" % (name, srv.errors))
        srv.close()
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
