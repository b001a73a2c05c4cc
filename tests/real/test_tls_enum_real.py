#!/usr/bin/env python3
"""--ciphers / --tls-versions against real Postfix and Dovecot restricted
to particular TLS versions and cipher lists (issue 3).

Private instances started here (enumreal.py) on standard ports of
127.0.B.1-4 (B = first free block in 21..29), so nmap's ssl-enum-ciphers
runs without -sV:

  127.0.B.1:25   Postfix STARTTLS   TLS 1.2 only, 3 ECDSA suites, server order
  127.0.B.2:465  Postfix smtps      TLS 1.0-1.2, 8 RSA suites (@SECLEVEL=0), client order
  127.0.B.3:143  Dovecot IMAP       TLS 1.2 (2 suites) + TLS 1.3 (1 suite), server order
  127.0.B.3:993  Dovecot IMAPS      same instance
  127.0.B.4:995  Dovecot POP3S      TLS 1.3 only, OpenSSL's default 3 suites, client order

For every endpoint mailtls's versions, suites per version and server-order
verdict must equal (a) what the configuration implies and (b) what
`nmap -n -Pn -sT --script ssl-enum-ciphers` reports. openssl s_client,
pinned to one version / one suite, is the referee: it checks the
configuration's implications independently of both, and every suite on
which mailtls and nmap disagree is replayed with it (printed as "referee").

One line per check, then "N passed, M failed"; exit 1 on any failure,
including servers that do not start. MAILTLS_KEEP=1 keeps the directory.
"""
import concurrent.futures
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import enumlib  # noqa: E402  (scan, nmap_enum, ciphers_by_version, Checker)
import enumreal  # noqa: E402

ALL_VERSIONS = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
TLS13_SUITES = enumreal.ALL13.split(":")

_IANA_TO_OPENSSL = None


