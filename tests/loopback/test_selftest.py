#!/usr/bin/env python3
"""Real mail clients against mailtls-selftest: the client x case verdict table.

Starts three mailtls-selftest servers on 127.117.x.y (port 0, a certificate
made here with openssl) and runs every client configuration of
tools/selftest/clients.py through baseline, t1, t2, t3 and t4, three
clients at a time (one per server: the mode store is per server, and all
clients connect from the same address). Asserts:
  - careful configurations (STARTTLS required) never get FAIL, and PASS
    at baseline;
  - careless ones get FAIL at t1 (credentials sent after the strip);
  - an INCONCLUSIVE t* verdict follows a played attack (starttls_disrupted);
  - every (client, case) verdict is the one measured and recorded in
    tools/selftest/README.md (EXPECTED below; a set where more than one
    outcome is acceptable);
  - no password appears anywhere in the state directories;
  - every event line is one JSON object with the documented fields.
Prints the measured table.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading

SRC = os.environ.get("MAILTLS_SRC", os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tools", "selftest"))
sys.path.insert(0, os.path.join(SRC, "tests", "loopback"))
import harness  # noqa: E402
from clients import CLIENTS  # noqa: E402
from looplib import Checks  # noqa: E402
import importlib.util  # noqa: E402

spec = importlib.util.spec_from_file_location("try_", os.path.join(SRC, "tools", "selftest", "try.py"))
try_ = importlib.util.module_from_spec(spec)
spec.loader.exec_module(try_)

CASES = try_.CASES
P, F, I = "PASS", "FAIL", "INCONCLUSIVE"
# Measured 2026-12-03 (Debian 12 packages); see tools/selftest/README.md.
EXPECTED = {
    "curl-smtp-ssl": (P, F, I, F, P),
    "curl-smtp-ssl-reqd": (P, I, I, I, P),
    "curl-imap-ssl": (P, F, I, F, P),
    "curl-imap-ssl-reqd": (P, I, I, I, P),
    "curl-pop3-ssl": (P, F, I, F, P),
    "curl-pop3-ssl-reqd": (P, I, I, I, P),
    "swaks-tls": (P, I, I, I, P),
    "swaks-tlso": (P, F, I, F, P),
    "msmtp-tls": (P, I, I, I, P),
    "msmtp-notls": (I, F, F, F, F),
    "fetchmail-pop3": (P, F, F, F, P),
    "fetchmail-pop3-tls12": (P, I, I, I, P),
    "fetchmail-imap": (P, F, F, F, P),
    "fetchmail-imap-tls12": (P, I, I, I, P),
    "fetchmail-imaps": (P, I, I, I, I),
    "snail-starttls": (P, I, I, I, P),
    "snail-plain": (F, F, F, F, F),
    "mutt-starttls": (P, F, I, I, P),
    "mutt-force-tls": (P, I, I, I, P),
    "python-smtp-careless": (P, F, I, I, P),
    "python-smtp-careful": (P, I, I, I, P),
    "python-imap-careless": (P, F, I, I, P),
    "python-imap-careful": (P, I, I, I, P),
    "python-pop3-careless": (P, F, I, I, P),
    "python-pop3-careful": (P, I, I, I, P),
}
CAREFUL = [n for n in CLIENTS if n.endswith(("-reqd", "-tls", "-tls12", "-careful", "-starttls"))
           and not n.startswith("mutt-starttls")] + ["mutt-force-tls"]
CARELESS = ["curl-smtp-ssl", "curl-imap-ssl", "curl-pop3-ssl", "swaks-tlso", "msmtp-notls", "fetchmail-pop3",
            "fetchmail-imap", "snail-plain", "mutt-starttls", "python-smtp-careless", "python-imap-careless",
            "python-pop3-careless"]
FIELDS = ["ts", "proto", "client_ip", "server_port", "session", "case", "scenario", "tls", "event",
          "starttls_advertised", "mechanism"]
LANES = 3


def missing_tools():
    return [t for t in ("curl", "swaks", "msmtp", "fetchmail", "s-nail", "mutt", "openssl")
            if not shutil.which(t)]


def main():
    check = Checks()
    gone = missing_tools()
    check(not gone, "client programs installed (missing: %s)" % (", ".join(gone) or "none"))
    if gone:
        return check.report()
    prog = os.path.join(BUILD, "mailtls-selftest")
    tmp = tempfile.mkdtemp(prefix="selftest-test-")
    servers, results, passwords = [], {}, []
    try:
        lanes = []
        for i in range(LANES):
            ip = harness.random_ip()
            cert, key = harness.make_cert(tmp, ip)
            state = os.path.join(tmp, f"state{i}")
            p, ready = harness.start(prog, state, ip, ["--ip-rate", "0"], cert=cert, key=key)
            servers.append(p)
            lanes.append((state, ready, cert, list(CLIENTS)[i::LANES]))

        def lane(state, ready, cert, names):
            with open(os.path.join(state, "clients.log"), "w") as log:
                for n in names:
                    results[n] = try_.run_client(prog, state, ready, n, certfile=cert, timeout=20, log=log)

        threads = [threading.Thread(target=lane, args=ln) for ln in lanes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=150)
        check(all(not t.is_alive() for t in threads), "every client run finished")

        print(f"{'client':24} " + " ".join(f"{c:13}" for c in CASES))
        for n in CLIENTS:
            r = results.get(n, {})
            got = tuple(r.get(c, {}).get("verdict", "MISSING") for c in CASES)
            passwords += [r[c]["password"] for c in CASES if c in r]
            print(f"{n:24} " + " ".join(f"{v:13}" for v in got))
            check(got == EXPECTED[n], f"{n}: verdicts {got} == measured {EXPECTED[n]}")
            if n in CAREFUL:
                check("FAIL" not in got and got[0] == "PASS", f"{n} (careful): PASS at baseline, never FAIL")
            if n in CARELESS:
                check(got[1] == "FAIL", f"{n} (careless): FAIL at t1 (STARTTLS stripped)")
            for c in CASES:
                v = r.get(c, {})
                if v.get("verdict") == "FAIL":
                    check("plaintext_auth" in v.get("findings", []), f"{n} {c}: FAIL carries plaintext_auth")
                if c != "baseline" and v.get("verdict") == "INCONCLUSIVE":
                    check("starttls_disrupted" in v.get("findings", []),
                          f"{n} {c}: the client stopped after the attack was played (starttls_disrupted)")
    finally:
        for p in servers:
            harness.stop(p)

    leaked, bad_lines, n_lines = [], 0, 0
    for root, _, files in os.walk(tmp):
        for f in files:
            data = open(os.path.join(root, f), "rb").read()
            if f == "clients.log":
                continue  # the clients' own output, not the server's
            leaked += [f"{f}: {pw}" for pw in passwords if pw.encode() in data]
            if f == "events.jsonl":
                for line in data.decode().splitlines():
                    n_lines += 1
                    o = json.loads(line)
                    bad_lines += any(k not in o for k in FIELDS)
    check(passwords and not leaked, f"no password in the state directories ({len(passwords)} checked; {leaked[:3]})")
    check(n_lines > 100 and bad_lines == 0, f"{n_lines} event lines, all with the documented fields")
    shutil.rmtree(tmp, ignore_errors=True)
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
