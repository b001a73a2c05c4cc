#!/usr/bin/env python3
"""--downgrade-checks against real Postfix and Dovecot (tests/real/fixtures.py)
and a Dovecot LMTP + ManageSieve instance of its own (127.113.1.1, ports from
bind(0)).

Postfix and Dovecot drop what a client pipelined after STARTTLS: every
starttls_injection is false. starttls_required follows the configuration:
Postfix `smtpd_tls_security_level=encrypt` (submission) answers MAIL FROM
with 530, `may` and `none` accept it; Dovecot `ssl=required` refuses a
cleartext login, `ssl=yes` + `disable_plaintext_auth=no` does not (with and
without --probe-auth). No middlebox masks anything: starttls_masked null.
And the check costs no other fact: the records of a scan without the option
agree on every TLS and post-TLS field."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402
import test_lmtp_sieve  # noqa: E402  (its Dovecot LMTP/ManageSieve configuration)

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
OWN_IP = "127.113.1.1"

# fixture service -> starttls_required expected
REQUIRED = {"smtp-may": False, "submission-encrypt": True, "submission-authonly": False, "smtp-notls": False,
            "weak-imap": False, "strict-imap": True, "weak-pop3": False, "strict-pop3": True}
# fields that must not change when the checks run
SAME = ["status", "banner", "caps_before_tls", "starttls_offered", "starttls_reply", "starttls_ok",
        "starttls_extra_bytes", "auth_before_tls", "caps_after_tls", "auth_after_tls", "tls_version",
        "cert_sha256", "cert_trusted"]


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, what):
        print(("ok   " if ok else "FAIL ") + what, flush=True)
        self.passed += bool(ok)
        self.failed += not ok


def scan(tmp, name, targets, extra):
    out = os.path.join(tmp, name + ".json")
    run = subprocess.run([SCAN, "-q", "-o", out, "--timeout", "20", "--ehlo-name", "scanner.test"] + extra +
                         targets, capture_output=True, text=True, timeout=120)
    recs = {}
    if os.path.exists(out):
        for line in open(out):
            r = json.loads(line)
            recs[(r["ip"], r["port"])] = r
    return run, recs


def start_own_dovecot(tmp, pki):
    d = os.path.join(tmp, "own")
    os.makedirs(os.path.join(d, "home"))
    lmtp, sieve = test_lmtp_sieve.free_port(OWN_IP), test_lmtp_sieve.free_port(OWN_IP)
    conf = os.path.join(d, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(test_lmtp_sieve.dovecot_conf(d, "dg", OWN_IP, lmtp, sieve, False, pki["leaves"]["ecdsa"]))
    rc, out = fixtures.run_daemon(["dovecot", "-c", conf], os.path.join(d, "start.out"))
    if rc != 0:
        raise RuntimeError("dovecot did not start: %s" % out)
    test_lmtp_sieve.wait_listening(OWN_IP, (lmtp, sieve), time.monotonic() + 20)
    return conf, lmtp, sieve


def main():
    check = Checks()
    tmp = tempfile.mkdtemp(prefix="mailtls-dgreal-")
    os.chmod(tmp, 0o755)
    fx = fixtures.start()
    own_conf = None
    try:
        pki = fixtures.make_pki(os.path.join(tmp, "pki"))
        own_conf, lmtp, sieve = start_own_dovecot(tmp, pki)
        svcs = {s["name"]: s for s in fx.services if s["name"] in REQUIRED}
        targets = ["%s:%d/%s" % (s["ip"], s["port"], s["spec_proto"]) for s in svcs.values()]
        targets += ["%s:%d/lmtp" % (OWN_IP, lmtp), "%s:%d/sieve" % (OWN_IP, sieve)]
        own = {"dovecot-lmtp": (OWN_IP, lmtp), "dovecot-sieve": (OWN_IP, sieve)}
        keys = {n: (s["ip"], s["port"]) for n, s in svcs.items()}
        keys.update(own)

        runs = {}
        for name, extra in (("off", []), ("on", ["--downgrade-checks"]),
                            ("auth", ["--downgrade-checks", "--probe-auth"])):
            run, recs = scan(tmp, name, targets, extra)
            check(run.returncode == 0 and len(recs) == len(keys),
                  "%s: scan exits 0 with one record per server (%d, %s)" % (name, len(recs), run.stderr[-200:]))
            runs[name] = recs

        for n, key in sorted(keys.items()):
            off, on, auth = (runs[k].get(key, {}) for k in ("off", "on", "auth"))
            check(off.get("starttls_injection", 0) is None and off.get("starttls_required", 0) is None,
                  n + ": without the option both checks are null")
            offered = on.get("starttls_offered")
            want_inj = False if offered else None
            for tag, r in (("on", on), ("auth", auth)):
                check(r.get("status") == "ok", "%s [%s]: status ok (%s %s)" % (n, tag, r.get("status"), r.get("error")))
                check(r.get("starttls_injection", 0) is want_inj,
                      "%s [%s]: starttls_injection %r (got %r)" % (n, tag, want_inj, r.get("starttls_injection", 0)))
                want_req = REQUIRED.get(n)
                check(r.get("starttls_required", 0) is want_req,
                      "%s [%s]: starttls_required %r (got %r)" % (n, tag, want_req, r.get("starttls_required", 0)))
                check(r.get("starttls_masked", 0) is None, "%s [%s]: starttls_masked null" % (n, tag))
            check(offered is (n != "smtp-notls"), n + ": STARTTLS offered as configured")
            diff = [f for f in SAME if off.get(f) != on.get(f)]
            check(not diff, n + ": the checks change no other fact (differs: %s)" % diff)
    finally:
        if own_conf:
            subprocess.run(["doveadm", "-c", own_conf, "stop"], capture_output=True, timeout=30)
        if check.failed:
            print(fx.logs())
        fx.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (check.passed, check.failed))
    return 1 if check.failed else 0


if __name__ == "__main__":
    sys.exit(main())
