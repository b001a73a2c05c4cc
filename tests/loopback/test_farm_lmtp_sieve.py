#!/usr/bin/env python3
"""LMTP and ManageSieve end to end on the farm: the farm's lmtp and sieve
rows answer as their protocols do, and mailtls-scan's lmtp and sieve rows
record what each advertises before and after TLS, per farm profile.

Farm ports are chosen by the kernel; the profile of each address is asked
from the farm (--list-profiles), never copied from its hash."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import looplib  # noqa: E402
from test_farm_cli import profiles_for  # noqa: E402

BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
SCAN = os.path.join(BUILD, "mailtls-scan")
MIX = "starttls-auth=1,strict=1,no-tls=1,busy=1"
SEED = "3"


def pick(profiles):
    """One address per profile."""
    out = {}
    for addr, prof in sorted(profiles.items()):
        out.setdefault(prof, addr)
    return out


def main():
    check = looplib.Checks()
    tmp = tempfile.mkdtemp(prefix="mailtls-lmtpsieve-")
    addrs = pick(profiles_for("127.4.0.1", 64, "--profiles", MIX, "--seed", SEED))
    check(sorted(addrs) == ["busy", "no-tls", "starttls-auth", "strict"], "an address per profile (%s)" % addrs)
    farm = looplib.start_farm(BUILD, tmp, ["--lmtp", "0", "--sieve", "0", "--profiles", MIX, "--seed", SEED])
    try:
        ready = json.load(open(os.path.join(tmp, "farm-ready.json")))
        lmtp, sieve = ready["lmtp"][0], ready["sieve"][0]
        check(ready.get("smtp") == [] and ready.get("lmtps") == [] and ready.get("sieves") == [],
              "only the asked rows listen (lmtp %d, sieve %d)" % (lmtp, sieve))
        targets = ["%s:%d/lmtp" % (a, lmtp) for a in addrs.values()] + \
                  ["%s:%d/sieve" % (a, sieve) for a in addrs.values()]
        out = os.path.join(tmp, "out.json")
        run = subprocess.run([SCAN, "-q", "-o", out, "--timeout", "20", "--read-timeout", "5"] + targets,
                             capture_output=True, text=True, timeout=90)
    finally:
        farm.terminate()
        farm.wait(timeout=10)
    check(run.returncode == 0, "scan exits 0 (%s)" % run.stderr.strip()[:200])
    recs = {(r["ip"], r["protocol"]): r for r in map(json.loads, open(out))}
    check(len(recs) == 8, "one record per target (%d)" % len(recs))
    host = lambda a: "h%s.farm.test" % a.replace(".", "-")  # noqa: E731

    r = recs.get((addrs["starttls-auth"], "lmtp"), {})
    check(r.get("status") == "ok" and r.get("banner") == "220 %s LMTP mailtls-farm\r\n" % host(addrs["starttls-auth"]),
          "lmtp starttls-auth: ok, banner (%s)" % r.get("banner"))
    check(r.get("caps_before_tls") == ["PIPELINING", "SIZE 10240000", "STARTTLS", "AUTH PLAIN LOGIN", "8BITMIME"]
          and r.get("auth_before_tls") == ["PLAIN", "LOGIN"] and r.get("plaintext_auth_before_tls") is True,
          "lmtp starttls-auth: LHLO answered with STARTTLS and AUTH before TLS (%s)" % r.get("caps_before_tls"))
    check(r.get("starttls_offered") is True and r.get("starttls_ok") is True and
          r.get("caps_after_tls") == ["PIPELINING", "SIZE 10240000", "AUTH PLAIN LOGIN", "8BITMIME"] and
          r.get("auth_after_tls") == ["PLAIN", "LOGIN"], "lmtp starttls-auth: TLS, then LHLO again")
    r = recs.get((addrs["strict"], "lmtp"), {})
    check(r.get("status") == "ok" and r.get("auth_before_tls") == [] and r.get("plaintext_auth_before_tls") is False
          and r.get("auth_after_tls") == ["PLAIN", "LOGIN"], "lmtp strict: AUTH only after TLS")
    r = recs.get((addrs["no-tls"], "lmtp"), {})
    check(r.get("status") == "ok" and r.get("starttls_offered") is False and r.get("starttls_ok") is None,
          "lmtp no-tls: no STARTTLS, no handshake (%s)" % r.get("status"))
    r = recs.get((addrs["busy"], "lmtp"), {})
    check(r.get("status") == "server-busy", "lmtp busy: 421 is server-busy (%s)" % r.get("status"))

    r = recs.get((addrs["starttls-auth"], "sieve"), {})
    check(r.get("status") == "ok" and r.get("banner") == 'OK "%s ready."' % host(addrs["starttls-auth"]),
          "sieve starttls-auth: ok, banner is the greeting's OK line (%s)" % r.get("banner"))
    caps = ['"IMPLEMENTATION" "mailtls-farm"', '"SIEVE" "fileinto vacation"', '"SASL" "PLAIN LOGIN"']
    check(r.get("caps_before_tls") == caps + ['"STARTTLS"', '"VERSION" "1.0"'] and
          r.get("auth_before_tls") == ["PLAIN", "LOGIN"] and r.get("plaintext_auth_before_tls") is True,
          "sieve starttls-auth: capabilities and SASL before TLS (%s)" % r.get("caps_before_tls"))
    check(r.get("starttls_offered") is True and r.get("starttls_ok") is True and
          r.get("starttls_reply") == 'OK "Begin TLS negotiation now."' and
          r.get("caps_after_tls") == caps + ['"VERSION" "1.0"'] and r.get("auth_after_tls") == ["PLAIN", "LOGIN"],
          "sieve starttls-auth: TLS, capabilities re-sent after it (%s)" % r.get("caps_after_tls"))
    r = recs.get((addrs["strict"], "sieve"), {})
    check(r.get("status") == "ok" and r.get("auth_before_tls") == [] and r.get("plaintext_auth_before_tls") is False
          and r.get("auth_after_tls") == ["PLAIN", "LOGIN"], "sieve strict: SASL empty before TLS (%s)" % r.get("auth_before_tls"))
    r = recs.get((addrs["no-tls"], "sieve"), {})
    check(r.get("status") == "ok" and r.get("starttls_offered") is False and r.get("starttls_ok") is None,
          "sieve no-tls: no STARTTLS, LOGOUT")
    r = recs.get((addrs["busy"], "sieve"), {})
    check(r.get("status") == "server-busy" and r.get("banner", "").startswith("BYE"),
          "sieve busy: BYE greeting is server-busy (%s %s)" % (r.get("status"), r.get("banner")))
    shutil.rmtree(tmp, ignore_errors=True)
    return check.report()


if __name__ == "__main__":
    sys.exit(main())
