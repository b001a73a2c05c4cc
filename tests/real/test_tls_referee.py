#!/usr/bin/env python3
"""Referees for the raw TLS enumeration (issue 11): every server here is
enumerated by mailtls (--ciphers), by `nmap --script ssl-enum-ciphers` and by
`sslscan --xml=-`, and the three must agree.

Servers (all real):
  gnutls-serv legacy   NORMAL + ARCFOUR-128 + 3DES-CBC + TLS 1.0/1.1 + RSA kx
                       (RC4 and 3DES: suites Debian's OpenSSL cannot offer)
  gnutls-serv tls12    TLS 1.2 only, %SERVER_PRECEDENCE, ECDHE/DHE AEAD suites
  gnutls-serv tls13    TLS 1.3 only, groups secp384r1 then x25519
  Postfix STARTTLS     tests/real/enumreal.py endpoint postfix-25-tls12
  Dovecot STARTTLS     tests/real/enumreal.py endpoint dovecot-143-imap

Compared, per server: the versions (SSLv3 included), the suite set of each
version (IANA names), the suite order where nmap says the server chooses
("cipher preference: server"), and the key exchange groups (mailtls
tls_groups against sslscan's <group> list; a group in dispute is settled by
openssl s_client, see compare()). Any disagreement fails and prints what each
tool saw. gnutls-serv listens on every address: its ports
come from bind(0). One line per check, then "N passed, M failed".
"""
import concurrent.futures
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import enumlib  # noqa: E402
import enumreal  # noqa: E402

