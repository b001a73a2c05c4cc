#!/usr/bin/env python3
"""test_policy.py - mailtls-scan --mx --policy against real DNSSEC.

Builds, at test time and in a fresh directory:
  * a test CA and leaves (exchangers mx1-mx6, every MTA-STS host, another
    name) with openssl;
  * mailtls-farm on 0.0.0.0:PORT with the exchangers' leaf and the CA
    (every 127.x.y.z is a STARTTLS mail server; mx7 is not in the leaf,
    mx9 is blocklisted);
  * nginx on 127.112.3.N:443 (and [::1]:443 for a policy host with only AAAA) serving MTA-STS policies: enforce, testing,
    none, a redirect, a 404, 70 KB, text/html, a certificate for another
    name, max_age too big (and one policy host without an address);
  * the zone pol.test., signed with ldns-keygen/ldns-signzone (ECDSA P-256,
    NSEC3), then two of its RRsets altered after signing (bogus), and the
    unsigned zone plain.test.;
  * unbound #1 on 127.112.0.53 serving both zones (auth-zone), unbound #2
    on 127.112.0.54, validating (trust anchor: the DS of pol.test.),
    reaching #1 through stub zones. Both refuse every other name.

Then one scan asserts every policy field of every domain record (written
after the probes of its exchangers), the DANE check of each probe's
handshake (dane_match, cert_trusted kept as the PKIX verdict) and the
mailtls-stats policy counts; the scan is repeated with --threads 2, and
--policy without --mx must be refused. With MAILTLS_BUILD_ASAN set the scan is repeated with that
build and its stderr must hold no sanitizer report. Prints PASS/FAIL lines
and "N passed, M failed"; exit 0 only when nothing failed.
"""
import hashlib
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SRC = os.environ.get("MAILTLS_SRC", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD = os.environ.get("MAILTLS_BUILD", os.path.join(SRC, "build"))
ASAN = os.environ.get("MAILTLS_BUILD_ASAN")
AUTH, VAL, DNS_PORT = "127.112.0.53", "127.112.0.54", 5353
WRONG = "ab" * 32

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}")
    else:
        failed += 1
        print(f"FAIL {name}: {detail}")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60, **kw)


def free_port():
    s = socket.socket()
    s.bind(("0.0.0.0", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make_leaf(d, ca, ca_key, name, sans):
    key, csr, leaf = (os.path.join(d, f"{name}.{x}") for x in ("key", "csr", "pem"))
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
         "-out", csr, "-subj", f"/CN={sans[0]}"])
    ext = os.path.join(d, f"{name}.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=" + ",".join("DNS:" + n for n in sans) +
                "\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", leaf,
         "-days", "2", "-extfile", ext])
    return leaf, key


def make_pki(d):
    """CA; a leaf for every exchanger, one for every MTA-STS host, one for another name."""
    ca_key, ca = os.path.join(d, "ca.key"), os.path.join(d, "ca.pem")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", ca_key, "-out", ca, "-days", "2", "-subj", "/CN=mailtls policy test CA",
         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign"])
    leaf, key = make_leaf(d, ca, ca_key, "leaf", [f"mx{i}.pol.test" for i in range(1, 7)] + ["mx.plain.test"])
    make_leaf(d, ca, ca_key, "web", [f"mta-sts.{dom}" for dom, _, _ in STS_HOSTS])
    make_leaf(d, ca, ca_key, "other", ["other.pol.test"])
    # the farm sends leaf and CA: DANE-TA (usage 2) needs the anchor in the chain (RFC 7671 5.2.2)
    chain = os.path.join(d, "chain.pem")
    with open(chain, "w") as f:
        f.write(open(leaf).read() + open(ca).read())
    return ca, leaf, key


def der_of(pem_path, spki=False):
    if spki:
        pub = run(["openssl", "x509", "-in", pem_path, "-pubkey", "-noout"]).stdout
        return subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub.encode(),
                              capture_output=True, check=True).stdout
    return subprocess.run(["openssl", "x509", "-in", pem_path, "-outform", "DER"], capture_output=True,
                          check=True).stdout


GOOD = "version: STSv1\\nmode: {mode}\\n{mx}max_age: 86400\\n"