def openssl_name(nmap_name):
    """nmap's IANA suite name -> OpenSSL's (TLS 1.3: nmap 7.93 prints
    TLS_AKE_WITH_AES_128_GCM_SHA256, newer ones TLS_AES_128_GCM_SHA256)."""
    global _IANA_TO_OPENSSL
    if _IANA_TO_OPENSSL is None:
        out = subprocess.run(["openssl", "ciphers", "-stdname", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                             capture_output=True, text=True, timeout=30, check=True).stdout
        _IANA_TO_OPENSSL = {}
        for line in out.splitlines():
            parts = line.split(" - ")
            if len(parts) == 2:
                _IANA_TO_OPENSSL[parts[0].strip()] = parts[1].split()[0]
    if nmap_name.startswith("TLS_AKE_WITH_"):
        nmap_name = "TLS_" + nmap_name[len("TLS_AKE_WITH_"):]
    if nmap_name in TLS13_SUITES:
        return nmap_name
    return _IANA_TO_OPENSSL.get(nmap_name, "?" + nmap_name)


def order_decision_version(ciphers):
    """The version mailtls's order test uses: the highest with >= 2 suites."""
    for v in reversed(ALL_VERSIONS):
        if len(ciphers.get(v, [])) >= 2:
            return v
    return None


def nmap_all(servers):
    """nmap against every endpoint, in parallel (distinct servers/ports)."""
    def one(ep):
        t = time.monotonic()
        nm, raw = enumlib.nmap_enum(servers.ip(ep), ep["port"], timeout=120)
        return nm, raw, time.monotonic() - t
    with concurrent.futures.ThreadPoolExecutor(len(enumreal.ENDPOINTS)) as ex:
        futs = {ep["name"]: ex.submit(one, ep) for ep in enumreal.ENDPOINTS}
        return {n: f.result() for n, f in futs.items()}


def referee_jobs(ep):
    """s_client handshakes that test the configuration's implications:
    every version (accepted or not), every configured suite alone, everything
    else but the configured suites (must fail), and the order test."""
    e = ep["expect"]
    jobs = [("version", v, None) for v in ALL_VERSIONS]
    for v in e["versions"]:
        for suite in e["ciphers"][v]:
            jobs.append(("suite", v, suite))
        if v == "TLSv1.3":
            rest = [s for s in TLS13_SUITES if s not in e["ciphers"][v]]
            jobs.append(("others", v, ":".join(rest)))
        else:
            jobs.append(("others", v, "ALL:COMPLEMENTOFALL:" + ":".join("!" + s for s in e["ciphers"][v])))
    v = order_decision_version(e["ciphers"])
    if v:
        first, second = e["ciphers"][v][0], e["ciphers"][v][1]
        jobs.append(("order", v, second + ":" + first))
    return jobs


def run_referee(servers):
    jobs = []
    for ep in enumreal.ENDPOINTS:
        for kind, v, arg in referee_jobs(ep):
            jobs.append((ep, kind, v, arg))
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        futs = [ex.submit(enumreal.s_client, servers.ip(ep), ep, v, arg) for ep, kind, v, arg in jobs]
        return [(ep, kind, v, arg) + f.result() for (ep, kind, v, arg), f in zip(jobs, futs)]


def check_referee(c, results):
    """The configuration does what we think it does (else every other
    comparison would be against a wrong expectation)."""
    for ep, kind, v, arg, got, transcript in results:
        e, n = ep["expect"], ep["name"]
        tail = enumreal.summary(transcript)
        if kind == "version":
            want = v in e["versions"]
            c.check((got is not None) == want, "%s: referee s_client %s %s" % (n, v, "accepted" if want else "refused"),
                    "got %s\n%s" % (got, tail))
        elif kind == "suite":
            c.check(got == arg, "%s: referee s_client %s %s accepted" % (n, v, arg), "got %s\n%s" % (got, tail))
        elif kind == "others":
            c.check(got is None, "%s: referee s_client %s: no suite beyond the configured %d" %
                    (n, v, len(e["ciphers"][v])), "got %s\n%s" % (got, tail))
        elif kind == "order":
            first, second = e["ciphers"][v][0], e["ciphers"][v][1]
            want = first if e["server_order"] else second
            c.check(got == want, "%s: referee s_client %s offered %s: server picks %s (%s order)" %
                    (n, v, arg, want, "server" if e["server_order"] else "client"), "got %s\n%s" % (got, tail))


def check_config(c, ep, rec):
    n, e = ep["name"], ep["expect"]
    if not c.check(rec is not None and rec.get("status") == "ok", n + ": main probe ok",
                   rec and (rec.get("status"), rec.get("error"))):
        return False
    c.check(rec["tls_versions"] == e["versions"], n + ": tls_versions = configuration " + str(e["versions"]),
            rec["tls_versions"])
    c.check(rec["tls_versions_tested"] == ALL_VERSIONS, n + ": all four versions tested", rec["tls_versions_tested"])
    c.check(rec["tls_enum_incomplete"] is None, n + ": tls_enum_incomplete null", rec["tls_enum_incomplete"])
    ours = enumlib.ciphers_by_version(rec)
    for v in ALL_VERSIONS:
        want = e["ciphers"].get(v, [])
        got = ours.get(v, [])
        if e["ordered"]:
            c.check(got == want, "%s %s: suites in server order = configuration (%d)" % (n, v, len(want)),
                    "got %s want %s" % (got, want))
        else:
            c.check(sorted(got) == sorted(want) and len(got) == len(set(got)),
                    "%s %s: suite set = configuration (%d)" % (n, v, len(want)), "got %s want %s" % (got, want))
    c.check(rec["tls_server_order"] is e["server_order"], "%s: tls_server_order %s" % (n, e["server_order"]),
            rec["tls_server_order"])
    c.check(sorted(rec["tls_weak"] or []) == sorted(e["weak"]) and rec["tls_weak"] is not None,
            "%s: tls_weak %s" % (n, e["weak"]), rec["tls_weak"])
    c.check(rec["tls_grade"] == e["grade"], "%s: tls_grade %s" % (n, e["grade"]), rec["tls_grade"])
    c.check(rec["cert_key"] == e["cert_key"], "%s: cert_key %s" % (n, e["cert_key"]), rec["cert_key"])
    return True


def check_nmap(c, ep, rec, nm, raw, servers):
    n, e = ep["name"], ep["expect"]
    if not c.check(bool(nm), n + ": nmap ssl-enum-ciphers reported", raw[-600:]):
        return
    theirs = {v: [openssl_name(x) for x in d["ciphers"]] for v, d in nm.items()}
    ours = enumlib.ciphers_by_version(rec) if rec else {}
    mine_versions = rec["tls_versions"] if rec else []
    if not c.check(sorted(nm) == sorted(mine_versions), n + ": versions equal nmap's " + str(sorted(nm)),
                   mine_versions):
        for v in sorted(set(nm) ^ set(mine_versions), key=ALL_VERSIONS.index):
            got, tr = enumreal.s_client(servers.ip(ep), ep, v)
            print("referee %s %s (mailtls %s, nmap %s): s_client negotiated %s\n%s" % (
                n, v, "yes" if v in mine_versions else "no", "yes" if v in nm else "no", got, enumreal.summary(tr)))
    for v in sorted(set(nm) | set(mine_versions), key=ALL_VERSIONS.index):
        a, b = ours.get(v, []), theirs.get(v, [])
        same = sorted(a) == sorted(b)
        c.check(same, "%s %s: suite set equals nmap's (%d)" % (n, v, len(b)), "mailtls %s nmap %s" % (a, b))
        if not same:
            # Whose answer is right? One pinned handshake per disputed suite.
            for suite in sorted(set(a) ^ set(b)):
                got, tr = enumreal.s_client(servers.ip(ep), ep, v, None if suite.startswith("?") else suite)
                print("referee %s %s %s (mailtls %s, nmap %s): s_client negotiated %s\n%s" % (
                    n, v, suite, "yes" if suite in a else "no", "yes" if suite in b else "no", got,
                    enumreal.summary(tr)))
        pref = nm.get(v, {}).get("preference")
        if len(b) >= 2:
            want = "server" if e["server_order"] else "client"
            c.check(pref == want, "%s %s: nmap says cipher preference %s" % (n, v, want), pref)
        if pref == "server":
            c.check(a == b, "%s %s: server order equals nmap's" % (n, v), "mailtls %s nmap %s" % (a, b))
    v = order_decision_version(ours)
    if v and nm.get(v, {}).get("preference") in ("server", "client") and rec["tls_server_order"] is not None:
        c.check((nm[v]["preference"] == "server") == rec["tls_server_order"],
                "%s: tls_server_order %s agrees with nmap's %s at %s" % (n, rec["tls_server_order"],
                                                                         nm[v]["preference"], v))


def main():
    t0 = time.monotonic()
    # SIGTERM (a runner's timeout) still stops the servers in the finally block.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    c = enumlib.Checker()
    if not os.path.exists(enumlib.SCAN):
        c.check(False, "mailtls-scan built", enumlib.SCAN)
        return c.done()
    tmp = os.environ.get("MAILTLS_REAL_TMP", "/tmp")
    enumreal.reap_stale(tmp)
    work = tempfile.mkdtemp(prefix=enumreal.PREFIX, dir=tmp)
    servers = enumreal.Servers(work)
    try:
        try:
            servers.start()
            ok = True
        except Exception as ex:  # never a skip
            ok = False
            c.check(False, "servers started", "%s\n%s" % (ex, servers.logs()))
        if ok:
            c.check(True, "servers started on 127.0.%d.1-4 (%.1f s)" % (servers.block, time.monotonic() - t0))
            for ep in enumreal.ENDPOINTS:
                print("  %-24s %-28s %s" % (ep["name"], servers.target(ep), ep["config"]))
            targets = [servers.target(ep) for ep in enumreal.ENDPOINTS]
            key = lambda ep: "%s:%d" % (servers.ip(ep), ep["port"])  # noqa: E731

            check_referee(c, run_referee(servers))

            t = time.monotonic()
            recs = enumlib.scan(targets, "--ciphers")
            print("  mailtls --ciphers: %.2f s for %d targets" % (time.monotonic() - t, len(targets)))
            for ep in enumreal.ENDPOINTS:
                check_config(c, ep, recs.get(key(ep)))

            nms = nmap_all(servers)
            for ep in enumreal.ENDPOINTS:
                nm, raw, secs = nms[ep["name"]]
                print("  nmap %s: %.1f s" % (ep["name"], secs))
                rec = recs.get(key(ep))
                if rec and rec.get("status") == "ok":
                    check_nmap(c, ep, rec, nm, raw, servers)

            v = enumlib.scan(targets, "--tls-versions")
            for ep in enumreal.ENDPOINTS:
                r, full = v.get(key(ep)), recs.get(key(ep))
                c.check(r is not None and full is not None and r["tls_versions"] == full["tls_versions"]
                        == ep["expect"]["versions"] and r["tls_versions_tested"] == ALL_VERSIONS
                        and r["tls_ciphers"] is None and r["tls_grade"] is None,
                        ep["name"] + ": --tls-versions alone: same tls_versions, no suites, no grade",
                        r and (r["tls_versions"], r["tls_versions_tested"], r["tls_ciphers"], r["tls_grade"]))
        if c.failed:
            print(servers.logs(25))
    except Exception as ex:  # a crash is a failure, not a silent pass
        traceback.print_exc()
        c.check(False, "test ran to the end", repr(ex))
        print(servers.logs(25))
    finally:
        servers.stop()
        if os.environ.get("MAILTLS_KEEP"):
            open(os.path.join(work, "keep"), "w").close()
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("  runtime %.1f s" % (time.monotonic() - t0))
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
