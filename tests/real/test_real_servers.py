#!/usr/bin/env python3
"""mailtls-scan against real Postfix and Dovecot servers on loopback.

Starts the fixtures (fixtures.py: one Postfix instance with five smtpd
services, Dovecot "weak" and "strict" with IMAP/IMAPS/POP3/POP3S), then:

  1. fixture checks: a plain-text client confirms each STARTTLS service
     advertises what its configuration implies, and `openssl s_client`
     records the TLS version, cipher and leaf certificate each TLS service
     presents (the reference the scanner must match);
  2. scanner checks, three runs of $MAILTLS_BUILD/mailtls-scan:
       named  - every service as IP:PORT/PROTO,mail.test.example, with
                --ca-file (test root) and --probe-auth, targets from -i FILE,
                output with -o FILE;
       bare   - every service as IP:PORT/PROTO, no name, system trust store,
                no --probe-auth, targets as arguments, output on stdout;
       wrong  - TLS services as IP:PORT/PROTO,wrong.example with --ca-file,
                targets on stdin;
     and asserts the recorded facts field by field.
  3. the same scanner checks with $MAILTLS_BUILD_ASAN/mailtls-scan when that
     variable is set, plus "no sanitizer report on stderr".

Prints one line per check and ends with "N passed, M failed". Exit status 0
only when every check passed; fixtures that fail to start are a failure.
"""

import hashlib
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixtures  # noqa: E402

SCAN_TIMEOUT_S = 120       # bound on one scanner run
SCANNER_OPTS = ["--connect-timeout", "5", "--read-timeout", "10", "--timeout", "30", "-c", "8"]
WRONG_NAME = "wrong.example"

# Every record carries every field of the contract (null when unknown).
CONTRACT_FIELDS = [
    "ip", "port", "host", "protocol", "tls_mode", "status", "error", "phase", "banner",
    "caps_before_tls", "starttls_offered", "starttls_reply", "starttls_ok", "starttls_extra_bytes",
    "auth_before_tls", "plaintext_auth_before_tls", "caps_after_tls", "auth_after_tls",
    "auth_probe", "auth_probe_reply", "tls_version", "tls_cipher", "cert_subject", "cert_issuer",
    "cert_san", "cert_not_before", "cert_not_after", "cert_sha256", "cert_trusted",
    "cert_verify_error", "cert_hostname_match", "time_ms",
]

# First bytes of the fake-credential reply, per (protocol, expected verdict).
PROBE_REPLY = {
    ("smtp", "cleartext-evaluated"): "535",
    ("smtp", "tls-required"): "530",
    ("smtp", "not-offered"): "503",
}


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS %s" % name, flush=True)
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, (": " + detail) if detail else ""), flush=True)
        return ok

    def eq(self, name, got, want):
        return self.check(name, got == want, "got %r, want %r" % (got, want))


def cap_words(caps):
    """Upper-case first word of each capability line ("AUTH PLAIN" -> "AUTH")."""
    return {c.split()[0].upper() for c in (caps or []) if c.split()}


def cap_items(caps):
    return {c.strip().upper() for c in (caps or [])}


def has_cap(caps, want):
    want = want.upper()
    return want in cap_items(caps) or want in cap_words(caps)


# ------------------------------------------------------------ fixture checks

def plain_caps(svc, timeout=10):
    """Capabilities a STARTTLS service advertises in clear text (our own client)."""
    import socket
    proto = svc["expect"]["protocol"]
    s = socket.create_connection((svc["ip"], svc["port"]), timeout=timeout)
    f = s.makefile("rb")
    try:
        def line():
            l = f.readline(8192)
            if not l:
                raise OSError("connection closed")
            return l.decode("latin-1").rstrip("\r\n")
        if proto == "smtp":
            while not line().startswith("220 "):
                pass
            s.sendall(b"EHLO fixture-check.test.example\r\n")
            caps = []
            while True:
                l = line()
                caps.append(l[4:])
                if l[3:4] != "-":
                    break
            s.sendall(b"QUIT\r\n")
            return caps[1:]
        if proto == "imap":
            while "Waiting for authentication" in line():
                pass
            s.sendall(b"c CAPABILITY\r\n")
            caps = []
            while True:
                l = line()
                if l.startswith("* CAPABILITY "):
                    caps = l.split()[2:]
                if l.startswith("c "):
                    break
            s.sendall(b"q LOGOUT\r\n")
            return caps
        line()
        s.sendall(b"CAPA\r\n")
        line()
        caps = []
        while True:
            l = line()
            if l == ".":
                break
            caps.append(l)
        s.sendall(b"QUIT\r\n")
        return caps
    finally:
        s.close()


