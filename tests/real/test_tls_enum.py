#!/usr/bin/env python3
"""--tls-versions / --ciphers / chain facts / --save-certs against real TLS
servers (Python's ssl over the system OpenSSL, started here on
127.0.11.1-5, standard ports so nmap's ssl-enum-ciphers runs without -sV).

For each server the versions and suites mailtls reports must equal both
what the configuration implies and what `nmap --script ssl-enum-ciphers`
reports against the same server (sets per version; order too when the
server enforces its own). Then the chain facts, the weak flags and grade,
--save-certs, and --per-ip (overlap of test connections seen by the server).
"""
import glob
import hashlib
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import enumlib  # noqa: E402
import enumsrv  # noqa: E402

TLS13_CONF = """openssl_conf = default_conf
[default_conf]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Ciphersuites = TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256
"""


def servers(pki):
    P = lambda n: os.path.join(pki, n)
    return [
        dict(name="legacy", target="127.0.11.1:465/smtps",
             cfg=dict(ip="127.0.11.1", port=465, mode="implicit", min="TLSv1", max="TLSv1.1",
                      ciphers="ALL:@SECLEVEL=0", server_order=False, dhparam=P("dh1024.pem"),
                      certs=[[P("rsa.pem"), P("rsa.key")]]),
             expect=dict(versions=["TLSv1", "TLSv1.1"], server_order=False, grade="F",
                         weak={"TLSv1", "TLSv1.1", "anonymous", "DH-1024"}, cert_key="RSA-2048",
                         chain=2, self_signed=False, expired=False)),
        dict(name="tls12", target="127.0.11.2:25/smtp",
             cfg=dict(ip="127.0.11.2", port=25, mode="starttls", min="TLSv1.2", max="TLSv1.2",
                      ciphers="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-CHACHA20-POLY1305",
                      server_order=True, certs=[[P("ec.pem"), P("ec.key")]]),
             expect=dict(versions=["TLSv1.2"], server_order=True, grade="A", weak=set(),
                         ciphers={"TLSv1.2": ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-SHA",
                                              "ECDHE-ECDSA-CHACHA20-POLY1305"]},
                         cert_key="EC-P-256", chain=2, self_signed=False, expired=False)),
        dict(name="tls13", target="127.0.11.3:465/smtps", openssl_conf=TLS13_CONF,
             cfg=dict(ip="127.0.11.3", port=465, mode="implicit", min="TLSv1.3", max="TLSv1.3",
                      server_order=True, certs=[[P("expired.pem"), P("expired.key")]]),
             expect=dict(versions=["TLSv1.3"], server_order=True, grade="A", weak=set(),
                         ciphers={"TLSv1.3": ["TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_GCM_SHA256"]},
                         cert_key="RSA-2048", chain=2, self_signed=False, expired=True)),
        dict(name="imap", target="127.0.11.4:143/imap",
             cfg=dict(ip="127.0.11.4", port=143, mode="starttls", proto="imap", min="TLSv1.2", max="TLSv1.3",
                      ciphers="ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:AES128-SHA:@SECLEVEL=0",
                      server_order=False, dhparam=P("dh1024.pem"), certs=[[P("self.pem"), P("self.key")]]),
             expect=dict(versions=["TLSv1.2", "TLSv1.3"], grade="C", weak={"DH-1024"},
                         cert_key="RSA-2048", chain=1, self_signed=True, expired=False)),
    ]