# MTA-STS policy hosts: (domain, nginx address, location body); nginx answers on 127.112.3.N:443
STS_HOSTS = [
    ("d1.pol.test", "127.112.3.1", 'default_type text/plain; return 200 "' +
     GOOD.format(mode="enforce", mx="mx: mx1.pol.test\\n") + '";'),
    ("s1.pol.test", "127.112.3.11", 'default_type "text/plain; charset=utf-8"; return 200 "' +
     GOOD.format(mode="testing", mx="mx: *.pol.test\\nmx: backup.example\\n") + '";'),
    ("s2.pol.test", "127.112.3.12", 'default_type text/plain; return 200 "' + GOOD.format(mode="none", mx="") + '";'),
    ("s3.pol.test", "127.112.3.13", 'default_type text/plain; return 200 "' +
     GOOD.format(mode="enforce", mx="mx: mail.elsewhere.example\\n") + '";'),
    ("s5.pol.test", "127.112.3.15", "return 301 https://mta-sts.s1.pol.test/.well-known/mta-sts.txt;"),
    ("s6.pol.test", "127.112.3.16", "return 404;"),
    ("s7.pol.test", "127.112.3.17", "default_type text/plain; alias {dir}/big.txt;"),
    ("s8.pol.test", "127.112.3.18", 'default_type text/html; return 200 "' +
     GOOD.format(mode="enforce", mx="mx: mx6.pol.test\\n") + '";'),
    ("s9.pol.test", "127.112.3.19", 'default_type text/plain; return 200 "' +
     GOOD.format(mode="enforce", mx="mx: mx6.pol.test\\n") + '";'),
    ("s12.pol.test", "127.112.3.22", 'default_type text/plain; return 200 "' +
     GOOD.format(mode="enforce", mx="mx: *.pol.test\\n") + '";'),
    ("s13.pol.test", "127.112.3.23", 'default_type text/plain; return 200 "' +
     GOOD.format(mode="testing", mx="mx: *.pol.test\\n") + '";'),
    # the policy host has only an AAAA record: fetched over IPv6 (::1)
    ("s14.pol.test", "::1", 'default_type text/plain; return 200 "' +
     GOOD.format(mode="testing", mx="mx: mx6.pol.test\\n") + '";'),
    ("s10.pol.test", "127.112.3.20", 'default_type text/plain; return 200 "version: STSv1\\nmode: enforce\\n'
     'mx: mx6.pol.test\\nmax_age: 31557601\\n";'),
]
OTHER_CERT = {"s9.pol.test"}  # nginx shows a certificate for another name

POL_ZONE = """$ORIGIN pol.test.
$TTL 300
@ IN SOA ns.pol.test. h.pol.test. 1 3600 600 86400 300
@ IN NS ns.pol.test.
ns IN A 127.112.0.53
{hosts}
_25._tcp.mx1 IN TLSA 3 1 1 {spki}
_25._tcp.mx2 IN TLSA 3 1 1 {wrong}
_25._tcp.mx3 IN TLSA 3 1 1 {spki}
_25._tcp.mx4 IN TLSA 0 0 1 {ca}
_25._tcp.mx5 IN TLSA 2 0 1 {ca}
d1 IN MX 10 mx1
_mta-sts.d1 IN TXT "v=STSv1; id=abc123;"
_smtp._tls.d1 IN TXT "v=TLSRPTv1; rua=mailto:tls@d1.pol.test"
d2 IN MX 10 mx2
_mta-sts.d2 IN TXT "v=STSv1; id=bad-id!"
_smtp._tls.d2 IN TXT "v=TLSRPTv1; rua=ftp://d2.pol.test/"
d3 IN MX 10 mx3
_mta-sts.d3 IN TXT "v=STSv1; id=one"
_mta-sts.d3 IN TXT "v=STSv1; id=two"
d4 IN MX 10 mx4
d5 IN MX 10 mx5
d6 IN MX 10 mx6
d7 IN MX 10 mx.plain.test.
d8 IN MX 10 mx6
d9 IN MX 10 mx1
d9 IN MX 20 mx6
mx9 IN A 127.112.1.9
_25._tcp.mx9 IN TLSA 3 1 1 {spki}
u1 IN MX 10 mx9
s11 IN MX 10 mx6
_mta-sts.s11 IN TXT "v=STSv1; id=nohost"
{sts}
"""