def s_client(svc, ca_file, name=fixtures.GOOD_NAME):
    """What openssl s_client sees: dict(version, cipher, sha256, verify)."""
    cmd = ["openssl", "s_client", "-connect", "%s:%d" % (svc["ip"], svc["port"]),
           "-servername", name, "-CAfile", ca_file]
    if svc["openssl_starttls"]:
        cmd += ["-starttls", svc["openssl_starttls"]]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, errors="replace", timeout=20)
    out = p.stdout
    res = dict(version=None, cipher=None, sha256=None, verify=None, raw=out)
    # "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384" is printed right after
    # the handshake; the SSL-Session block only once a TLS 1.3 ticket arrived.
    m = re.search(r"^New, (TLSv[0-9.]+|SSLv3), Cipher is (\S+)", out, re.M)
    if m:
        res["version"], res["cipher"] = m.group(1), m.group(2)
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", out, re.S)
    if m:
        res["sha256"] = hashlib.sha256(ssl.PEM_cert_to_DER_cert(m.group(0))).hexdigest()
    m = re.search(r"Verify return code: (\d+)", out)
    res["verify"] = int(m.group(1)) if m else None
    return res


def fixture_checks(c, fx):
    refs = {}
    eps = fx.endpoints
    for s in eps["services"]:
        e = s["expect"]
        n = "fixture/%s" % s["name"]
        if e["tls_mode"] == "starttls":
            try:
                caps = plain_caps(s)
            except OSError as ex:
                c.check(n + " clear-text capabilities readable", False, repr(ex))
                caps = []
            for want in e["caps_before_has"]:
                c.check("%s advertises %s before TLS" % (n, want), has_cap(caps, want), "caps %r" % caps)
            for bad in e["caps_before_lacks"]:
                c.check("%s does not advertise %s before TLS" % (n, bad), not has_cap(caps, bad),
                        "caps %r" % caps)
        if not e["tls"]:
            continue
        r = s_client(s, eps["ca_file"])
        refs[s["name"]] = r
        ok = c.check(n + " openssl s_client handshake", r["version"] and r["cipher"] and r["sha256"],
                     "s_client said:\n" + r["raw"][-1500:].replace("\0", "\\0"))
        if not ok:
            continue
        c.eq(n + " s_client chain verifies against the test root", r["verify"], 0)
        c.check(n + " s_client sees the configured leaf", r["sha256"] in e["cert_sha256_one_of"],
                "%s not in %s" % (r["sha256"], e["cert_sha256_one_of"]))
        if e.get("tls_version"):
            c.eq(n + " s_client protocol", r["version"], e["tls_version"])
    return refs


# ------------------------------------------------------------ scanner runs