VERSIONS = ["SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
GNUTLS = [
    dict(name="gnutls-legacy",
         priority="NORMAL:+ARCFOUR-128:+3DES-CBC:+VERS-TLS1.0:+VERS-TLS1.1:+RSA:+DHE-RSA"),
    dict(name="gnutls-tls12",
         priority="NONE:+VERS-TLS1.2:+ECDHE-RSA:+DHE-RSA:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:+AEAD:"
                  "+SIGN-ALL:+GROUP-ALL:+COMP-NULL:%SERVER_PRECEDENCE"),
    dict(name="gnutls-tls13",
         priority="NONE:+VERS-TLS1.3:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:+AEAD:+SIGN-ALL:"
                  "+GROUP-SECP384R1:+GROUP-X25519:+ECDHE-RSA:+COMP-NULL:%SERVER_PRECEDENCE"),
]


def free_port():
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_gnutls(work, g):
    cert, key = os.path.join(work, "c.pem"), os.path.join(work, "k.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=mail.test.example"], check=True, capture_output=True)
    for _ in range(5):  # a port from bind(0) may be taken again before gnutls-serv binds it
        port = free_port()
        log = open(os.path.join(work, g["name"] + ".log"), "w")
        p = subprocess.Popen(["gnutls-serv", "-p", str(port), "--x509certfile", cert, "--x509keyfile", key,
                              "--priority", g["priority"], "--echo", "-q"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and p.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return p, port
            except OSError:
                time.sleep(0.05)
        p.kill()
        p.wait()
    raise RuntimeError("gnutls-serv %s did not start: %s" % (g["name"], open(log.name).read()[-500:]))


_OSSL = None


def iana(name, version):
    """A suite name as nmap or sslscan print it -> the IANA name."""
    global _OSSL
    if _OSSL is None:
        out = subprocess.run(["openssl", "ciphers", "-stdname", "-v", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                             capture_output=True, text=True, check=True).stdout
        _OSSL = {p[2]: p[0] for p in (l.split() for l in out.splitlines()) if len(p) >= 3 and p[1] == "-"}
    if name.startswith("TLS_AKE_WITH_"):  # nmap 7.93's TLS 1.3 names
        return "TLS_" + name[len("TLS_AKE_WITH_"):]
    if name.startswith("TLS_") or name.startswith("SSL_"):
        return name
    return _OSSL.get(name, "?" + name)


def run_nmap(ip, port):
    return enumlib.nmap_enum(ip, port, timeout=120, force=True, name_of=iana)


def run_sslscan(ip, port, starttls):
    cmd = ["sslscan", "--xml=-", "--no-colour", "--no-heartbleed"]
    if starttls:
        cmd.append("--starttls-" + starttls)
    cmd.append("%s:%d" % (ip, port))
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    root = ET.fromstring(out[out.index("<?xml"):])
    res = {"versions": set(), "ciphers": {}, "groups": set()}
    for p in root.iter("protocol"):
        if p.get("enabled") == "1":
            v = ("SSLv" if p.get("type") == "ssl" else "TLSv") + p.get("version")
            res["versions"].add({"TLSv1.0": "TLSv1"}.get(v, v))
    for c in root.iter("cipher"):
        v = {"TLSv1.0": "TLSv1"}.get(c.get("sslversion"), c.get("sslversion"))
        res["ciphers"].setdefault(v, set()).add(iana(c.get("cipher"), v))
    for g in root.iter("group"):
        res["groups"].add(g.get("name").split()[0])
    return res, out


def compare(c, name, target, rec, nm, ss):
    if not c.check(rec is not None and rec.get("tls_version"), name + ": mailtls reached TLS",
                   rec and (rec.get("status"), rec.get("error"))):
        return
    mine_v = set(rec["tls_versions"] or []) | ({"SSLv3"} if rec["sslv3"] else set())
    c.check(rec["tls_enum_incomplete"] is None, name + ": mailtls decided everything", rec["tls_enum_incomplete"])
    c.check(mine_v == set(nm) == ss["versions"], name + ": versions agree",
            "mailtls %s nmap %s sslscan %s" % (sorted(mine_v), sorted(nm), sorted(ss["versions"])))
    suites = rec["tls_ciphers"] or {}
    for v in VERSIONS:
        a = suites.get(v, [])
        b = nm.get(v, {}).get("ciphers", [])
        s = ss["ciphers"].get(v, set())
        if not (a or b or s):
            continue
        c.check(set(a) == set(b) == s and len(a) == len(set(a)),
                "%s %s: suite sets agree (%d)" % (name, v, len(a)),
                "\n  mailtls only %s\n  nmap only %s\n  sslscan only %s\n  mailtls %s" % (
                    sorted(set(a) - set(b) - s), sorted(set(b) - set(a)), sorted(s - set(a)), a))
        if nm.get(v, {}).get("preference") == "server" and len(b) >= 2:
            c.check(a == b, "%s %s: server order agrees with nmap" % (name, v), "mailtls %s\n  nmap %s" % (a, b))
    if ss["groups"]:
        # sslscan offers one group at a time; at TLS 1.2 that also drops the
        # curve of an ECDSA certificate, so it misses groups such a server
        # uses (Postfix with P-256 sees only secp256r1). Every group in
        # dispute goes to openssl s_client; the check holds only if it sides
        # with mailtls on each one.
        mine_g = set(rec["tls_groups"] or [])
        settled = True
        for g in sorted(mine_g ^ ss["groups"]):
            seen, tr = group_referee(target, "TLSv1.3" in mine_v, g)
            print("referee %s %s (mailtls %s, sslscan %s): openssl s_client used it: %s\n%s" % (
                name, g, g in mine_g, g in ss["groups"], seen, tr))
            settled &= seen == (g in mine_g)
        c.check(settled, name + ": groups agree with sslscan or the referee (%d)" % len(mine_g),
                "mailtls %s sslscan %s" % (sorted(mine_g), sorted(ss["groups"])))


# OpenSSL's names for the groups and for its "Server Temp Key" line
OSSL_GROUP = {"x25519": ("X25519", "X25519"), "x448": ("X448", "X448"), "secp256r1": ("P-256", "prime256v1"),
              "secp384r1": ("P-384", "secp384r1"), "secp521r1": ("P-521", "secp521r1")}


def group_referee(target, tls13, g):
    """openssl s_client offering g first and P-256 second (the curve of an
    ECDSA certificate must be listed at TLS 1.2, which sslscan, offering one
    group at a time, does not do): which group did the key exchange use?"""
    ip, port, starttls = target
    offer, temp = OSSL_GROUP.get(g, (g, g))
    cmd = ["openssl", "s_client", "-connect", "%s:%d" % (ip, port), "-tls1_3" if tls13 else "-tls1_2",
           "-groups", offer + (":P-256" if offer != "P-256" else "")]
    if starttls:
        cmd += ["-starttls", starttls]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20)
    line = next((l for l in r.stdout.splitlines() if l.startswith("Server Temp Key:")), "")
    return (temp in line), "    $ %s\n    %s" % (" ".join(cmd), line or "(no key exchange)")


def main():
    t0 = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    c = enumlib.Checker()
    for tool in ("gnutls-serv", "nmap", "sslscan"):
        if not shutil.which(tool):
            c.check(False, tool + " installed")
            return c.done()
    tmp = os.environ.get("MAILTLS_REAL_TMP", "/tmp")
    enumreal.reap_stale(tmp)
    work = tempfile.mkdtemp(prefix=enumreal.PREFIX, dir=tmp)
    procs, mail = [], enumreal.Servers(work)
    try:
        targets = []  # (name, ip, port, mailtls target, sslscan starttls)
        for g in GNUTLS:
            p, port = start_gnutls(work, g)
            procs.append(p)
            targets.append((g["name"], "127.0.0.1", port, "127.0.0.1:%d/smtps" % port, None))
        mail.start()
        for ep in enumreal.ENDPOINTS:
            if ep["name"] in ("postfix-25-tls12", "dovecot-143-imap"):
                targets.append((ep["name"], mail.ip(ep), ep["port"], mail.target(ep), ep["starttls"]))
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            nmaps = {t[0]: pool.submit(run_nmap, t[1], t[2]) for t in targets}
            scans = {t[0]: pool.submit(run_sslscan, t[1], t[2], t[4]) for t in targets}
            recs = enumlib.scan([t[3] for t in targets], "--ciphers", "--read-timeout", "2")
            for name, ip, port, _, starttls in targets:
                nm, nraw = nmaps[name].result()
                ss, sraw = scans[name].result()
                if not c.check(nm, name + ": nmap reported", nraw[-500:]):
                    continue
                compare(c, name, (ip, port, starttls), recs.get("%s:%d" % (ip, port)), nm, ss)
    except Exception as ex:
        traceback.print_exc()
        c.check(False, "test ran to the end", repr(ex))
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=5)
        mail.stop()
        if not os.environ.get("MAILTLS_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
        print("  runtime %.1f s" % (time.monotonic() - t0))
    return c.done()


if __name__ == "__main__":
    sys.exit(main())