PLAIN_ZONE = """$ORIGIN plain.test.
$TTL 300
@ IN SOA ns.plain.test. h.plain.test. 1 3600 600 86400 300
@ IN NS ns.plain.test.
ns IN A 127.112.0.53
mx IN A 127.112.2.1
_25._tcp.mx IN TLSA 3 1 1 {spki}
p1 IN MX 10 mx
"""

COMMON = """server:
    interface: {ip}@{port}
    port: {port}
    do-ip6: no
    do-daemonize: no
    use-syslog: no
    logfile: ""
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: ""
    verbosity: 1
    num-threads: 1
    access-control: 127.0.0.0/8 allow
    local-zone: "." refuse
    local-zone: "test." nodefault
    local-zone: "pol.test." transparent
    local-zone: "plain.test." transparent
"""


def make_zones(d, spki_hash, ca_hash):
    hosts = "\n".join(f"mx{i} IN A 127.112.1.{i}" for i in range(1, 8))  # mx7: not in the farm's cert
    zone = os.path.join(d, "pol.test.zone")
    with open(zone, "w") as f:
        sts = []
        for dom, ip, _ in STS_HOSTS:
            lab = dom.split(".")[0]
            if lab != "d1":
                sts.append(f"{lab} IN MX 10 {'mx7' if lab in ('s12', 's13') else 'mx6'}")
            sts.append(f'_mta-sts.{lab} IN TXT "v=STSv1; id={lab}x1"' if lab != "d1" else "")
            sts.append(f"mta-sts.{lab} IN {'AAAA' if ':' in ip else 'A'} {ip}")
        f.write(POL_ZONE.format(hosts=hosts, spki=spki_hash, wrong=WRONG, ca=ca_hash, sts="\n".join(sts)))
    with open(os.path.join(d, "plain.test.zone"), "w") as f:
        f.write(PLAIN_ZONE.format(spki=spki_hash))
    ksk = run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", "pol.test"], cwd=d).stdout.strip()
    zsk = run(["ldns-keygen", "-a", "ECDSAP256SHA256", "pol.test"], cwd=d).stdout.strip()
    run(["ldns-signzone", "-n", "pol.test.zone", ksk, zsk], cwd=d)
    signed = open(zone + ".signed").read()
    # after signing: mx3's TLSA and d8's MX no longer match their RRSIGs
    n3 = signed.count(f"3 1 1 {spki_hash}")
    signed = signed.replace(f"_25._tcp.mx3.pol.test.\t300\tIN\tTLSA\t3 1 1 {spki_hash}",
                            f"_25._tcp.mx3.pol.test.\t300\tIN\tTLSA\t3 1 1 {WRONG}")
    signed = signed.replace("d8.pol.test.\t300\tIN\tMX\t10 mx6.pol.test.", "d8.pol.test.\t300\tIN\tMX\t20 mx6.pol.test.")
    if signed.count(f"3 1 1 {spki_hash}") != n3 - 1 or "MX\t20 mx6" not in signed:
        raise RuntimeError("could not alter the signed zone (ldns-signzone output format changed?)")
    with open(zone + ".signed", "w") as f:
        f.write(signed)
    ds = open(os.path.join(d, ksk + ".ds")).read().split()
    return " ".join(ds)


def port_open(ip, port):
    try:
        socket.create_connection((ip, port), 0.5).close()
        return True
    except OSError:
        return False


def start_unbound(d, name, conf, procs):
    path = os.path.join(d, name + ".conf")
    with open(path, "w") as f:
        f.write(conf)
    log = open(os.path.join(d, name + ".log"), "w")
    procs.append(subprocess.Popen(["unbound", "-d", "-c", path], stdout=log, stderr=subprocess.STDOUT))