def run_scanner(binary, args, stdin_text=None, out_file=None):
    """Runs the scanner; returns (returncode, records list, stdout, stderr)."""
    t0 = time.monotonic()
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    try:
        p = subprocess.run([binary] + args, input=stdin_text if stdin_text is not None else "",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace",
                           timeout=SCAN_TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired as ex:
        return None, [], ex.stdout or "", "timed out after %d s" % SCAN_TIMEOUT_S
    text = p.stdout
    if out_file:
        try:
            with open(out_file, errors="replace") as f:
                text = f.read()
        except OSError as ex:
            text = ""
            p.stderr += "\n(cannot read -o file: %s)" % ex
    records, bad = [], []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except ValueError:
            bad.append(line)
    if bad:
        p.stderr += "\n(non-JSON output lines: %r)" % bad[:5]
    print("     ($ %s %s\n      exit %s, %d records, %.1f s)" % (binary, " ".join(args),
          p.returncode, len(records), time.monotonic() - t0), flush=True)
    return p.returncode, records, text, p.stderr


def scan_and_index(c, label, binary, args, services, stdin_text=None, out_file=None):
    rc, recs, _out, err = run_scanner(binary, args, stdin_text, out_file)
    c.eq("%s exit status" % label, rc, 0)
    if (rc != 0 or len(recs) != len(services)) and err:
        print("     stderr: " + err[-2000:].replace("\n", "\n     "), flush=True)
    if "AddressSanitizer" in err or "runtime error:" in err or "LeakSanitizer" in err:
        c.check("%s no sanitizer report" % label, False, err[-3000:])
    elif "asan" in label:
        c.check("%s no sanitizer report" % label, True)
    by_key = {}
    for r in recs:
        key = (r.get("ip"), r.get("port"))
        by_key.setdefault(key, []).append(r)
    c.eq("%s one record per target" % label, sorted(len(v) for v in by_key.values()) if recs else [],
         [1] * len(services))
    missing = [s["name"] for s in services if (s["ip"], s["port"]) not in by_key]
    c.check("%s a record for every service" % label, not missing, "no record for %s" % missing)
    return {s["name"]: by_key[(s["ip"], s["port"])][0] for s in services if (s["ip"], s["port"]) in by_key}


def leaf_by_sha(pki, sha):
    for leaf in pki["leaves"].values():
        if leaf["sha256"] == sha:
            return leaf
    return None


def san_names(items):
    out = set()
    for it in items or []:
        it = str(it).strip()
        if it.upper().startswith("DNS:"):
            it = it[4:]
        out.add(it.lower())
    return out


def common_record_checks(c, n, s, r, refs, pki):
    """Checks that hold in every run, whatever the name and trust options."""
    e = s["expect"]
    c.eq(n + " every contract field present", [f for f in CONTRACT_FIELDS if f not in r], [])
    c.eq(n + " ip", r.get("ip"), s["ip"])
    c.eq(n + " port", r.get("port"), s["port"])
    c.eq(n + " protocol", r.get("protocol"), e["protocol"])
    c.eq(n + " tls_mode", r.get("tls_mode"), e["tls_mode"])
    c.eq(n + " status", r.get("status"), "ok")
    c.eq(n + " error", r.get("error"), None)
    c.eq(n + " starttls_offered", r.get("starttls_offered"), e["starttls_offered"])
    greet = "mail.test.example ESMTP Postfix" if s["server"] == "postfix" else \
        "mailtls-%s ready." % s["server"].split("-")[1]
    c.check(n + " banner is the server's greeting", greet in str(r.get("banner")),
            "banner %r lacks %r" % (r.get("banner"), greet))
    c.eq(n + " auth_before_tls", sorted(r.get("auth_before_tls") or [])
         if isinstance(r.get("auth_before_tls"), list) else r.get("auth_before_tls"), sorted(e["auth_before"]))
    c.eq(n + " plaintext_auth_before_tls", r.get("plaintext_auth_before_tls"), e["plaintext_auth_before_tls"])
    tm = r.get("time_ms")
    c.check(n + " time_ms is a plausible duration", isinstance(tm, int) and 0 <= tm <= 60000, "time_ms %r" % tm)

    caps = r.get("caps_before_tls")
    if e["tls_mode"] == "starttls":
        c.check(n + " caps_before_tls is a list", isinstance(caps, list), "got %r" % caps)
        for want in e["caps_before_has"]:
            c.check("%s caps_before_tls has %s" % (n, want), has_cap(caps, want), "caps %r" % caps)
        for bad in e["caps_before_lacks"]:
            c.check("%s caps_before_tls lacks %s" % (n, bad), not has_cap(caps, bad), "caps %r" % caps)
    else:
        c.check(n + " caps_before_tls empty on an implicit-TLS port", not caps, "got %r" % caps)

    if not e["tls"]:
        for f in ("tls_version", "tls_cipher", "cert_sha256", "cert_subject", "cert_trusted",
                  "cert_hostname_match"):
            c.eq("%s %s (no TLS)" % (n, f), r.get(f), None)
        c.check(n + " starttls_ok not true (no TLS)", r.get("starttls_ok") is not True,
                "got %r" % r.get("starttls_ok"))
        c.check(n + " auth_after_tls empty (no TLS)", not r.get("auth_after_tls"),
                "got %r" % r.get("auth_after_tls"))
        return

    if e["tls_mode"] == "starttls":
        c.eq(n + " starttls_ok", r.get("starttls_ok"), True)
        want = {"smtp": r"^220[ -]", "imap": r"\bOK\b", "pop3": r"^\+OK"}[e["protocol"]]
        c.check(n + " starttls_reply is the go-ahead", bool(re.search(want, str(r.get("starttls_reply")))),
                "starttls_reply %r" % r.get("starttls_reply"))
        c.check(n + " starttls_extra_bytes none", r.get("starttls_extra_bytes") in (0, None),
                "got %r" % r.get("starttls_extra_bytes"))
    else:
        c.eq(n + " starttls_ok (implicit)", r.get("starttls_ok"), None)

    after = r.get("caps_after_tls")
    c.check(n + " caps_after_tls non-empty", isinstance(after, list) and len(after) > 0, "got %r" % after)
    if e["tls_mode"] == "starttls":
        # Proof the capabilities were asked again inside TLS.
        stls = "STLS" if e["protocol"] == "pop3" else "STARTTLS"
        c.check("%s caps_after_tls no longer offers %s" % (n, stls), not has_cap(after, stls),
                "caps_after_tls %r" % after)
    if s["name"].startswith("strict-imap"):
        c.check(n + " caps_after_tls lacks LOGINDISABLED", not has_cap(after, "LOGINDISABLED"),
                "caps_after_tls %r" % after)
    aa = r.get("auth_after_tls")
    c.check("%s auth_after_tls has %s" % (n, "+".join(e["auth_after"])),
            isinstance(aa, list) and set(e["auth_after"]) <= {str(x).upper() for x in aa}, "got %r" % aa)

    ref = refs.get(s["name"])
    if ref and ref["sha256"]:
        c.eq(n + " tls_version = s_client's", r.get("tls_version"), ref["version"])
        c.eq(n + " tls_cipher = s_client's", r.get("tls_cipher"), ref["cipher"])
        c.eq(n + " cert_sha256 = s_client's", r.get("cert_sha256"), ref["sha256"])
    else:
        c.check(n + " s_client reference available", False, "s_client handshake failed earlier")
    if e.get("tls_version"):
        c.eq(n + " tls_version as configured", r.get("tls_version"), e["tls_version"])
    sha = r.get("cert_sha256")
    c.check(n + " cert_sha256 is a configured leaf", sha in e["cert_sha256_one_of"],
            "%r not in %r" % (sha, e["cert_sha256_one_of"]))
    c.check(n + " cert_subject names %s" % pki["subject_cn"], pki["subject_cn"] in str(r.get("cert_subject")),
            "cert_subject %r" % r.get("cert_subject"))
    c.check(n + " cert_issuer is the intermediate", pki["issuer_cn"] in str(r.get("cert_issuer")),
            "cert_issuer %r" % r.get("cert_issuer"))
    c.check(n + " cert_san has every SAN", set(pki["san"]) <= san_names(r.get("cert_san")),
            "cert_san %r" % r.get("cert_san"))
    leaf = leaf_by_sha(pki, sha)
    if leaf:
        c.eq(n + " cert_not_before", r.get("cert_not_before"), leaf["not_before"])
        c.eq(n + " cert_not_after", r.get("cert_not_after"), leaf["not_after"])


def scanner_checks(c, label, binary, fx, refs, work):
    eps = fx.endpoints
    pki = eps["pki"]
    services = eps["services"]
    tls_services = [s for s in services if s["expect"]["tls"]]

    # --- named: -i FILE, --ca-file, --probe-auth, -o FILE ---
    tfile = os.path.join(work, label + "-named-targets.txt")
    with open(tfile, "w") as f:
        f.write("# mailtls real test targets\n")
        f.writelines("%s,%s\n" % (s["target"], fixtures.GOOD_NAME) for s in services)
    out = os.path.join(work, label + "-named.ndjson")
    recs = scan_and_index(c, "%s/named" % label, binary,
                          SCANNER_OPTS + ["--ca-file", eps["ca_file"], "--probe-auth", "-o", out, "-i", tfile],
                          services, out_file=out)
    for s in services:
        n = "%s/named/%s" % (label, s["name"])
        r = recs.get(s["name"])
        if r is None:
            continue
        e = s["expect"]
        common_record_checks(c, n, s, r, refs, pki)
        c.eq(n + " host", r.get("host"), fixtures.GOOD_NAME)
        c.eq(n + " auth_probe", r.get("auth_probe"), e["auth_probe"])
        want = PROBE_REPLY.get((e["protocol"], e["auth_probe"]))
        if want:
            c.check(n + " auth_probe_reply starts %s" % want, str(r.get("auth_probe_reply")).startswith(want),
                    "auth_probe_reply %r" % r.get("auth_probe_reply"))
        if e["tls"]:
            c.eq(n + " cert_trusted (--ca-file test root)", r.get("cert_trusted"), True)
            c.eq(n + " cert_verify_error (trusted)", r.get("cert_verify_error"), None)
            c.eq(n + " cert_hostname_match (%s)" % fixtures.GOOD_NAME, r.get("cert_hostname_match"), True)

    # --- bare: targets as arguments, system trust store, no names, no probe ---
    recs = scan_and_index(c, "%s/bare" % label, binary, SCANNER_OPTS + [s["target"] for s in services],
                          services)
    for s in services:
        n = "%s/bare/%s" % (label, s["name"])
        r = recs.get(s["name"])
        if r is None:
            continue
        e = s["expect"]
        common_record_checks(c, n, s, r, refs, pki)
        c.eq(n + " host (no name)", r.get("host"), None)
        c.eq(n + " auth_probe (no --probe-auth)", r.get("auth_probe"), None)
        if e["tls"]:
            c.eq(n + " cert_trusted (system store)", r.get("cert_trusted"), False)
            ve = r.get("cert_verify_error")
            c.check(n + " cert_verify_error says why", isinstance(ve, str) and ve != "", "got %r" % ve)
            c.eq(n + " cert_hostname_match (no name)", r.get("cert_hostname_match"), None)

    # --- wrong: targets on stdin, --ca-file, a name the certificate lacks ---
    stdin = "".join("%s,%s\n" % (s["target"], WRONG_NAME) for s in tls_services)
    recs = scan_and_index(c, "%s/wrong-name" % label, binary, SCANNER_OPTS + ["--ca-file", eps["ca_file"]],
                          tls_services, stdin_text=stdin)
    for s in tls_services:
        n = "%s/wrong-name/%s" % (label, s["name"])
        r = recs.get(s["name"])
        if r is None:
            continue
        common_record_checks(c, n, s, r, refs, pki)
        c.eq(n + " host", r.get("host"), WRONG_NAME)
        c.eq(n + " cert_trusted (chain still verifies)", r.get("cert_trusted"), True)
        c.eq(n + " cert_hostname_match (%s)" % WRONG_NAME, r.get("cert_hostname_match"), False)


def main():
    # ctest's timeout and ^C: unwind through the finally that stops the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    c = Checks()
    src = os.environ.get("MAILTLS_SRC") or os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    build = os.environ.get("MAILTLS_BUILD") or os.path.join(src, "build")
    binaries = [("scan", os.path.join(build, "mailtls-scan"))]
    if os.environ.get("MAILTLS_BUILD_ASAN"):
        binaries.append(("asan", os.path.join(os.environ["MAILTLS_BUILD_ASAN"], "mailtls-scan")))

    t0 = time.monotonic()
    try:
        fx = fixtures.start()
    except Exception as ex:  # noqa: BLE001 - any failure to start is a test failure
        c.check("fixtures start", False, str(ex) if isinstance(ex, fixtures.FixtureError)
                else traceback.format_exc())
        print("%d passed, %d failed" % (c.passed, c.failed))
        return 1
    c.check("fixtures start (%.1f s, %s)" % (time.monotonic() - t0, fx.endpoints["subnet"]), True)
    work = tempfile.mkdtemp(prefix="scan-", dir=fx.dir)
    try:
        refs = fixture_checks(c, fx)
        for label, binary in binaries:
            if not c.check("%s binary %s is executable" % (label, binary), os.access(binary, os.X_OK)):
                continue
            try:
                scanner_checks(c, label, binary, fx, refs, work)
            except Exception:  # noqa: BLE001 - report and go on to the next binary
                c.check("%s checks ran to the end" % label, False, traceback.format_exc())
        if c.failed:
            print(fx.logs(max_lines=40))
    finally:
        fx.stop()
    print("(total %.1f s)" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (c.passed, c.failed))
    return 0 if c.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