def check_server(c, s, rec, nm):
    n, e = s["name"], s["expect"]
    c.check(rec is not None and rec["status"] == "ok", n + ": main probe ok", rec and rec.get("error"))
    if rec is None:
        return
    c.check(rec["tls_versions"] == e["versions"], n + ": versions match the configuration", rec["tls_versions"])
    c.check(rec["tls_versions_tested"] == ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"], n + ": all four tested",
            rec["tls_versions_tested"])
    c.check(rec["tls_enum_incomplete"] is None, n + ": nothing undecided", rec["tls_enum_incomplete"])
    c.check(sorted(nm) == sorted(rec["tls_versions"]), n + ": versions equal nmap's", sorted(nm))
    ours = enumlib.ciphers_by_version(rec)
    for v in rec["tls_versions"]:
        mine = [enumlib.iana_name(x) for x in ours.get(v, [])]
        theirs = nm.get(v, {}).get("ciphers", [])
        c.check(sorted(mine) == sorted(theirs), "%s %s: suites equal nmap's (%d)" % (n, v, len(theirs)),
                "mailtls %s nmap %s" % (sorted(mine), sorted(theirs)))
        pref = nm.get(v, {}).get("preference")
        if pref == "server":
            c.check(mine == theirs, "%s %s: server order equals nmap's" % (n, v), (mine, theirs))
    if "ciphers" in e:
        c.check(ours == e["ciphers"], n + ": suites and order match the configuration", ours)
    if "server_order" in e:
        c.check(rec["tls_server_order"] is e["server_order"], n + ": tls_server_order", rec["tls_server_order"])
        top = rec["tls_versions"][-1]
        if top in nm and nm[top]["preference"] in ("server", "client"):
            c.check((nm[top]["preference"] == "server") == e["server_order"], n + ": nmap agrees on the order",
                    nm[top]["preference"])
    c.check(set(rec["tls_weak"]) == e["weak"], n + ": tls_weak", rec["tls_weak"])
    c.check(rec["tls_grade"] == e["grade"], n + ": tls_grade " + e["grade"], rec["tls_grade"])
    c.check(rec["cert_key"] == e["cert_key"], n + ": cert_key", rec["cert_key"])
    c.check(rec["cert_chain_len"] == e["chain"], n + ": cert_chain_len", rec["cert_chain_len"])
    c.check(rec["cert_self_signed"] is e["self_signed"], n + ": cert_self_signed", rec["cert_self_signed"])
    days = rec["cert_days_left"]
    c.check(days is not None and ((days < -2000) if e["expired"] else (0 < days <= 20)), n + ": cert_days_left", days)
    c.check(rec["cert_sig_alg"] == ("sha256WithRSAEncryption"), n + ": cert_sig_alg", rec["cert_sig_alg"])
    c.check(rec["ocsp_stapled"] is False, n + ": ocsp_stapled false", rec["ocsp_stapled"])
    c.check(bool(rec["tls_group"]), n + ": tls_group set", rec["tls_group"])


def check_save_certs(c, pki, targets, work):
    d = os.path.join(work, "certs")
    os.mkdir(d)
    for _ in range(2):  # the second run finds every file already there
        recs = enumlib.scan(targets, "--save-certs", d)
    files = sorted(os.listdir(d))
    want = set()
    for name in ("rsa.pem", "ec.pem", "expired.pem", "self.pem"):
        for pem in open(os.path.join(pki, name)).read().split("-----END CERTIFICATE-----")[:-1]:
            der = ssl.PEM_cert_to_DER_cert(pem.strip() + "\n-----END CERTIFICATE-----\n")
            want.add(hashlib.sha256(der).hexdigest() + ".pem")
    c.check(set(files) == want, "--save-certs: one file per distinct certificate (%d)" % len(want), files)
    ok = True
    for f in files:
        der = ssl.PEM_cert_to_DER_cert(open(os.path.join(d, f)).read())
        ok &= hashlib.sha256(der).hexdigest() + ".pem" == f
    c.check(ok and files, "--save-certs: file names are the SHA-256 of their content")
    c.check(all(r["status"] == "ok" for r in recs.values()), "--save-certs: scans ok")


def chain_hashes(pki, *names):
    want = set()
    for name in names:
        for pem in open(os.path.join(pki, name)).read().split("-----END CERTIFICATE-----")[:-1]:
            der = ssl.PEM_cert_to_DER_cert(pem.strip() + "\n-----END CERTIFICATE-----\n")
            want.add(hashlib.sha256(der).hexdigest() + ".pem")
    return want


def check_dual_certs(c, srv, pki, work):
    """A server with an RSA and an ECDSA chain (one OpenSSL context, both loaded): the main probe
    sees the ECDSA one, the RSA chain only comes in the raw answers to RSA-auth suites."""
    cfg = dict(ip="127.111.11.6", port=465, mode="implicit", min="TLSv1.2", max="TLSv1.2", server_order=True,
               ciphers="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA",
               certs=[[os.path.join(pki, "rsa.pem"), os.path.join(pki, "rsa.key")],
                      [os.path.join(pki, "ec.pem"), os.path.join(pki, "ec.key")]])
    srv.start("dual", cfg)
    d = os.path.join(work, "dualcerts")
    os.mkdir(d)
    rec = enumlib.scan(["127.111.11.6:465/smtps"], "--ciphers", "--save-certs", d).get("127.111.11.6:465")
    c.check(rec and rec["cert_key"] == "EC-P-256", "dual: the main probe saw the ECDSA chain", rec and rec["cert_key"])
    c.check(rec and enumlib.ciphers_by_version(rec).get("TLSv1.2") ==
            ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "AES128-SHA"],
            "dual: suites of both certificates found", rec and rec["tls_ciphers"])
    files = set(os.listdir(d))
    want = chain_hashes(pki, "rsa.pem", "ec.pem")
    c.check(files == want, "dual --ciphers --save-certs: both chains saved (%d files)" % len(want), sorted(files))
    d2 = os.path.join(work, "dualcerts2")
    os.mkdir(d2)
    enumlib.scan(["127.111.11.6:465/smtps"], "--save-certs", d2)
    c.check(set(os.listdir(d2)) == chain_hashes(pki, "ec.pem"), "dual --save-certs alone: the probe's chain only",
            sorted(os.listdir(d2)))