def dns_ready(ip, name, qtype, timeout=15):
    q = b"".join(bytes([len(x)]) + x.encode() for x in name.split(".")) + b"\0"
    pkt = struct.pack(">HHHHHH", 7, 0x0100, 1, 0, 0, 0) + q + struct.pack(">HH", qtype, 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.2)
    end = time.time() + timeout
    try:
        while time.time() < end:
            try:
                s.sendto(pkt, (ip, DNS_PORT))
                r, _ = s.recvfrom(4096)
                if len(r) > 12 and r[3] & 0xF == 0 and struct.unpack(">H", r[6:8])[0] > 0:
                    return True
            except OSError:
                time.sleep(0.1)
        return False
    finally:
        s.close()


def start_all(d):
    procs = []
    ca, leaf, key = make_pki(d)
    spki_hash = hashlib.sha256(der_of(leaf, spki=True)).hexdigest()
    ca_hash = hashlib.sha256(der_of(ca)).hexdigest()
    ds = make_zones(d, spki_hash, ca_hash)
    start_unbound(d, "auth", COMMON.format(ip=AUTH, port=DNS_PORT, dir=d) + f"""auth-zone:
    name: "pol.test."
    zonefile: "{d}/pol.test.zone.signed"
    for-downstream: yes
    for-upstream: no
auth-zone:
    name: "plain.test."
    zonefile: "{d}/plain.test.zone"
    for-downstream: yes
    for-upstream: no
remote-control:
    control-enable: no
""", procs)
    start_unbound(d, "val", COMMON.format(ip=VAL, port=DNS_PORT, dir=d) + f"""    module-config: "validator iterator"
    do-not-query-localhost: no
    qname-minimisation: no
    trust-anchor: "{ds}"
stub-zone:
    name: "pol.test."
    stub-addr: {AUTH}@{DNS_PORT}
stub-zone:
    name: "plain.test."
    stub-addr: {AUTH}@{DNS_PORT}
remote-control:
    control-enable: no
""", procs)
    with open(os.path.join(d, "big.txt"), "w") as f:
        f.write(GOOD.replace("\\n", "\n").format(mode="testing", mx="mx: mx6.pol.test\n") + "#" * 70000 + "\n")
    servers = []
    for dom, ip, body in STS_HOSTS:
        cert = "other" if dom in OTHER_CERT else "web"
        servers.append(f"""    server {{
        listen {'[' + ip + ']' if ':' in ip else ip}:443 ssl;
        ssl_certificate {d}/{cert}.pem;
        ssl_certificate_key {d}/{cert}.key;
        location = /.well-known/mta-sts.txt {{ {body.format(dir=d)} }}
        location / {{ return 404; }}
    }}""")
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(f"""daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {d}/nb; proxy_temp_path {d}/np; fastcgi_temp_path {d}/nf;
    uwsgi_temp_path {d}/nu; scgi_temp_path {d}/ns;
    server_tokens off;
{chr(10).join(servers)}
}}
""")
    nlog = open(os.path.join(d, "nginx.out"), "w")
    procs.append(subprocess.Popen(["nginx", "-p", d, "-c", os.path.join(d, "nginx.conf")], stdout=nlog,
                                  stderr=subprocess.STDOUT))
    port, sport = free_port(), free_port()
    ready = os.path.join(d, "farm.ready")
    flog = open(os.path.join(d, "farm.log"), "w")
    procs.append(subprocess.Popen([os.path.join(BUILD, "mailtls-farm"), "--bind", "0.0.0.0", "--smtp", str(port),
                                   "--smtps", str(sport), "--imap", "none", "--imaps", "none", "--pop3", "none",
                                   "--pop3s", "none", "--profiles", "starttls-auth=1", "--cert", os.path.join(d, "chain.pem"), "--key",
                                   key, "--ready-file", ready], stdout=flog, stderr=subprocess.STDOUT))
    end = time.time() + 10
    while time.time() < end and not os.path.exists(ready):
        time.sleep(0.05)
    if not os.path.exists(ready):
        raise RuntimeError("mailtls-farm did not start")
    if not (dns_ready(AUTH, "ns.pol.test", 1) and dns_ready(VAL, "mx1.pol.test", 1)):
        raise RuntimeError("unbound did not answer: " + open(os.path.join(d, "val.log")).read()[-2000:])
    end = time.time() + 10
    while not port_open(STS_HOSTS[-1][1], 443):
        if time.time() > end or procs[-2].poll() is not None:
            raise RuntimeError("nginx did not start: " + open(os.path.join(d, "nginx.log")).read()[-2000:])
        time.sleep(0.05)
    return procs, (port, sport), ca


DOMAINS = ["d1.pol.test", "d2.pol.test", "d3.pol.test", "d4.pol.test", "d5.pol.test", "d6.pol.test",
           "d7.pol.test", "d8.pol.test", "d9.pol.test", "nx.pol.test", "p1.plain.test"] + \
    [dom for dom, _, _ in STS_HOSTS if dom != "d1.pol.test"] + ["s11.pol.test", "u1.pol.test"]

def tls_row(mx, usage, selector, mtype, data, dnssec, usable):
    """One dane_records object; data is a format template: {s} leaf SPKI hash, {c} CA hash, {w} WRONG."""
    return dict(mx=mx, usage=usage, selector=selector, mtype=mtype, data=data, data_len=32,
                dnssec=dnssec, usable=usable)


# every policy field of every domain record; None = null
EXPECT = {
    "d1.pol.test": dict(status="resolved", dnssec="secure", mx_dnssec="secure", dane="valid", mta_sts="enforce",
                        mta_sts_id="abc123", mta_sts_error=None, mta_sts_mx=["mx1.pol.test"],
                        mta_sts_max_age=86400, tls_rpt="valid",
                        tls_rpt_rua="mailto:tls@d1.pol.test", policy_breaks_delivery=False, result_types=[],
                        dane_records=[tls_row("mx1.pol.test", 3, 1, 1, "{s}", "secure", True)]),
    "d2.pol.test": dict(status="resolved", dnssec="secure", mx_dnssec="secure", dane="invalid", mta_sts="invalid",
                        mta_sts_id=None, mta_sts_error="v=STSv1 TXT record without a valid id (1-32 letters and "
                        "digits)", tls_rpt="invalid", tls_rpt_rua=None, policy_breaks_delivery=True,
                        result_types=["tlsa-invalid", "sts-policy-invalid"],
                        dane_records=[tls_row("mx2.pol.test", 3, 1, 1, "{w}", "secure", True)]),
    "d3.pol.test": dict(status="resolved", dnssec="secure", mx_dnssec="secure", dane="invalid",
                        mta_sts="invalid", mta_sts_id=None, mta_sts_error="more than one v=STSv1 TXT record",
                        tls_rpt="absent", tls_rpt_rua=None, policy_breaks_delivery=True,
                        result_types=["dnssec-invalid", "sts-policy-invalid"], dane_records=[]),
    "d4.pol.test": dict(status="resolved", dnssec="secure", mx_dnssec="secure", dane="invalid", mta_sts="absent",
                        mta_sts_id=None, mta_sts_error=None, tls_rpt="absent", tls_rpt_rua=None,
                        policy_breaks_delivery=False, result_types=["tlsa-invalid"],
                        dane_records=[tls_row("mx4.pol.test", 0, 0, 1, "{c}", "secure", False)]),
    "d5.pol.test": dict(status="resolved", dnssec="secure", mx_dnssec="secure", dane="valid", mta_sts="absent",
                        mta_sts_id=None, mta_sts_error=None, tls_rpt="absent", tls_rpt_rua=None,
                        policy_breaks_delivery=False, result_types=[],
                        dane_records=[tls_row("mx5.pol.test", 2, 0, 1, "{c}", "secure", True)]),
    "d6.pol.test": dict(status="resolved", dnssec="secure", mx_dnssec="secure", dane="none", mta_sts="absent",
                        mta_sts_id=None, mta_sts_error=None, tls_rpt="absent", tls_rpt_rua=None,
                        policy_breaks_delivery=False, result_types=[], dane_records=[]),
    "d7.pol.test": dict(status="resolved", dnssec="secure", mx_dnssec="insecure", dane="not-secure",
                        mta_sts="absent", mta_sts_id=None, mta_sts_error=None, tls_rpt="absent", tls_rpt_rua=None,
                        policy_breaks_delivery=False, result_types=[],
                        dane_records=[tls_row("mx.plain.test", 3, 1, 1, "{s}", "insecure", True)]),
    "d8.pol.test": dict(status="dns-servfail", dnssec="bogus", mx_dnssec=None, dane=None, mta_sts="absent",
                        mta_sts_id=None, mta_sts_error=None, tls_rpt="absent", tls_rpt_rua=None,
                        policy_breaks_delivery=True, result_types=["dnssec-invalid"], dane_records=None),
    # DANE on mx1 only: a sender requiring DANE for the domain fails on mx6 (RFC 8460 dane-required)
    "d9.pol.test": dict(status="resolved", dnssec="secure", mx_dnssec="secure", dane="valid", mta_sts="absent",
                        policy_breaks_delivery=False, result_types=["dane-required"],
                        dane_records=[tls_row("mx1.pol.test", 3, 1, 1, "{s}", "secure", True)]),
    "nx.pol.test": dict(status="dns-nxdomain", dnssec="secure", mx_dnssec=None, dane=None, mta_sts="absent",
                        mta_sts_id=None, mta_sts_error=None, tls_rpt="absent", tls_rpt_rua=None,
                        policy_breaks_delivery=False, result_types=[], dane_records=None),
    "p1.plain.test": dict(status="resolved", dnssec="insecure", mx_dnssec="insecure", dane="not-secure",
                          mta_sts="absent", mta_sts_id=None, mta_sts_error=None, tls_rpt="absent",
                          tls_rpt_rua=None, policy_breaks_delivery=False, result_types=[],
                          dane_records=[tls_row("mx.plain.test", 3, 1, 1, "{s}", "insecure", True)]),
}