# The server logs a connection's end when its handler returns, a little after
# the client closed (longer under ASan): ends are moved back by this much so
# that a connection launched right after the previous one closed does not
# count as overlapping. A real second simultaneous connection overlaps for the
# whole 0.3 s the server holds it.
CLOSE_NOTICE_S = 0.1


def overlap(intervals):
    intervals = [(a, max(a, b - CLOSE_NOTICE_S)) for a, b in intervals]
    ev = sorted([(a, 1) for a, b in intervals] + [(b, -1) for a, b in intervals])
    cur = peak = 0
    for _, d in ev:
        cur += d
        peak = max(peak, cur)
    return peak


def check_per_ip(c, srv, pki, work):
    """Two ports of one address; each test connection held 0.3 s by the server."""
    for per_ip in (1, 2):
        log = os.path.join(work, "slow%d.log" % per_ip)
        cfg = dict(ip="127.0.11.5", ports=[465, 2465], mode="implicit", min="TLSv1.2", max="TLSv1.2",
                   certs=[[os.path.join(pki, "ec.pem"), os.path.join(pki, "ec.key")]], delay_s=0.3, log=log)
        p = srv.start("slow%d" % per_ip, cfg)
        time.sleep(cfg["delay_s"] + 0.3)  # the readiness connections are logged
        skip = sum(1 for _ in open(log))
        enumlib.scan(["127.0.11.5:465/smtps", "127.0.11.5:2465/smtps"], "--tls-versions", "--per-ip", str(per_ip))
        p.terminate()
        p.wait(timeout=5)
        conns = [l.split() for l in open(log)][skip:]
        first = {}
        for port, a, b in sorted(conns, key=lambda x: float(x[1])):
            first.setdefault(port, (a, b))
        tests = [(float(a), float(b)) for port, a, b in conns if (a, b) != first[port]]
        # SSLv2, SSLv3, TLSv1, TLSv1.1, TLSv1.3: one raw hello each
        c.check(len(tests) == 10, "--per-ip %d: 5 version tests per port (TLSv1.2 known from the probe)" % per_ip,
                len(tests))
        c.check(overlap(tests) == per_ip, "--per-ip %d: at most %d test connections at once" % (per_ip, per_ip),
                overlap(tests))


def main():
    c = enumlib.Checker()
    work = tempfile.mkdtemp(prefix="mailtls-enum-")
    srv = enumlib.Servers(work)
    try:
        pki = enumsrv.make_pki(os.path.join(work, "pki"))
        ss = servers(pki)
        for s in ss:
            srv.start(s["name"], s["cfg"], s.get("openssl_conf"))
        targets = [s["target"] for s in ss]
        recs = enumlib.scan(targets, "--ciphers")
        for s in ss:
            ip, port = s["cfg"]["ip"], s["cfg"]["port"]
            nm, raw = enumlib.nmap_enum(ip, port)
            if not c.check(nm, s["name"] + ": nmap reported something", raw[-400:]):
                continue
            check_server(c, s, recs.get("%s:%d" % (ip, port)), nm)
        v = enumlib.scan(targets, "--tls-versions")
        for s in ss:
            rec = v.get("%s:%d" % (s["cfg"]["ip"], s["cfg"]["port"]))
            c.check(rec and rec["tls_versions"] == s["expect"]["versions"] and rec["tls_ciphers"] is None
                    and rec["tls_grade"] is None, s["name"] + ": --tls-versions alone: versions, no suites, no grade",
                    rec and (rec["tls_versions"], rec["tls_ciphers"], rec["tls_grade"]))
        check_save_certs(c, pki, targets, work)
        check_per_ip(c, srv, pki, work)
        check_dual_certs(c, srv, pki, work)
    except Exception as ex:  # a crash is a failure, not a silent pass
        import traceback
        traceback.print_exc()
        c.check(False, "test ran to the end", repr(ex))
    finally:
        srv.stop()
        if not os.environ.get("MAILTLS_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        else:
            print("kept", work)
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