def sts_case(mode=None, error=None, types=(), breaks=False, mx=None, max_age=None, lab=None):
    return dict(status="resolved", dnssec="secure", mx_dnssec="secure", dane="none", mta_sts=mode,
                mta_sts_id=f"{lab}x1", mta_sts_error=error, mta_sts_mx=mx, mta_sts_max_age=max_age,
                tls_rpt="absent", policy_breaks_delivery=breaks, result_types=list(types))


EXPECT.update({
    "s1.pol.test": sts_case("testing", lab="s1", mx=["*.pol.test", "backup.example"], max_age=86400),
    "s2.pol.test": sts_case("none", lab="s2", mx=[], max_age=86400),
    "s3.pol.test": sts_case("enforce", "MX mx6.pol.test matches no policy mx pattern", ["validation-failure"],
                            True, lab="s3", mx=["mail.elsewhere.example"], max_age=86400),
    "s5.pol.test": sts_case("invalid", "HTTP status 301, a redirect (never followed) (only 200 is accepted)",
                            ["sts-policy-fetch-error"], lab="s5"),
    "s6.pol.test": sts_case("invalid", "HTTP status 404 (only 200 is accepted)", ["sts-policy-fetch-error"],
                            lab="s6"),
    "s7.pol.test": sts_case("invalid", "fetch: response over 64 KiB (RFC 8461 3.3 limit)",
                            ["sts-policy-fetch-error"], lab="s7"),
    "s8.pol.test": sts_case("invalid", "Content-Type 'text/html' is not text/plain", ["sts-policy-invalid"],
                            lab="s8"),
    "s9.pol.test": sts_case("invalid", "certificate of mta-sts.s9.pol.test: hostname mismatch",
                            ["sts-webpki-invalid"], lab="s9"),
    "s10.pol.test": sts_case("invalid", "policy line 4: max_age over 31557600", ["sts-policy-invalid"],
                             lab="s10"),
    "s14.pol.test": sts_case("testing", lab="s14", mx=["mx6.pol.test"], max_age=86400),
    "s12.pol.test": sts_case("enforce", "MX mx7.pol.test certificate not valid for its name",
                             ["certificate-host-mismatch"], True, lab="s12", mx=["*.pol.test"], max_age=86400),
    "s13.pol.test": sts_case("testing", "MX mx7.pol.test certificate not valid for its name",
                             ["certificate-host-mismatch"], False, lab="s13", mx=["*.pol.test"], max_age=86400),
    # mx9 has usable TLSA but is blocklisted: no handshake, so DANE and delivery are unknown
    "u1.pol.test": dict(status="resolved", dnssec="secure", mx_dnssec="secure", dane=None, mta_sts="absent",
                        mta_sts_id=None, tls_rpt="absent", policy_breaks_delivery=None, result_types=[],
                        dane_records=[tls_row("mx9.pol.test", 3, 1, 1, "{s}", "secure", True)]),
    "s11.pol.test": dict(sts_case("invalid", "A/AAAA mta-sts.s11.pol.test: no address (secure)",
                                  ["sts-policy-fetch-error"]), mta_sts_id="nohost"),
})

# the probe of each exchanger address: dane_match (None = no DANE check)
PROBES = {
    "127.112.1.1": "3 1 1 depth 0",   # DANE-EE, key matches
    "127.112.1.2": "fail:",           # DANE-EE, wrong hash: no match
    "127.112.1.3": None,              # bogus TLSA: not used
    "127.112.1.4": None,              # PKIX-TA only: unusable for SMTP
    "127.112.1.5": "2 0 1 depth 1",   # DANE-TA: the CA, one above the leaf
    "127.112.1.6": None,              # no TLSA
    "127.112.2.1": None,              # TLSA in an unsigned zone
    "127.112.1.7": None,              # no TLSA; certificate not for mx7 (MTA-STS cases)
}


def scan_and_check(tag, build, d, ports, ca, spki_hash, ca_hash, extra=(), implicit=True):
    """implicit: also scan the farm's implicit-TLS (smtps) port, so implicit_tls is asserted."""
    port, sport = ports
    plist = f"{port}/smtp,{sport}/smtps" if implicit else f"{port}/smtp"
    inp = os.path.join(d, "domains.txt")
    with open(inp, "w") as f:
        f.write("\n".join(DOMAINS) + "\n")
    block = os.path.join(d, "block.txt")
    with open(block, "w") as f:
        f.write("127.112.1.9\n")
    out = os.path.join(d, f"out-{tag}.json")
    cmd = [os.path.join(build, "mailtls-scan"), "-q", "--mx", "--policy", "--resolver", f"{VAL}:{DNS_PORT}",
           "--mta-sts-port", "443",
           "-i", inp, "-o", out, "-p", plist, "--ca-file", ca, "--dns-timeout", "1", "--timeout", "10", "--blocklist", block] + list(extra)
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    print(f"# {tag}: scan took {time.time() - t0:.1f} s")
    check(f"{tag}.exit", r.returncode == 0, f"rc {r.returncode}: {r.stderr[-800:]}")
    if build == ASAN:
        check(f"{tag}.no-sanitizer-report", "Sanitizer" not in r.stderr and "runtime error" not in r.stderr,
              r.stderr[-2000:])
    recs = [json.loads(line) for line in open(out)]
    doms = {x["domain"]: x for x in recs if x["port"] is None}
    check(f"{tag}.one-record-per-domain", sorted(doms) == sorted(DOMAINS) and
          sum(1 for x in recs if x["port"] is None) == len(DOMAINS), sorted(doms))
    fmt = {"s": spki_hash, "c": ca_hash, "w": WRONG}
    for dom, want in EXPECT.items():
        got = doms.get(dom, {})
        for field, value in want.items():
            if field == "dane_records" and value is not None:
                value = [dict(v, data=v["data"].format(**fmt)) for v in value]
            if field == "result_types" and isinstance(got.get(field), list):
                ok = sorted(got[field]) == sorted(value)
            else:
                ok = got.get(field, "<missing>") == value
            check(f"{tag}.{dom}.{field}", ok, f"got {got.get(field, '<missing>')!r}, want {value!r}")
    # implicit_tls: every exchanger address is the farm (smtps on sport); mx9 is blocklisted (no TLS);
    # null without an exchanger address or without an implicit-TLS port in -p
    for dom in DOMAINS:
        got = doms.get(dom, {}).get("implicit_tls", "<missing>")
        has_addr = EXPECT.get(dom, {}).get("status", "resolved") == "resolved"
        want = None if not (implicit and has_addr) else ([] if dom == "u1.pol.test" else [str(sport)])
        check(f"{tag}.{dom}.implicit_tls", got == want, f"got {got!r}, want {want!r}")
    if implicit:
        smtps = [x for x in recs if x["port"] == sport]
        check(f"{tag}.smtps-probes-tls", len(smtps) >= 8 and all(x.get("tls_version") for x in smtps
                                                                   if x["ip"] != "127.112.1.9"),
              repr([(x["ip"], x["status"]) for x in smtps]))
    probes = {x["ip"]: x for x in recs if x["port"] == port}
    for ip, want in PROBES.items():
        p = probes.get(ip, {})
        check(f"{tag}.probe.{ip}.ok", p.get("status") == "ok", f"{p.get('status')} {p.get('error')}")
        got = p.get("dane_match")
        ok = got is None if want is None else isinstance(got, str) and got.startswith(want)
        check(f"{tag}.probe.{ip}.dane_match", ok, f"got {got!r}, want {want!r}")
        # cert_trusted stays the PKIX verdict (the test CA is --ca-file), DANE or not
        check(f"{tag}.probe.{ip}.cert_trusted", p.get("cert_trusted") is True, repr(p.get("cert_trusted")))
    check(f"{tag}.no-policy-fields-on-probes",
          all(x.get("dnssec") is None and x.get("dane") is None for x in probes.values()))
    # mailtls-stats counts the policy fields, against the same expectations
    st = subprocess.run([os.path.join(BUILD, "mailtls-stats"), "--format", "json", out], capture_output=True,
                        text=True, timeout=60)
    rows = {x["metric"]: (x["count"], x["of"]) for x in json.loads(st.stdout).get("policy", [])} \
        if st.returncode == 0 else {}
    n = len(DOMAINS)
    want_rows = {
        "mta_sts_enforce": (sum(e.get("mta_sts") == "enforce" for e in EXPECT.values()), n),
        "mta_sts_invalid": (sum(e.get("mta_sts") == "invalid" for e in EXPECT.values()), n),
        "dane_invalid": (sum(e.get("dane") == "invalid" for e in EXPECT.values()), n),
        "dane_valid": (sum(e.get("dane") == "valid" for e in EXPECT.values()), n),
        "policy_breaks_delivery": (sum(e.get("policy_breaks_delivery") is True for e in EXPECT.values()), n),
        "probes_dane_matched": (sum(1 for w in PROBES.values() if w and w != "fail:"),
                                sum(1 for w in PROBES.values() if w)),
    }
    for metric, want in want_rows.items():
        check(f"{tag}.stats.{metric}", rows.get(metric) == want, f"got {rows.get(metric)}, want {want}")


def main():
    for tool in ("unbound", "ldns-keygen", "ldns-signzone", "openssl"):
        if not shutil.which(tool):
            print(f"FAIL setup: {tool} missing (tools/setup-debian.sh)")
            print("0 passed, 1 failed")
            return 1
    d = tempfile.mkdtemp(prefix="mailtls-policy-")
    procs = []
    try:
        procs, port, ca = start_all(d)
        leaf = os.path.join(d, "leaf.pem")
        spki_hash = hashlib.sha256(der_of(leaf, spki=True)).hexdigest()
        ca_hash = hashlib.sha256(der_of(ca)).hexdigest()
        scan_and_check("plain", BUILD, d, port, ca, spki_hash, ca_hash)
        # two engines: probes end in either loop, the resolver lives in engine 0 (workers.c)
        scan_and_check("threads", BUILD, d, port, ca, spki_hash, ca_hash, ["--threads", "2"], implicit=False)
        if ASAN:
            scan_and_check("asan", ASAN, d, port, ca, spki_hash, ca_hash)
        # --policy without --mx is refused
        r = subprocess.run([os.path.join(BUILD, "mailtls-scan"), "--policy", "--resolver", f"{VAL}:{DNS_PORT}",
                            "127.0.0.1"], capture_output=True, text=True, timeout=30)
        check("policy-needs-mx", r.returncode == 2 and "--policy needs --mx" in r.stderr,
              f"rc {r.returncode} {r.stderr[-300:]}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if os.environ.get("MAILTLS_KEEP"):
            print(f"# kept {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
